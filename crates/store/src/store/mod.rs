//! [`Store`]: Resque's data operations on Redis, one method per `Resque::DataStore` call,
//! each sending what Ruby sends (same commands, same pipelines).
//!
//! One file per family of operations: `queues`, `workers` (the registry), `delayed`
//! (resque-scheduler's delayed queue), `due` (the scheduler's move, master lock and
//! recurring fires), `schedules` (stored recurring schedules), `retry` (resque-retry's
//! counter and retries), `reserve`
//! (taking a job and a finished job's bookkeeping), `inflight` (reliable mode's in-flight
//! records), `news` (the connection lost and back, for logs), `stats`, `lists` (generic lists and
//! sets, the Failure API's compare-and-swap scripts), `server` (SCAN, the key viewer,
//! `TIME`, `INFO`), `waiter` (an idle worker's blocking wait for a job, on a connection of
//! its own) and `scripts` (EVALSHA with load on demand). This file holds the
//! connection and the helpers they share.

mod delayed;
mod due;
mod held;
mod inflight;
mod lists;
mod metrics;
mod news;
mod queues;
mod reserve;
mod retry;
mod schedules;
mod scripts;
mod server;
mod stats;
mod waiter;
mod workers;

use std::collections::HashMap;
use std::time::Duration;

use fred::prelude::*;
use fred::types::Value as RedisValue;
use resque_protocol::{Keys, Payload, json};

use crate::{Connection, Error, Result};

pub use due::{Committed, DueBatch, Fired, LockHeld, MoveAction, MoveGroup};
pub use inflight::{InFlight, RecordTo, Recovered};
pub use metrics::{ClassTable, DayCounts};
pub use news::ConnectionNews;
use reserve::ReserveArgs;
pub use reserve::{Finished, Held, JobMetrics, ReserveSection, Reserved, SectionReply};
pub use retry::{RetryDecision, RetryFailure};
pub use server::{KeyPage, KeyType};
pub use waiter::QueueWaiter;
pub use workers::WorkerDetails;

/// How a [`Store`] connects.
#[derive(Debug, Clone)]
pub struct ConnectOptions {
    /// Keep reconnecting in the background when the connection drops (long-running
    /// processes: workers and resque-web). The first connection still fails at once.
    pub reconnect: bool,
    /// Time allowed to open a connection.
    pub connect_timeout: Duration,
    /// Time allowed for one command before it fails.
    pub command_timeout: Duration,
    /// TLS even when the connection string does not ask for it (`rediss://` does); needs
    /// the `tls` cargo feature.
    pub tls: bool,
    /// Connections to keep open, used in turn (1, the default, is enough for most: fred
    /// pipelines concurrent commands on one connection; more help a busy web server whose
    /// large replies would otherwise wait behind each other). The worker always uses 1.
    pub pool_size: usize,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        Self {
            reconnect: true,
            connect_timeout: Duration::from_secs(5),
            command_timeout: Duration::from_secs(10),
            tls: false,
            pool_size: 1,
        }
    }
}

/// Turns TLS on for a connection whose string did not (rustls with the system's roots, as
/// `rediss://` does).
fn with_tls(config: &mut fred::types::config::Config, connection: &Connection) -> Result<()> {
    #[cfg(feature = "tls")]
    {
        if config.tls.is_none() {
            let connector =
                fred::types::config::TlsConnector::default_rustls().map_err(|error| {
                    Error::Connect {
                        redis: connection.redis_id().to_owned(),
                        error,
                    }
                })?;
            config.tls = Some(connector.into());
        }
        Ok(())
    }
    #[cfg(not(feature = "tls"))]
    {
        let _ = config;
        Err(Error::BadConnectionString {
            input: connection.redis_id().to_owned(),
            reason: "TLS needs resque-rs built with the `tls` cargo feature".to_owned(),
        })
    }
}

/// Most items one RPUSH carries in a batch; a larger batch is several RPUSHes in the same
/// pipeline, so Redis never sees one huge command.
const MAX_ITEMS_PER_RPUSH: usize = 1000;

/// A connection to Redis with Resque's key schema.
///
/// Cheap to clone (clones share the connection). Must be created and used inside a tokio
/// runtime; for synchronous code see [`crate::blocking`].
#[derive(Clone)]
pub struct Store {
    /// The connections: one (the worker, whose fork model wants exactly one), or a
    /// round-robin pool ([`ConnectOptions::pool_size`]).
    pool: fred::clients::Pool,
    keys: Keys,
    redis_id: String,
    /// SHA1 of each script this store has loaded (`SCRIPT LOAD`), shared by clones.
    /// Keyed by the script text's address and length (each script is one static): hashing
    /// the text itself cost every call a pass over a few kilobytes.
    scripts: std::sync::Arc<std::sync::Mutex<HashMap<(usize, usize), RedisValue>>>,
    /// The arguments of [`Store::finish_and_reserve`] that stay the same from one call to
    /// the next, ready-made.
    reserve_args: std::sync::Arc<std::sync::Mutex<ReserveArgs>>,
    /// The connection's background changes ([`Store::connection_news`]).
    news: std::sync::Arc<std::sync::Mutex<news::Listener>>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("redis", &self.redis_id)
            .field("namespace", &self.keys.namespace())
            .finish()
    }
}

