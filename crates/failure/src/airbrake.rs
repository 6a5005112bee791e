//! An Airbrake-style notifier: one Airbrake v3 notice per failed job, POSTed to
//! `{host}/api/v3/projects/{id}/notices`, so Airbrake, Errbit and other compatible trackers
//! receive it.
//!
//! It is bounded: each attempt has a timeout, retries are few, and the total time is at
//! most `timeout × (retries + 1)` plus the short pauses between attempts
//! ([`Config::max_duration`]). The Redis record is saved before the tracker is tried (see
//! [`crate::Backend::save`]), so a tracker that is down loses nothing.
//!
//! The HTTP client (ureq) is blocking and starts no thread, which keeps it safe to call
//! from the worker's single-threaded parent.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::record::NewFailure;
use crate::{Error, Result};

/// The notifier's settings (flags and `AIRBRAKE_*` variables in the binaries).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// `AIRBRAKE_PROJECT_ID`.
    pub project_id: String,
    /// `AIRBRAKE_PROJECT_KEY`.
    pub project_key: String,
    /// `AIRBRAKE_HOST`: a URL with its scheme, like Airbrake's own `host` setting.
    pub host: String,
    /// `AIRBRAKE_ENVIRONMENT` (`context.environment`).
    pub environment: String,
    /// Time allowed for one POST (connect, send, answer).
    pub timeout: Duration,
    /// Extra attempts after a failed one (connection error, timeout or 5xx).
    pub retries: u32,
}

/// Airbrake's own endpoint, the default host.
pub const DEFAULT_HOST: &str = "https://api.airbrake.io";

/// Pause before retry `n` (1-based): 100 ms, 200 ms, 400 ms...
fn backoff(n: u32) -> Duration {
    Duration::from_millis(100u64.saturating_mul(1 << (n - 1).min(5)))
}

impl Config {
    /// Settings with the defaults: Airbrake's host, `production`, a 2 s timeout, 2 retries.
    pub fn new(project_id: impl Into<String>, project_key: impl Into<String>) -> Self {
        Self {
            project_id: project_id.into(),
            project_key: project_key.into(),
            host: DEFAULT_HOST.to_owned(),
            environment: "production".to_owned(),
            timeout: Duration::from_secs(2),
            retries: 2,
        }
    }

    /// Settings from `AIRBRAKE_PROJECT_ID`, `AIRBRAKE_PROJECT_KEY`, `AIRBRAKE_HOST` and
    /// `AIRBRAKE_ENVIRONMENT` values, looked up through `get` (binaries pass their flags or
    /// `std::env::var`; this library reads no environment itself). `None` when the id or
    /// key is missing.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Option<Self> {
        let id = get("AIRBRAKE_PROJECT_ID").filter(|s| !s.is_empty())?;
        let key = get("AIRBRAKE_PROJECT_KEY").filter(|s| !s.is_empty())?;
        let mut c = Self::new(id, key);
        if let Some(host) = get("AIRBRAKE_HOST").filter(|s| !s.is_empty()) {
            c.host = host;
        }
        if let Some(env) = get("AIRBRAKE_ENVIRONMENT").filter(|s| !s.is_empty()) {
            c.environment = env;
        }
        Some(c)
    }

    /// The longest a notify can take: every attempt timing out, plus the pauses.
    pub fn max_duration(&self) -> Duration {
        let attempts = self.retries + 1;
        let pauses: Duration = (1..attempts).map(backoff).sum();
        self.timeout * attempts + pauses
    }

    /// The notices endpoint.
    pub fn endpoint(&self) -> String {
        format!(
            "{}/api/v3/projects/{}/notices",
            self.host.trim_end_matches('/'),
            self.project_id
        )
    }
}

/// Sends notices.
#[derive(Debug)]
pub struct Notifier {
    config: Config,
    agent: ureq::Agent,
}

impl crate::record::Notifier for Notifier {
    fn notify(&self, failure: &NewFailure) -> Result<()> {
        Notifier::notify(self, failure)
    }
}

