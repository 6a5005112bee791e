//! resque-retry for a finished job of a class with a [`RetryPolicy`]: the counter's `DEL`
//! after a success, the whole retry step after a failure (`Store::retry_failed`, one
//! script), and whether the failure's record is suppressed while its retry is pending
//! (`FAILURE_BACKEND=multiple_with_retry_suppression`). A class without a policy costs
//! nothing here.

use std::hash::{BuildHasher, Hasher};

use resque_protocol::payload::field;
use resque_protocol::{DelayedItem, Failure, Payload, Value, retry, time};
use resque_store::{RetryDecision, RetryFailure, RetryPolicy};

use super::outcome::Outcome;
use super::{Run, block_on};

/// A number in 0..1 for the delay's jitter (no generator of our own: the standard
/// library's random hasher keys are enough for spreading retries).
fn random_factor() -> f64 {
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(0);
    (h.finish() >> 11) as f64 / (1u64 << 53) as f64
}

/// A failed attempt of a retrying class, as the retry step needs it.
#[derive(Clone, Copy)]
struct Step<'a> {
    queue: &'a str,
    class: &'a str,
    /// The retry's arguments (`retry_args`, else the job's).
    args: &'a [Value],
    exception: &'a str,
    /// The exception, or the class's criteria check, allows a retry.
    allowed: bool,
    counter: &'a str,
    id: Option<&'a str>,
}

impl Run<'_> {
    /// The retry step for a job that came from `queue` (see the module docs). Returns
    /// whether its failure record must not be written now (a pending retry under the
    /// suppressing backend).
    pub(super) fn retry_step(
        &self,
        queue: &str,
        payload: &Value,
        outcome: &Outcome,
        record: Option<&Failure>,
    ) -> bool {
        let Some(class) = field(payload, "class").and_then(Value::as_str) else {
            return false;
        };
        // `--retry` (jobs in any language, or a setting over the code's), else the job
        // type's own.
        let Some(policy) = self
            .cfg
            .retry_policy_for(class)
            .or_else(|| self.registry.retry_policy(class))
        else {
            return false;
        };
        let args: Vec<Value> = match field(payload, "args") {
            Some(Value::Array(a)) => a.clone(),
            _ => Vec::new(),
        };
        let hooks = self.registry.retry_hooks(class);
        let id = hooks
            .and_then(|h| h.identifier(&args))
            .or_else(|| retry::identifier(&args, policy.hash_style()));
        let counter = self.store.keys().retry_counter(class, id.as_deref());
        let (exception, error) = match outcome {
            Outcome::Done => {
                if let Err(e) = block_on(self.rt, || self.store.retry_succeeded(&counter)) {
                    tracing::warn!(error = %e, class, "could not delete the retry counter");
                }
                return false;
            }
            Outcome::Failed {
                exception, error, ..
            } => (exception.as_str(), error.as_str()),
        };
        let allowed = policy.retries_on(exception)
            || hooks.is_some_and(|h| h.criteria(exception, error, &args));
        let retry_args = hooks
            .and_then(|h| h.retry_args(&args))
            .unwrap_or_else(|| args.clone());
        let step = Step {
            queue,
            class,
            args: &retry_args,
            exception,
            allowed,
            counter: &counter,
            id: id.as_deref(),
        };
        match self.retry_failed(&step, &policy, record) {
            Ok(decision) => {
                match decision {
                    RetryDecision::RetriedNow { attempt } => {
                        tracing::info!(class, attempt, "retrying at once")
                    }
                    RetryDecision::RetriedAt { attempt, at } => {
                        tracing::info!(class, attempt, at, "retrying later")
                    }
                    RetryDecision::GaveUp { attempt } => {
                        tracing::info!(class, attempt, "giving up")
                    }
                }
                // resque-retry's callbacks, once the step is written.
                if let Some(h) = hooks {
                    if decision.retrying() {
                        h.try_again(exception, &args);
                    } else {
                        h.give_up(exception, &args);
                    }
                }
                decision.retrying() && self.backend.suppresses_retries()
            }
            Err(e) => {
                // No retry was written: the failure is recorded as any other.
                tracing::warn!(error = %e, class, "the retry step failed; recording the failure");
                false
            }
        }
    }

    fn retry_failed(
        &self,
        step: &Step<'_>,
        policy: &RetryPolicy,
        record: Option<&Failure>,
    ) -> resque_store::Result<RetryDecision> {
        let Step {
            queue,
            class,
            args,
            exception,
            allowed,
            counter,
            id,
        } = *step;
        let retry_class = policy.delegate_class().unwrap_or(class);
        let retry_queue = policy
            .retry_queue()
            .or_else(|| self.registry.queue_of(class))
            .unwrap_or(queue);
        let delays = policy.delays_for(exception, random_factor());
        let payload = Payload::new(retry_class, args.to_vec()).encode()?;
        let item = DelayedItem::new(retry_queue, retry_class, args.to_vec()).encode()?;
        // resque-retry's suppressed record: no zone in failed_at, the whole backtrace.
        let suppressed = match (self.backend.suppresses_retries(), record) {
            (true, Some(r)) => {
                let mut r = r.clone();
                r.failed_at = time::retried_at_without_zone(&time::now());
                Some(r.encode()?)
            }
            _ => None,
        };
        let failure_key = self.store.keys().retry_failure(class, id);
        let ttl = policy.counter_ttl(&delays).as_secs();
        let f = RetryFailure {
            counter,
            failure_key: &failure_key,
            limit: policy.retry_limit(),
            ignored: policy.ignores(exception),
            allowed,
            delays: &delays,
            ttl,
            queue: retry_queue,
            payload: &payload,
            item: &item,
            delegate: policy.delegate_class().is_some(),
            suppressed_record: suppressed.as_deref(),
        };
        block_on(self.rt, || self.store.retry_failed(&f))
    }
}
