//! resque-retry's settings for a job class ([`RetryPolicy`], returned by
//! [`Job::retry_policy`](super::Job::retry_policy)), and the decisions they make.
//!
//! The names and defaults are resque-retry 1.8's (RETRY.md): a retry limit (`1`; `0` never
//! retries, negative forever), a delay (fixed, per attempt as `ExponentialBackoff`'s
//! `backoff_strategy`, or per exception class as a Hash `@retry_exceptions`), a random
//! multiplicand for jitter, retry / fatal / ignore exception lists, `expire_retry_key_after`,
//! a retry queue and a delegate class. An "exception class" is the failure record's
//! exception name (what `JobError` carries); names match exactly, as there is no class
//! hierarchy to walk.
//!
//! The attempt counter is resque-retry's key, so a Ruby job and a Rust job of one class share
//! it. Unlike resque-retry, the counter always gets a TTL (the longest delay twice, plus a
//! day, unless `expire_retry_key_after` says otherwise), so a counter whose job vanished
//! (removed from the delayed queue, a worker killed) does not stay forever.

use std::time::Duration;

use resque_protocol::retry::HashStyle;

/// How long a counter outlives the longest delay when no `expire_retry_key_after` is set.
const COUNTER_MARGIN: Duration = Duration::from_secs(86_400);

/// A class's resque-retry settings. Build with [`RetryPolicy::limit`] and the methods after.
///
/// ```
/// use resque_store::job::RetryPolicy;
/// // ExponentialBackoff's defaults: six retries, at 0 s, 1 min, 10 min, 1 h, 3 h, 6 h.
/// let backoff = RetryPolicy::exponential_backoff();
/// // Three retries, a minute apart, only for timeouts; never for a bad request.
/// let policy = RetryPolicy::limit(3)
///     .delay(60.0)
///     .retry_exceptions(["Net::ReadTimeout"])
///     .fatal_exceptions(["BadRequest"]);
/// # let _ = (backoff, policy);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    pub(crate) limit: i64,
    /// Seconds before the retry, by attempt (the last one repeating); one entry is a fixed
    /// delay.
    pub(crate) delays: Vec<f64>,
    /// Per exception class: its own delays (a Hash `@retry_exceptions`).
    pub(crate) delays_by_exception: Vec<(String, Vec<f64>)>,
    /// `retry_delay_multiplicand_min` / `_max`.
    pub(crate) jitter: (f64, f64),
    /// `None`: every exception retries.
    pub(crate) retry_exceptions: Option<Vec<String>>,
    pub(crate) fatal_exceptions: Vec<String>,
    pub(crate) ignore_exceptions: Vec<String>,
    pub(crate) expire_after: Option<Duration>,
    pub(crate) queue: Option<String>,
    pub(crate) delegate: Option<String>,
    pub(crate) hash_style: HashStyle,
}

impl Default for RetryPolicy {
    /// resque-retry's defaults: one retry, at once, for every exception.
    fn default() -> Self {
        Self {
            limit: 1,
            delays: vec![0.0],
            delays_by_exception: Vec::new(),
            jitter: (1.0, 1.0),
            retry_exceptions: None,
            fatal_exceptions: Vec::new(),
            ignore_exceptions: Vec::new(),
            expire_after: None,
            queue: None,
            delegate: None,
            hash_style: HashStyle::default(),
        }
    }
}

fn names<I, S>(list: I) -> Vec<String>
where
    I: IntoIterator<Item = S>,
    S: Into<String>,
{
    list.into_iter().map(Into::into).collect()
}

impl RetryPolicy {
    /// `@retry_limit`: retries allowed (`0` never, negative forever).
    pub fn limit(limit: i64) -> Self {
        Self {
            limit,
            ..Self::default()
        }
    }

    /// `Resque::Plugins::ExponentialBackoff`: `backoff_strategy` `[0, 60, 600, 3600, 10800,
    /// 21600]`, so six retries.
    pub fn exponential_backoff() -> Self {
        Self::limit(6).backoff([0.0, 60.0, 600.0, 3_600.0, 10_800.0, 21_600.0])
    }

