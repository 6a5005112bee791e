//! The error type of `resque-store`.

/// Errors from talking to Redis or from the Resque API.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A connection string that is not one of the accepted forms.
    #[error("bad Redis connection string {input:?}: {reason}")]
    BadConnectionString {
        /// The string as given.
        input: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Redis could not be reached.
    ///
    /// The message names the reason once, in plain words ("connection refused"), so it is
    /// not a `source`: printed as a chain it would repeat.
    #[error("cannot connect to Redis at {redis}: {}", plain(.error))]
    Connect {
        /// The server, as [`crate::Connection::redis_id`].
        redis: String,
        /// fred's error.
        error: fred::error::Error,
    },
    /// A command failed (Redis went away, timed out, or answered an error).
    #[error("Redis command failed: {}", plain(.0))]
    Redis(#[from] fred::error::Error),
    /// A value could not be encoded or decoded.
    #[error(transparent)]
    Protocol(#[from] resque_protocol::Error),
    /// A queue holds an item that is not a job payload. Nothing was removed.
    #[error("malformed job payload in queue {queue:?}: {source} (payload: {raw:.200})")]
    MalformedPayload {
        /// The queue.
        queue: String,
        /// The stored item, as text.
        raw: String,
        /// Why it is not a payload.
        #[source]
        source: resque_protocol::Error,
    },
    /// `Resque::NoQueueError`.
    #[error("Jobs must be placed onto a queue. No queue could be inferred for class {class}")]
    NoQueue {
        /// The job class.
        class: String,
    },
    /// `Resque::NoClassError`.
    #[error("Jobs must be given a class.")]
    NoClass,
    /// A job type whose `Args` is a list type (a tuple, a `Vec`) but whose value did not
    /// serialize to a JSON array (a hand-written `Serialize` that disagrees with its
    /// `Deserialize`).
    #[error("arguments of job {class} must serialize to a JSON array, found {found}")]
    ArgsNotArray {
        /// The job class.
        class: String,
        /// What they serialized to.
        found: String,
    },
    /// Inline mode was asked to run a class no job type is registered for.
    #[error("no job type is registered for class {0:?}")]
    UnknownClass(String),
    /// A job run inline failed (inline mode raises to the caller, as in Ruby).
    #[error("job {class} failed: {error}")]
    Job {
        /// The job class.
        class: String,
        /// The failure.
        error: crate::JobError,
    },
    /// The server will not run one of our scripts (no `EVALSHA`, a proxy or an ACL that
    /// refuses it, an unexpected reply). Nothing was done; the caller can fall back to
    /// separate commands.
    #[error("Redis will not run the script: {0}")]
    ScriptUnavailable(String),
    /// The server refused a script's writes before it wrote anything (`READONLY`: the
    /// connection is to a replica, say the old master after a failover). Nothing was done:
    /// the same call can be sent again later.
    #[error("Redis refused to write: {0}")]
    WritesRefused(String),
    /// There is no Redis connection to use: an inline client ([`crate::Client::inline`]),
    /// or a job context with no worker behind it.
    #[error("no Redis connection: {0}")]
    NoRedis(String),
    /// A blocking call was made where it must not block (a sync enqueue from inside async
    /// code, such as an async job).
    #[error("cannot block here: {0}")]
    CannotBlock(String),
    /// A worker id that is not registered.
    #[error("no such worker {0:?}")]
    NoSuchWorker(String),
}

impl Error {
    /// Whether the call may be sent again as it was: Redis could not be reached (its outcome
    /// is unknown; see [`Error::is_connection`]) or refused it before writing anything.
    pub fn can_resend(&self) -> bool {
        self.is_connection() || matches!(self, Self::WritesRefused(_))
    }

    /// The same error again, for another caller of the same call: several workers'
    /// reservations sent as one ([`crate::Store::send_sections`]) fail together, and each
    /// must see what kind of failure it was ([`Error::can_resend`],
    /// [`Error::ScriptUnavailable`]) and its text.
    pub fn duplicate(&self) -> Error {
        match self {
            Self::Connect { redis, error } => Self::Connect {
                redis: redis.clone(),
                error: error.clone(),
            },
            Self::Redis(e) => Self::Redis(e.clone()),
            Self::ScriptUnavailable(why) => Self::ScriptUnavailable(why.clone()),
            Self::WritesRefused(why) => Self::WritesRefused(why.clone()),
            other => Self::Redis(fred::error::Error::new(
                fred::error::ErrorKind::Unknown,
                other.to_string(),
            )),
        }
    }

    /// Whether Redis could not be reached (refused, dropped, timed out), as opposed to
    /// Redis answering with an error or bad data: the web UI shows "Can't connect to
    /// Redis!" for these and recovers once the connection does.
    pub fn is_connection(&self) -> bool {
        use fred::error::ErrorKind;
        match self {
            Self::Connect { .. } => true,
            Self::Redis(e) => matches!(
                e.kind(),
                ErrorKind::IO | ErrorKind::Timeout | ErrorKind::Canceled | ErrorKind::Backpressure
            ),
            _ => false,
        }
    }
}

/// fred's error in plain words: an I/O error's own message ("connection refused", "no such
/// file or directory"), where fred's text is the `Debug` form of the `io::Error`.
pub(crate) fn plain(e: &fred::error::Error) -> String {
    use fred::error::ErrorKind;
    let details = e.details();
    match e.kind() {
        ErrorKind::IO => {
            // `Os { code: 111, kind: ConnectionRefused, message: "Connection refused" }`, or
            // `Custom { kind: Uncategorized, error: "failed to lookup address ..." }`.
            let quoted = ["message: \"", "error: \""].iter().find_map(|tag| {
                let start = details.find(tag)? + tag.len();
                let len = details[start..].find('"')?;
                Some(&details[start..start + len])
            });
            let text = quoted.unwrap_or(details);
            let mut chars = text.chars();
            match chars.next() {
                Some(c) => c.to_lowercase().chain(chars).collect(),
                None => "I/O error".to_owned(),
            }
        }
        ErrorKind::Timeout => "timed out".to_owned(),
        ErrorKind::Canceled => "the connection was closed".to_owned(),
        _ if details.is_empty() => e.to_string(),
        _ => details.to_owned(),
    }
}

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
