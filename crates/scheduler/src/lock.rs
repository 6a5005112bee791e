//! The master lock, as resque-scheduler keeps it: key `<ns>:<ns>:[prefix:]
//! resque_scheduler_master_lock`, value `<host>:<pid>`, a TTL of `LOCK_TIMEOUT`.
//!
//! A Ruby scheduler and ours on one Redis elect one master because both take the key only
//! when it is free (`SETNX` + `EXPIRE` in Ruby's Lua; `SET NX EX` here, the same effect) and
//! only the holder refreshes it. Beyond Ruby: the release deletes the key only if it is
//! still ours (Ruby checks, then `DEL`s, and can delete a successor's lock), and every move
//! or fire checks the lock in the same script (Ruby trusts a flag cached at the last poll).

use std::net::SocketAddr;
use std::time::Duration;

use resque_store::{LockHeld, Store};

/// This process's lock value, `<host>:<pid>`, with the host as Ruby computes it:
/// `Addrinfo.getaddrinfo(Socket.gethostname, 'http').first.getnameinfo.first`, the
/// reverse-resolved name (`localhost` on a machine whose name resolves to 127.0.0.1),
/// falling back to the plain host name.
pub fn lock_value() -> String {
    format!("{}:{}", lock_host(), std::process::id())
}

fn lock_host() -> String {
    let name = nix::unistd::gethostname()
        .ok()
        .and_then(|h| h.into_string().ok())
        .unwrap_or_else(|| "localhost".to_owned());
    let first: Option<SocketAddr> = dns_lookup::getaddrinfo(Some(&name), Some("http"), None)
        .ok()
        .and_then(|mut it| it.find_map(|a| a.ok()))
        .map(|a| a.sockaddr);
    first
        .and_then(|addr| dns_lookup::getnameinfo(&addr, 0).ok())
        .map(|(host, _)| host)
        .filter(|h| !h.is_empty())
        .unwrap_or(name)
}

/// The lock this scheduler competes for.
#[derive(Debug, Clone)]
pub struct MasterLock {
    key: String,
    value: String,
    ttl: u64,
}

impl MasterLock {
    /// The lock under `store`'s namespace, with `prefix` (`RESQUE_SCHEDULER_MASTER_LOCK_PREFIX`).
    pub fn new(store: &Store, prefix: Option<&str>, value: String, ttl: Duration) -> Self {
        Self {
            key: store.keys().scheduler_master_lock(prefix),
            value,
            ttl: ttl.as_secs().max(1),
        }
    }

    /// The full key.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// Our value.
    pub fn value(&self) -> &str {
        &self.value
    }

    /// What moves and fires pass to the store, to be checked in their scripts.
    pub fn held(&self) -> LockHeld<'_> {
        LockHeld {
            key: &self.key,
            value: &self.value,
            ttl: self.ttl,
        }
    }

    /// Takes the lock if free or refreshes it if ours; whether we are master.
    pub async fn acquire(&self, store: &Store) -> resque_store::Result<bool> {
        store
            .master_lock_acquire(&self.key, &self.value, self.ttl)
            .await
    }

    /// Gives the lock up if it is ours.
    pub async fn release(&self, store: &Store) -> resque_store::Result<bool> {
        store.master_lock_release(&self.key, &self.value).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_value_is_host_colon_pid() {
        let v = lock_value();
        let (host, pid) = v.rsplit_once(':').unwrap_or_default();
        assert!(!host.is_empty());
        assert_eq!(pid, std::process::id().to_string());
    }
}