    /// `@retry_delay`: seconds before each retry (`<= 0` retries at once, through the queue;
    /// more goes through the delayed queue, so a scheduler must run).
    pub fn delay(mut self, seconds: f64) -> Self {
        self.delays = vec![seconds];
        self
    }

    /// `@backoff_strategy`: the delay of each attempt, the last one repeating. Sets the
    /// limit to its length, as ExponentialBackoff does (call [`RetryPolicy::with_limit`]
    /// after to change it).
    pub fn backoff(mut self, delays: impl IntoIterator<Item = f64>) -> Self {
        self.delays = delays.into_iter().collect();
        if self.delays.is_empty() {
            self.delays.push(0.0);
        }
        self.limit = self.delays.len() as i64;
        self
    }

    /// Changes the limit.
    pub fn with_limit(mut self, limit: i64) -> Self {
        self.limit = limit;
        self
    }

    /// `retry_delay_multiplicand_min` / `_max`: each delay times a random factor in that
    /// range (jitter).
    pub fn jitter(mut self, min: f64, max: f64) -> Self {
        self.jitter = (min.min(max), min.max(max));
        self
    }

    /// `@retry_exceptions` as an Array: only these exception classes retry (a criteria
    /// check aside).
    pub fn retry_exceptions<I, S>(mut self, list: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.retry_exceptions = Some(names(list));
        self
    }

    /// `@retry_exceptions` as a Hash: the exception class, with its delays by attempt (the
    /// last repeating). Each call adds one; the limit becomes the longest list's length, as
    /// resque-retry's default for a Hash.
    pub fn retry_exception_with_delays(
        mut self,
        exception: impl Into<String>,
        delays: impl IntoIterator<Item = f64>,
    ) -> Self {
        let exception = exception.into();
        let mut d: Vec<f64> = delays.into_iter().collect();
        if d.is_empty() {
            d.push(0.0);
        }
        self.retry_exceptions
            .get_or_insert_with(Vec::new)
            .push(exception.clone());
        self.delays_by_exception.push((exception, d));
        self.limit = self
            .delays_by_exception
            .iter()
            .map(|(_, d)| d.len() as i64)
            .max()
            .unwrap_or(1);
        self
    }

    /// `@fatal_exceptions`: these never retry.
    pub fn fatal_exceptions<I, S>(mut self, list: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.fatal_exceptions = names(list);
        self
    }

    /// `@ignore_exceptions`: an attempt ending in one of these does not count.
    pub fn ignore_exceptions<I, S>(mut self, list: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.ignore_exceptions = names(list);
        self
    }

    /// `@expire_retry_key_after`: the counter expires this long after the retry's delay.
    pub fn expire_retry_key_after(mut self, after: Duration) -> Self {
        self.expire_after = Some(after);
        self
    }

    /// `retry_queue`: where retries go (default: the class's own queue, as Ruby's
    /// `queue_from_class`, not the queue the job came from).
    pub fn queue(mut self, queue: impl Into<String>) -> Self {
        self.queue = Some(queue.into());
        self
    }

    /// `@retry_job_delegate`: retries run as this class (the counter is deleted at once).
    pub fn delegate(mut self, class: impl Into<String>) -> Self {
        self.delegate = Some(class.into());
        self
    }

    /// Ruby 3.4's `Hash#inspect` in the counter's identifier (default: Ruby 3.3's), to share
    /// counters of jobs with hash arguments with Ruby 3.4 workers.
    pub fn ruby_34_identifiers(mut self) -> Self {
        self.hash_style = HashStyle::Ruby34;
        self
    }

    /// The identifier form.
    pub fn hash_style(&self) -> HashStyle {
        self.hash_style
    }

    /// The retry limit.
    pub fn retry_limit(&self) -> i64 {
        self.limit
    }

