//! What happened to the connection in the background (fred reconnects by itself): lost,
//! and back (perhaps to another server: a Sentinel failover), each told once, for the
//! long-running processes to log.

use fred::prelude::*;
use tokio::sync::broadcast::Receiver;
use tokio::sync::broadcast::error::TryRecvError;

use super::Store;

/// One change of the connection's state.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConnectionNews {
    /// The connection failed (the first error of an outage; the rest are not repeated).
    Lost(String),
    /// Connected again, to this server (`host:port`).
    Back(String),
}

/// The receivers behind [`Store::connection_news`].
pub(super) struct Listener {
    reconnects: Receiver<fred::types::config::Server>,
    errors: Receiver<(fred::error::Error, Option<fred::types::config::Server>)>,
    down: bool,
    /// The server last connected to: an error of another connection (a Sentinel's, closed
    /// once it named the master) is not an outage.
    current: Option<fred::types::config::Server>,
}

impl Listener {
    /// Subscribes before the first connection, whose own "reconnect" is then passed over.
    pub(super) fn new(client: &fred::clients::Client) -> Self {
        Self {
            reconnects: client.reconnect_rx(),
            errors: client.error_rx(),
            down: false,
            current: None,
        }
    }

    /// Forgets what happened so far (the first connection), keeping the server it reached.
    pub(super) fn skip(&mut self) {
        loop {
            match self.reconnects.try_recv() {
                Ok(server) => self.current = Some(server),
                Err(TryRecvError::Lagged(_)) => {}
                Err(_) => break,
            }
        }
        while !matches!(
            self.errors.try_recv(),
            Err(TryRecvError::Empty | TryRecvError::Closed)
        ) {}
    }
}

impl Store {
    /// The connection's changes since the last call, each outage told once: `Lost` at its
    /// first error, `Back` when fred has connected again (to the new master after a
    /// failover). Never waits.
    pub fn connection_news(&self) -> Vec<ConnectionNews> {
        let Ok(mut l) = self.news.lock() else {
            return Vec::new();
        };
        let mut news = Vec::new();
        loop {
            match l.errors.try_recv() {
                Ok((e, server)) => {
                    let other = server.is_some() && l.current.is_some() && server != l.current;
                    if !l.down && !other {
                        l.down = true;
                        news.push(ConnectionNews::Lost(crate::error::plain(&e)));
                    }
                }
                Err(TryRecvError::Lagged(_)) => {}
                Err(_) => break,
            }
        }
        loop {
            match l.reconnects.try_recv() {
                Ok(server) => {
                    l.down = false;
                    news.push(ConnectionNews::Back(format!(
                        "{}:{}",
                        server.host, server.port
                    )));
                    l.current = Some(server);
                }
                Err(TryRecvError::Lagged(_)) => {}
                Err(_) => break,
            }
        }
        news
    }

    /// Logs [`Store::connection_news`]: a lost connection as a warning, its return (naming
    /// the server) as information, each once. For the long-running processes' loops.
    pub fn log_connection_news(&self) {
        for news in self.connection_news() {
            match news {
                ConnectionNews::Lost(why) => {
                    tracing::warn!("lost the connection to Redis ({why}); reconnecting");
                }
                ConnectionNews::Back(server) => {
                    tracing::info!("connected to Redis again, at {server}");
                }
            }
        }
    }
}