impl Notifier {
    /// Checks the settings and builds the HTTP client.
    pub fn new(config: Config) -> Result<Self> {
        if config.project_id.trim().is_empty() || config.project_key.trim().is_empty() {
            return Err(Error::AirbrakeNotConfigured);
        }
        if !(config.host.starts_with("http://") || config.host.starts_with("https://")) {
            return Err(Error::AirbrakeConfig(format!(
                "host {:?} must be a URL with its scheme, e.g. {DEFAULT_HOST}",
                config.host
            )));
        }
        if !config
            .project_id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(Error::AirbrakeConfig(format!(
                "project id {:?} must be letters, digits, - or _",
                config.project_id
            )));
        }
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(config.timeout))
            .http_status_as_error(false)
            .build()
            .new_agent();
        Ok(Self { config, agent })
    }

    /// The settings.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The Airbrake v3 notice for a failure.
    pub fn notice(&self, f: &NewFailure) -> Value {
        let backtrace: Vec<Value> = f.backtrace.iter().map(|frame| parse_frame(frame)).collect();
        let hostname = f.worker.split(':').next().unwrap_or_default();
        let payload = f.payload.as_object();
        json!({
            "errors": [{
                "type": f.exception,
                "message": f.error,
                "backtrace": backtrace,
            }],
            "context": {
                "notifier": {
                    "name": "resque-rs",
                    "version": env!("CARGO_PKG_VERSION"),
                    "url": "https://github.com/resque/resque",
                },
                "environment": self.config.environment,
                "hostname": hostname,
                "component": "resque",
                "action": payload.and_then(|p| p.get("class")).cloned().unwrap_or(Value::Null),
                "severity": "error",
            },
            "params": {
                "class": payload.and_then(|p| p.get("class")).cloned().unwrap_or(Value::Null),
                "args": payload.and_then(|p| p.get("args")).cloned().unwrap_or(Value::Null),
                "queue": f.queue,
                "worker": f.worker,
            },
            "environment": {},
            "session": {},
        })
    }

    /// POSTs one notice, retrying a connection error, timeout or 5xx answer up to
    /// `retries` times. Never takes longer than [`Config::max_duration`].
    pub fn notify(&self, f: &NewFailure) -> Result<()> {
        let body = self.notice(f).to_string();
        let url = format!("{}?key={}", self.config.endpoint(), self.config.project_key);
        let deadline = Instant::now() + self.config.max_duration();
        let mut last = String::new();
        let attempts = self.config.retries + 1;
        for attempt in 1..=attempts {
            if attempt > 1 {
                let pause = backoff(attempt - 1);
                if Instant::now() + pause >= deadline {
                    return Err(Error::Notify {
                        attempts: attempt - 1,
                        last,
                    });
                }
                std::thread::sleep(pause);
            }
            let result = self
                .agent
                .post(&url)
                .header("Content-Type", "application/json")
                .header(
                    "Authorization",
                    &format!("Bearer {}", self.config.project_key),
                )
                .send(body.as_str());
            match result {
                Ok(resp) if resp.status().is_success() => return Ok(()),
                Ok(resp) if resp.status().is_server_error() || resp.status().as_u16() == 429 => {
                    last = format!("HTTP {}", resp.status());
                }
                // A 4xx other than 429 will not get better by retrying (bad key, bad project).
                Ok(resp) => {
                    return Err(Error::Notify {
                        attempts: attempt,
                        last: format!("HTTP {}", resp.status()),
                    });
                }
                Err(e) => last = e.to_string(),
            }
        }
        Err(Error::Notify { attempts, last })
    }
}

/// Splits a Ruby-style frame `path:line:in 'method'` into Airbrake's `file`, `line`,
/// `function`; anything else (Rust frames) goes whole into `file`.
fn parse_frame(frame: &str) -> Value {
    let mut parts = frame.splitn(3, ':');
    if let (Some(file), Some(line), rest) = (parts.next(), parts.next(), parts.next())
        && let Ok(line) = line.parse::<u64>()
    {
        let function = rest
            .map(|r| {
                r.trim_start_matches("in ")
                    .trim_matches(|c| c == '`' || c == '\'')
            })
            .unwrap_or_default();
        return json!({"file": file, "line": line, "function": function});
    }
    json!({"file": frame, "line": 0, "function": ""})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_and_bounds() {
        assert_eq!(
            parse_frame("peers/ruby/jobs.rb:14:in `perform'"),
            json!({"file": "peers/ruby/jobs.rb", "line": 14, "function": "perform"})
        );
        assert_eq!(
            parse_frame("src/main.rs"),
            json!({"file": "src/main.rs", "line": 0, "function": ""})
        );
        let mut c = Config::new("1", "k");
        c.timeout = Duration::from_millis(500);
        c.retries = 2;
        assert_eq!(c.max_duration(), Duration::from_millis(1500 + 100 + 200));
        assert_eq!(
            c.endpoint(),
            "https://api.airbrake.io/api/v3/projects/1/notices"
        );
        c.host = "api.airbrake.io".into();
        assert!(Notifier::new(c).is_err());
        let vars = |k: &str| match k {
            "AIRBRAKE_PROJECT_ID" => Some("42".to_owned()),
            "AIRBRAKE_PROJECT_KEY" => Some("k".to_owned()),
            "AIRBRAKE_HOST" => Some("http://errbit.local".to_owned()),
            _ => None,
        };
        let c = Config::from_lookup(vars).expect("configured");
        assert_eq!(
            (c.endpoint().as_str(), c.environment.as_str()),
            (
                "http://errbit.local/api/v3/projects/42/notices",
                "production"
            )
        );
        assert_eq!(Config::from_lookup(|_| None), None);
    }
}