    /// Where retries go, if not the class's queue.
    pub fn retry_queue(&self) -> Option<&str> {
        self.queue.as_deref()
    }

    /// The delegate class, if any.
    pub fn delegate_class(&self) -> Option<&str> {
        self.delegate.as_deref()
    }

    /// Whether an attempt ending in `exception` does not count (`ignore_exceptions`).
    pub fn ignores(&self, exception: &str) -> bool {
        self.ignore_exceptions.iter().any(|e| e == exception)
    }

    /// resque-retry's `retry_exception?`: not fatal, and in `retry_exceptions` when that is
    /// set.
    pub fn retries_on(&self, exception: &str) -> bool {
        if self.fatal_exceptions.iter().any(|e| e == exception) {
            return false;
        }
        match &self.retry_exceptions {
            None => true,
            Some(list) => list.iter().any(|e| e == exception),
        }
    }

    /// The delays (by attempt, the last repeating) for a failure with `exception`, with the
    /// jitter applied (`factor` in 0..1 picks within the range; Ruby's `rand(min..max)`).
    pub fn delays_for(&self, exception: &str, factor: f64) -> Vec<f64> {
        let base = self
            .delays_by_exception
            .iter()
            .find(|(e, _)| e == exception)
            .map(|(_, d)| d.clone())
            .unwrap_or_else(|| self.delays.clone());
        let (min, max) = self.jitter;
        let m = if (max - min).abs() < f64::EPSILON {
            min
        } else {
            min + (max - min) * factor.clamp(0.0, 1.0)
        };
        // Ruby's `.to_i` of the product.
        base.iter().map(|d| (d * m).trunc()).collect()
    }

    /// The counter's TTL for a failure with these delays: `expire_retry_key_after` past the
    /// longest delay, else (ours) twice the longest delay plus a day.
    pub fn counter_ttl(&self, delays: &[f64]) -> Duration {
        let longest = delays.iter().copied().fold(0.0_f64, f64::max).max(0.0);
        let longest = Duration::try_from_secs_f64(longest).unwrap_or(Duration::ZERO);
        match self.expire_after {
            Some(after) => longest + after,
            None => longest * 2 + COUNTER_MARGIN,
        }
    }

    /// Whether the expiry is resque-retry's own (`expire_retry_key_after`) rather than ours.
    pub fn has_expire_retry_key_after(&self) -> bool {
        self.expire_after.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decisions_follow_resque_retry() {
        let p = RetryPolicy::limit(2)
            .delay(60.0)
            .retry_exceptions(["Timeout", "Busy"])
            .fatal_exceptions(["Busy"])
            .ignore_exceptions(["Blip"]);
        assert!(p.retries_on("Timeout"));
        assert!(!p.retries_on("Busy"), "fatal wins");
        assert!(!p.retries_on("RuntimeError"));
        assert!(p.ignores("Blip"));
        assert_eq!(p.delays_for("Timeout", 0.5), vec![60.0]);
        let hash = RetryPolicy::default()
            .retry_exception_with_delays("Timeout", [5.0, 10.0, 20.0])
            .retry_exception_with_delays("Busy", [1.0]);
        assert_eq!(hash.retry_limit(), 3, "the longest list");
        assert_eq!(hash.delays_for("Busy", 0.0), vec![1.0]);
        let jittered = RetryPolicy::exponential_backoff().jitter(1.0, 2.0);
        assert_eq!(
            jittered.delays_for("X", 0.5),
            vec![0.0, 90.0, 900.0, 5_400.0, 16_200.0, 32_400.0]
        );
        assert_eq!(
            RetryPolicy::default().counter_ttl(&[30.0]),
            Duration::from_secs(86_460)
        );
        let expire = RetryPolicy::default().expire_retry_key_after(Duration::from_secs(3_600));
        assert_eq!(
            expire.counter_ttl(&[30.0]),
            Duration::from_secs(3_630),
            "fixture 18: 30 + 3600"
        );
    }
}
