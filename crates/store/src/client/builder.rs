//! [`ClientBuilder`]: one way to connect, for the async and the blocking client alike.

use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

use crate::job::Registry;
use crate::{Client, ConnectOptions, Connection, Result, Store};

/// How a client connects, built up from a connection string; the same methods for
/// [`Client::builder`] (finish with `.connect().await`) and
/// [`blocking::Client::builder`](crate::blocking::Client::builder) (finish with `.connect()`).
///
/// | setting | default |
/// |---|---|
/// | [`namespace`](Self::namespace) | the string's own (`host:port/ns`), else `resque` |
/// | [`connect_timeout`](Self::connect_timeout) | 5 s |
/// | [`command_timeout`](Self::command_timeout) | 10 s |
/// | [`reconnect`](Self::reconnect) | on: after a drop, reconnect in the background (the first connection still fails at once) |
/// | [`tls`](Self::tls) | off, unless the string is `rediss://` (both need the `tls` cargo feature) |
/// | [`pool_size`](Self::pool_size) | 1 connection (fred pipelines concurrent commands on it) |
/// | [`inline`](Self::inline) | off |
///
/// ```no_run
/// # async fn demo() -> Result<(), resque_store::Error> {
/// use std::time::Duration;
/// let client = resque_store::Client::builder("redis://cache.internal:6379/0")
///     .namespace("myapp")
///     .command_timeout(Duration::from_secs(2))
///     .connect()
///     .await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
#[must_use = "a builder does nothing until .connect()"]
pub struct ClientBuilder<C = Client> {
    connection: String,
    namespace: Option<String>,
    options: ConnectOptions,
    inline: bool,
    registry: Option<Registry>,
    environment: Option<String>,
    client: PhantomData<fn() -> C>,
}

impl<C> ClientBuilder<C> {
    pub(crate) fn new(connection: &str) -> Self {
        Self {
            connection: connection.to_owned(),
            namespace: None,
            options: ConnectOptions::default(),
            inline: false,
            registry: None,
            environment: None,
            client: PhantomData,
        }
    }

    /// The namespace, over the connection string's own.
    pub fn namespace(mut self, namespace: impl Into<String>) -> Self {
        self.namespace = Some(namespace.into());
        self
    }

    /// [`namespace`](Self::namespace) from an `Option` (a flag that may be absent): `None`
    /// keeps the connection string's own.
    pub fn namespace_override(mut self, namespace: Option<&str>) -> Self {
        self.namespace = namespace.map(str::to_owned);
        self
    }

    /// Time allowed to open the connection.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.options.connect_timeout = timeout;
        self
    }

    /// Time allowed for one command before it fails.
    pub fn command_timeout(mut self, timeout: Duration) -> Self {
        self.options.command_timeout = timeout;
        self
    }

    /// Whether to reconnect in the background after the connection drops.
    pub fn reconnect(mut self, reconnect: bool) -> Self {
        self.options.reconnect = reconnect;
        self
    }

    /// TLS for any connection string (`rediss://` turns it on by itself).
    pub fn tls(mut self, tls: bool) -> Self {
        self.options.tls = tls;
        self
    }

    /// Connections to keep open, used in turn (see [`ConnectOptions::pool_size`]).
    pub fn pool_size(mut self, size: usize) -> Self {
        self.options.pool_size = size.max(1);
        self
    }

    /// All the connection settings at once.
    pub fn options(mut self, options: ConnectOptions) -> Self {
        self.options = options;
        self
    }

    /// Inline mode (see [`Client::with_inline`]).
    pub fn inline(mut self, inline: bool) -> Self {
        self.inline = inline;
        self
    }

    /// Job types and state for inline mode (see [`Client::with_registry`]).
    pub fn registry(mut self, registry: Registry) -> Self {
        self.registry = Some(registry);
        self
    }

    /// The environment [`Client::info`] reports.
    pub fn environment(mut self, environment: impl Into<String>) -> Self {
        self.environment = Some(environment.into());
        self
    }

    pub(crate) fn connection(&self) -> Result<Connection> {
        Connection::parse(&self.connection)
    }

    pub(crate) async fn open(self, connection: Connection) -> Result<Client> {
        let store =
            Store::connect_with(&connection, self.namespace.as_deref(), &self.options).await?;
        let mut client = Client::new(store).with_inline(self.inline);
        if let Some(registry) = self.registry {
            client = client.with_registry(registry);
        }
        if let Some(environment) = self.environment {
            client = client.with_environment(environment);
        }
        Ok(client)
    }
}

impl ClientBuilder<Client> {
    /// Connects.
    pub async fn connect(self) -> Result<Client> {
        let connection = self.connection()?;
        self.open(connection).await
    }
}

impl Client {
    /// A builder for a client with settings beyond the connection string (see
    /// [`ClientBuilder`] for each and its default).
    pub fn builder(connection: &str) -> ClientBuilder<Client> {
        ClientBuilder::new(connection)
    }

    /// An inline client that never connects: every enqueue runs its job at once in the
    /// caller (Ruby's `Resque.inline = true`), so an application's unit tests need no Redis.
    /// Untyped enqueues need their class registered ([`Client::with_registry`]); calls
    /// that read Redis (sizes, workers, stats) fail with [`Error::NoRedis`](crate::Error::NoRedis).
    pub fn inline() -> Self {
        Self::inline_with(Arc::new(Registry::new()), Arc::default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "current_thread")]
    async fn a_bad_string_fails_before_connecting() {
        let e = Client::builder("localhost:port")
            .namespace("x")
            .connect()
            .await
            .expect_err("bad port");
        assert!(
            e.to_string().starts_with("bad Redis connection string"),
            "{e}"
        );
    }
}