impl Store {
    /// Connects to the server a connection string names, under `namespace` (or the
    /// string's own namespace, or `resque`).
    pub async fn connect(connection: &Connection, namespace: Option<&str>) -> Result<Self> {
        Self::connect_with(connection, namespace, &ConnectOptions::default()).await
    }

    /// [`Store::connect`] with explicit options.
    pub async fn connect_with(
        connection: &Connection,
        namespace: Option<&str>,
        options: &ConnectOptions,
    ) -> Result<Self> {
        let ns = namespace
            .or(connection.namespace())
            .unwrap_or(resque_protocol::DEFAULT_NAMESPACE);
        let keys = Keys::new(ns)?;
        let mut config = connection.config.clone();
        if options.tls {
            with_tls(&mut config, connection)?;
        }
        let mut builder = Builder::from_config(config);
        builder.with_connection_config(|c| {
            c.connection_timeout = options.connect_timeout;
            c.internal_command_timeout = options.connect_timeout;
            // fred leaves Nagle's algorithm on. A command written while another's reply is
            // awaited (pipelined: several job slots' reservations, a pickup's waits) was
            // then held back until that reply's ACK came: one extra round trip each, and up
            // to the peer's delayed-ACK time (40 ms on Linux). Every Redis client turns it off.
            c.tcp.nodelay = Some(true);
        });
        builder.with_performance_config(|p| {
            p.default_command_timeout = options.command_timeout;
        });
        if options.reconnect {
            builder.set_policy(ReconnectPolicy::new_exponential(0, 100, 2_000, 2));
        }
        let connect_err = |error| Error::Connect {
            redis: connection.redis_id().to_owned(),
            error,
        };
        let pool = builder
            .build_pool(options.pool_size.max(1))
            .map_err(connect_err)?;
        // Every connection goes to the same server: the first one's news stands for all.
        let mut news = news::Listener::new(pool.next());
        pool.init().await.map_err(connect_err)?;
        news.skip();
        Ok(Self {
            pool,
            keys,
            redis_id: connection.redis_id().to_owned(),
            scripts: std::sync::Arc::default(),
            reserve_args: std::sync::Arc::default(),
            news: std::sync::Arc::new(std::sync::Mutex::new(news)),
        })
    }

    /// The key names in use.
    pub fn keys(&self) -> &Keys {
        &self.keys
    }

    /// The server's printable identity (`Resque.redis_id`).
    pub fn redis_id(&self) -> &str {
        &self.redis_id
    }

    /// The connection for the next command: the only one, or the pool's next in turn.
    pub(crate) fn client(&self) -> &fred::clients::Client {
        match self.pool.clients() {
            // The worker's case: no round-robin counter written on every command.
            [only] => only,
            _ => self.pool.next(),
        }
    }

    /// Closes the connections (sends QUIT).
    pub async fn close(&self) -> Result<()> {
        self.pool.quit().await?;
        Ok(())
    }

    /// `PING`.
    pub async fn ping(&self) -> Result<()> {
        let _: String = self.client().ping(None).await?;
        Ok(())
    }
}

/// Decodes a queue item into a payload, with an error that names the queue and the item.
pub(crate) fn decode_item(queue: &str, raw: &[u8]) -> Result<Payload> {
    Payload::decode(raw).map_err(|source| Error::MalformedPayload {
        queue: queue.to_owned(),
        raw: String::from_utf8_lossy(raw).into_owned(),
        source,
    })
}

/// Encodes a payload exactly as Ruby's `Resque.encode` would.
pub(crate) fn encode(payload: &Payload) -> Result<String> {
    Ok(json::to_string(payload)?)
}

/// Whether `e` means the connection failed (so the command may or may not have run), as
/// opposed to an answer from Redis.
fn is_io(e: &fred::error::Error) -> bool {
    use fred::error::ErrorKind;
    matches!(
        e.kind(),
        ErrorKind::IO | ErrorKind::Timeout | ErrorKind::Canceled | ErrorKind::Backpressure
    )
}

/// Whether an error reply was raised by a command inside a running script (Redis names the
/// script's line: `@user_script:N`), so the commands before it took effect.
fn ran_in_script(e: &fred::error::Error) -> bool {
    e.details().contains("user_script")
}

fn value_to_bytes(v: RedisValue) -> Option<Vec<u8>> {
    match v {
        RedisValue::Null => None,
        RedisValue::Bytes(b) => Some(b.to_vec()),
        RedisValue::String(s) => Some(s.as_bytes().to_vec()),
        other => other.as_bytes().map(<[u8]>::to_vec),
    }
}

fn to_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn value_to_string(v: RedisValue) -> Option<String> {
    // fred checked a `String` reply's UTF-8 already: copied as it is, not checked again.
    if let RedisValue::String(s) = &v {
        return Some(String::from(&**s));
    }
    value_to_bytes(v).map(|b| match String::from_utf8(b) {
        Ok(s) => s,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    })
}
