//! The per-class job metrics a worker adds up in memory and sends every few seconds with
//! one of its bookkeeping calls, instead of ten hash increments a job in Redis (Sidekiq's
//! way with its own metrics; ARCHITECTURE.md, "Job metrics in the bookkeeping").
//!
//! Sums handed to a call stay frozen until its outcome is known: a call whose reply was
//! lost is sent again under the same token with the same sums, so Redis, which answers a
//! resent call from its record, adds them exactly once.

use std::time::{Duration, Instant};

use jiff::Timestamp;
use resque_protocol::metrics::Sums;
use resque_store::ReserveSection;

/// How often the sums go out while jobs keep coming (they also go when the worker finds
/// its queues empty, pauses or stops).
pub(super) const SEND_EVERY: Duration = Duration::from_secs(5);

/// See the module docs.
#[derive(Debug)]
pub(super) struct Tally {
    /// Runs not yet handed to a call.
    adding: Sums,
    /// Runs handed to a call whose outcome is not known yet.
    sending: Option<Sums>,
    /// When sums were last handed to a call.
    last: Instant,
    /// The clock's time and the wall clock's, read together at every [`Tally::due`] (once
    /// a call): a run's minute is found from the `Instant` its end was read at, with no
    /// wall-clock read a job. A step of the wall clock counts from the next call on.
    anchor: (Instant, Timestamp),
}

impl Tally {
    pub(super) fn new() -> Self {
        Self {
            adding: Sums::default(),
            sending: None,
            last: Instant::now(),
            anchor: (Instant::now(), Timestamp::now()),
        }
    }

    /// One run, which ended at `ended`.
    pub(super) fn add(
        &mut self,
        queue: &str,
        class: &str,
        millis: u64,
        failed: bool,
        ended: Instant,
    ) {
        let (then, wall) = self.anchor;
        let at = wall
            .checked_add(ended.saturating_duration_since(then))
            .unwrap_or(wall);
        self.adding.add(at, queue, class, millis, failed);
    }

    /// The sums to send with the call about to be made: those of a call whose outcome is
    /// unknown (it is being sent again), else, every [`SEND_EVERY`] or with `now`, the runs
    /// added so far. Settle the call's outcome with [`Tally::settle`].
    pub(super) fn due(&mut self, now: bool) -> Option<&Sums> {
        self.anchor = (Instant::now(), Timestamp::now());
        if self.sending.is_none()
            && !self.adding.is_empty()
            && (now || self.last.elapsed() >= SEND_EVERY)
        {
            self.sending = Some(std::mem::take(&mut self.adding));
            self.last = Instant::now();
        }
        self.sending.as_ref()
    }

    /// `section` with the sums [`Tally::due`] added.
    pub(super) fn attach(
        &mut self,
        section: resque_store::Result<ReserveSection>,
        now: bool,
    ) -> resque_store::Result<ReserveSection> {
        section.map(|mut section| {
            if let Some(sums) = self.due(now) {
                section.add_sums(sums);
            }
            section
        })
    }

    /// The outcome of the call that carried [`Tally::due`]'s sums.
    pub(super) fn settle<T>(&mut self, result: &Result<T, resque_store::Error>) {
        match result {
            // Answered: the sums were added (now, or by the first run of a resent call).
            Ok(_) => self.sending = None,
            // Unknown: sent again as they are, under the same token.
            Err(e) if e.can_resend() => {}
            // Nothing ran: they go with a later call.
            Err(resque_store::Error::ScriptUnavailable(_)) => {
                if let Some(s) = self.sending.take() {
                    self.adding.merge(s);
                }
            }
            // Redis ran part of the call and refused a command: sending them again could
            // add them twice (as the bookkeeping, which is not sent again either).
            Err(_) => {
                if let Some(s) = self.sending.take() {
                    tracing::warn!(runs = s.runs(), "job metrics lost with a refused call");
                }
            }
        }
    }

    /// Whether runs are waiting to be sent.
    pub(super) fn waiting(&self) -> bool {
        self.sending.is_some() || !self.adding.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An outcome that is not known (`can_resend`): nothing was written, or maybe all was.
    fn unknown() -> resque_store::Error {
        resque_store::Error::WritesRefused("READONLY".into())
    }

    #[test]
    fn sums_wait_their_turn_and_a_resent_call_carries_the_same_ones() {
        let mut t = Tally::new();
        assert!(t.due(true).is_none(), "nothing to send");
        t.add("q", "A", 3, false, Instant::now());
        assert!(t.due(false).is_none(), "not due yet");
        assert!(t.waiting());
        let first = t.due(true).cloned().expect("sent when asked");
        assert_eq!(first.runs(), 1);
        // Its reply was lost: the next call carries the same sums, not the new run too.
        t.settle::<()>(&Err(unknown()));
        t.add("q", "A", 4, true, Instant::now());
        assert_eq!(t.due(true), Some(&first));
        t.settle(&Ok(()));
        assert_eq!(t.due(true).map(Sums::runs), Some(1), "the later run");
        // Refused before anything ran: they wait for a later call.
        t.settle::<()>(&Err(resque_store::Error::ScriptUnavailable("no".into())));
        assert!(t.waiting());
        assert_eq!(t.due(true).map(Sums::runs), Some(1));
        t.settle(&Ok(()));
        assert!(!t.waiting());
    }

    #[test]
    fn sums_go_every_few_seconds() {
        let mut t = Tally::new();
        t.last = Instant::now() - SEND_EVERY;
        t.add("q", "A", 1, false, Instant::now());
        assert!(t.due(false).is_some(), "due");
    }

    #[test]
    fn a_runs_minute_comes_from_its_end_and_the_calls_wall_clock()
    -> Result<(), Box<dyn std::error::Error>> {
        let mut t = Tally::new();
        let then = Instant::now();
        // The last call read 00:10:00 UTC; a run that ended 125 s later is in 00:12.
        t.anchor = (then, Timestamp::from_second(600)?);
        t.add("q", "A", 1, false, then + Duration::from_secs(125));
        let writes = t.adding.writes(&resque_protocol::Keys::new("resque")?);
        let minute = resque_protocol::metrics::minute(Timestamp::from_second(720)?);
        assert_eq!(minute, "197001010012");
        assert!(
            writes.expiries.iter().any(|(k, _)| k.ends_with(&minute)),
            "{minute}: {writes:?}"
        );
        Ok(())
    }
}
