//! Taking the next job: a held one (reserving ahead), else the reserve script (the last
//! job's bookkeeping, the pause check, the pops and `SET worker:<id>` in one call), else
//! Ruby's separate commands; and the script's call token.

use std::time::Instant;

use jiff::Timestamp;
use resque_protocol::time;

use super::bookkeeping::{Pending, Taken};
use resque_store::ReserveSection;

use super::{Error, Run, ahead, block_on, tally};

/// `section` with what this worker adds to a reserve call: the job metrics due (all of them
/// when `alone`, a call that reserves nothing) and, reserving ahead, the held jobs it ran
/// and how many to hold.
pub(super) fn extras(
    tally: &mut tally::Tally,
    ahead: &ahead::Ahead,
    section: resque_store::Result<ReserveSection>,
    alone: bool,
) -> resque_store::Result<ReserveSection> {
    tally.attach(section, alone).map(|mut s| {
        ahead.mark(&mut s, !alone);
        s
    })
}

impl Run<'_> {
    /// Takes the next job, sending the last job's bookkeeping first: nothing while paused
    /// (USR2 or `pause-all-workers`), else `LPOP` the queues in order (re-resolving dynamic
    /// lists first). With scripts (the default) the bookkeeping, the pause check, the pops
    /// and `SET worker:<id>` are one [`Store::finish_and_reserve`] call.
    pub(super) fn reserve(&mut self) -> Result<Option<(String, String, Option<Taken>)>, Error> {
        if self.flags.paused {
            self.flush_pending()?;
            self.give_back_held()?;
            return Ok(None);
        }
        // A job reserved ahead runs at once, its predecessor's bookkeeping kept for the next
        // call (which counts them together).
        if let Some(job) = self.ahead.next(&mut self.pending) {
            return Ok(Some((job.queue, job.raw, Some(Taken::Held))));
        }
        if self.use_script {
            match self.reserve_scripted() {
                Err(Error::Store(resque_store::Error::ScriptUnavailable(why))) => {
                    if self.cfg.reliable {
                        return Err(Error::ReliableNeedsScripts(why));
                    }
                    tracing::warn!(
                        reason = %why,
                        "Redis will not run the reserve script; using separate commands"
                    );
                    self.use_script = false;
                    if self.ahead.on() {
                        // Only the script holds jobs ahead; any it holds already go back to
                        // their queues when this worker unregisters.
                        tracing::warn!(
                            "reserving ahead (PREFETCH) needs the reserve script; taking one job at a time"
                        );
                        self.ahead = ahead::Ahead::new(0);
                    }
                }
                other => return other,
            }
        }
        self.flush_pending()?;
        let spec = &self.cfg.queues;
        let hint = self.pause_hint.take();
        Ok(block_on(self.rt, || async {
            let paused = match hint {
                Some(p) => p,
                None => self.store.pause_all_requested().await?,
            };
            if paused {
                return Ok(None);
            }
            let queues = if spec.is_dynamic() {
                spec.resolve(&self.store.queue_names().await?)
            } else {
                spec.resolve(&[])
            };
            self.store.pop_first(&queues).await
        })?
        .map(|(q, raw)| (q, raw, None)))
    }

    /// The queues this worker takes jobs from now, in order (a dynamic list read afresh).
    pub(super) fn queues_now(&mut self) -> Result<Vec<String>, Error> {
        let spec = &self.cfg.queues;
        if spec.is_dynamic() {
            let names = block_on(self.rt, || self.store.queue_names())?;
            return Ok(spec.resolve(&names));
        }
        Ok(spec.resolve(&[]))
    }

    fn reserve_scripted(&mut self) -> Result<Option<(String, String, Option<Taken>)>, Error> {
        let spec = &self.cfg.queues;
        let dynamic;
        let queues: &[String] = if spec.is_dynamic() {
            let names = block_on(self.rt, || self.store.queue_names())?;
            dynamic = spec.resolve(&names);
            &dynamic
        } else {
            if self.static_queues.is_none() {
                self.static_queues = Some(spec.resolve(&[]));
            }
            self.static_queues.as_deref().unwrap_or_default()
        };
        let at = Timestamp::now();
        let run_at = time::run_at(at);
        let pending = self.pending.take();
        let finished = pending.as_ref().map(Pending::finished);
        let id = self.id.as_str();
        let token = self.token.next();
        let reserve = Some((queues, run_at.as_str()));
        let reliable = self.cfg.reliable;
        let section = extras(
            &mut self.tally,
            &self.ahead,
            self.store
                .reserve_section(id, finished, reserve, token, reliable),
            false,
        );
        let sent = Instant::now();
        let reply = match self.batch {
            Some((batch, mailbox)) => section.and_then(|section| batch.call(mailbox, section)),
            None => {
                section.and_then(|section| block_on(self.rt, || self.store.send_section(&section)))
            }
        }
        .and_then(|reply| self.store.read_reserved(id, reserve, reply));
        self.ahead.trip(sent.elapsed());
        self.tally.settle(&reply);
        let reserved = match reply {
            Ok(r) => r,
            Err(e) => {
                if e.can_resend() {
                    // We cannot tell whether it ran: send the same call again, under the same
                    // token, so that if it did run, its reply (the job it took) comes back
                    // instead of a second job being taken and the bookkeeping counted twice.
                    self.pending = pending;
                    self.token.keep();
                } else if matches!(e, resque_store::Error::ScriptUnavailable(_)) {
                    // Nothing was done (the script was refused): the separate commands
                    // send the bookkeeping.
                    self.pending = pending;
                } else if pending.is_some() {
                    // Redis ran part of it and refused a command (say, a stats key of the
                    // wrong type): sending it again would repeat what did run.
                    tracing::error!(error = %e, "the job's end was recorded only in part");
                    self.ahead.answered(None);
                }
                return Err(e.into());
            }
        };
        Ok(match reserved {
            resque_store::Reserved::Paused => {
                self.ahead.answered(None);
                // Held jobs are not run while paused: back to their queues.
                self.give_back_held()?;
                None
            }
            resque_store::Reserved::Empty => {
                self.ahead.answered(None);
                None
            }
            resque_store::Reserved::Failed(msg) => {
                self.ahead.answered(None);
                return Err(Error::Reserve(msg));
            }
            resque_store::Reserved::Job {
                queue,
                raw,
                written,
                held,
            } => {
                self.ahead.answered(Some(held));
                Some((
                    queue,
                    raw,
                    Some(Taken::Popped {
                        at,
                        run_at,
                        written,
                    }),
                ))
            }
        })
    }
}

/// The reserve script's call token: this run's start time and a sequence number. Each new
/// call gets the next one; a call whose reply was lost is sent again with the same one, and
/// the script answers it from its record of the first run (see `Store::finish_and_reserve`).
/// One buffer, rewritten in place: no allocation a job.
#[derive(Debug)]
pub(super) struct Token {
    base: i128,
    seq: u64,
    text: String,
    /// The last call's outcome is unknown: send the same token again.
    again: bool,
}

impl Token {
    pub(super) fn new() -> Self {
        Self {
            base: Timestamp::now().as_nanosecond(),
            seq: 0,
            text: String::with_capacity(48),
            again: false,
        }
    }

    /// The token for the call about to be made.
    pub(super) fn next(&mut self) -> &str {
        if !std::mem::take(&mut self.again) {
            use std::fmt::Write;
            self.seq += 1;
            self.text.clear();
            let _ = write!(self.text, "{}:{}", self.base, self.seq);
        }
        &self.text
    }

    /// Whether the last call's outcome is unknown (its retry is still to be sent).
    pub(super) fn unresolved(&self) -> bool {
        self.again
    }

    /// The call just made may or may not have run: its retry uses the same token.
    pub(super) fn keep(&mut self) {
        self.again = true;
    }
}
