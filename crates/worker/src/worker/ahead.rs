//! Reserving ahead (`PREFETCH`): a slot that takes its next jobs with the one it runs, so
//! jobs shorter than a round trip to Redis run several to a round trip.
//!
//! The reserve script moves the held jobs from their queues to the slot's held list
//! (`resque-rs:held:<id>`) in the same step as the pop ([`resque_store::ReserveSection::hold`]).
//! The slot runs them one after another without asking Redis, while each one succeeds; the
//! next call counts them with the last one and takes them out of the list. A failure, a
//! pause or a stop sends the bookkeeping at once; jobs it will not run go back to the head
//! of their queues ([`resque_store::Store::return_held`]), as the reaper puts back those of a
//! worker that died.
//!
//! How many to hold is measured, not only configured: as many as run in one round trip
//! (the call's time over the jobs' mean run time, both moving averages), at most
//! `PREFETCH`. A slot whose jobs take longer than a round trip holds none, so a job waits
//! behind others only as long as a round trip would have taken.

use std::collections::VecDeque;
use std::time::Duration;

use resque_store::{Held, ReserveSection};

use super::bookkeeping::Pending;

/// Reserving ahead's state for one slot.
#[derive(Debug, Default)]
pub(super) struct Ahead {
    /// `PREFETCH`: the most to hold (0: never, and the held list is not read).
    max: u32,
    /// The held list as Redis has it, less the jobs already run from it (`ran`).
    held: VecDeque<Held>,
    /// Jobs taken from the held list that ran, all done, before the pending one, not yet
    /// counted in Redis.
    ran: u32,
    /// Mean round trip of a reserve call, in microseconds (a moving average).
    trip_us: f64,
    /// Mean run time of a job, in microseconds (a moving average).
    job_us: f64,
}

/// The weight of each new measure in the moving averages.
const WEIGHT: f64 = 0.2;

fn average(mean: &mut f64, took: Duration) {
    let x = took.as_secs_f64() * 1e6;
    *mean = if *mean == 0.0 {
        x
    } else {
        *mean + WEIGHT * (x - *mean)
    };
}

impl Ahead {
    pub(super) fn new(max: u32) -> Self {
        Self {
            max,
            ..Self::default()
        }
    }

    /// Whether this slot reserves ahead at all.
    pub(super) fn on(&self) -> bool {
        self.max > 0
    }

    /// Whether jobs are held that this slot has not run.
    pub(super) fn holding(&self) -> bool {
        !self.held.is_empty()
    }

    /// How many to hold after the next call: those that run in one round trip, at most
    /// `PREFETCH`; none before anything was measured, and none when a job takes longer
    /// than a round trip (a job held behind it would wait longer than a call takes).
    fn want(&self) -> u32 {
        if self.trip_us == 0.0 {
            return 0;
        }
        if self.job_us < 1.0 {
            return self.max;
        }
        let fit = (self.trip_us / self.job_us).floor();
        // `fit` is positive and finite here; the cast saturates past u32::MAX.
        (fit as u32).min(self.max)
    }

    /// Marks `section` as this slot's (the held jobs it ran, how many to hold if it
    /// reserves), when the slot reserves ahead.
    pub(super) fn mark(&self, section: &mut ReserveSection, reserving: bool) {
        if self.on() {
            section.hold(self.ran, if reserving { self.want() } else { 0 });
        }
    }

    /// The next held job to run without a call: only while the last job (`pending`)
    /// succeeded, whose bookkeeping then goes with the next call's count.
    pub(super) fn next(&mut self, pending: &mut Option<Pending>) -> Option<Held> {
        let p = pending.as_ref()?;
        if p.record.is_some() || p.count_failed || self.held.is_empty() {
            return None;
        }
        let job = self.held.pop_front()?;
        *pending = None;
        self.ran += 1;
        Some(job)
    }

    /// A call that counted the jobs run ahead was answered, with `held` the held list as
    /// it now stands (a reservation), or leaving it as it was (bookkeeping alone).
    pub(super) fn answered(&mut self, held: Option<Vec<Held>>) {
        self.ran = 0;
        if let Some(held) = held {
            self.held = held.into();
        }
    }

    /// The held jobs were put back in their queues.
    pub(super) fn given_back(&mut self) {
        self.held.clear();
    }

    /// A reserve call took `took`.
    pub(super) fn trip(&mut self, took: Duration) {
        average(&mut self.trip_us, took);
    }

    /// A job ran for `took`.
    pub(super) fn job(&mut self, took: Duration) {
        average(&mut self.job_us, took);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn done() -> Option<Pending> {
        Some(Pending {
            record: None,
            count_failed: false,
            registered: true,
            history: false,
        })
    }

    fn held(n: usize) -> Vec<Held> {
        (0..n)
            .map(|i| Held {
                queue: "q".into(),
                raw: format!("{{\"class\":\"J\",\"args\":[{i}]}}"),
            })
            .collect()
    }

    #[test]
    fn holds_what_runs_in_a_round_trip_at_most_prefetch() {
        let mut a = Ahead::new(30);
        assert_eq!(a.want(), 0, "nothing measured yet: hold none");
        a.trip(Duration::from_micros(1000));
        a.job(Duration::from_micros(100));
        assert_eq!(a.want(), 10);
        a.job(Duration::from_secs(1));
        assert_eq!(a.want(), 0, "jobs longer than a round trip: none");
        let mut fast = Ahead::new(30);
        fast.trip(Duration::from_micros(1000));
        fast.job(Duration::ZERO);
        assert_eq!(fast.want(), 30, "no-op jobs: PREFETCH");
    }

    #[test]
    fn runs_held_jobs_only_after_a_success() {
        let mut a = Ahead::new(5);
        a.answered(Some(held(3)));
        let mut pending = done();
        let first = a.next(&mut pending).expect("a held job");
        assert!(first.raw.contains("[0]"));
        assert!(
            pending.is_none(),
            "its predecessor's bookkeeping is folded in"
        );
        assert_eq!(a.ran, 1);
        assert!(a.next(&mut pending).is_none(), "no finished job: ask Redis");
        pending = Some(Pending {
            record: None,
            count_failed: true,
            registered: true,
            history: false,
        });
        assert!(
            a.next(&mut pending).is_none(),
            "a failure goes to Redis at once"
        );
        assert!(pending.is_some());
        a.answered(None);
        assert_eq!(a.ran, 0);
        assert!(a.holding(), "bookkeeping alone leaves the rest held");
        a.given_back();
        assert!(!a.holding());
    }
}
