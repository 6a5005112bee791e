//! Connection strings: every form Ruby's `Resque.redis=` accepts, plus unix sockets,
//! Sentinel and Cluster URLs, parsed in this one place.
//!
//! | form | example | notes |
//! |---|---|---|
//! | `host:port` | `localhost:6379` | Ruby: `server.split(':')` |
//! | `host:port:db` | `localhost:6379:2` | |
//! | `host:port/namespace` | `localhost:6379/myapp` | the namespace follows the first `/` |
//! | `host:port:db/namespace` | `redis1:6380:2/resque:GitHub` | |
//! | `redis://[user:pass@]host[:port][/db]` | `redis://127.0.0.1:6379/0` | as Ruby: no namespace in a URL |
//! | `rediss://...` | | TLS; needs the `tls` cargo feature |
//! | `unix:///path/redis.sock[?db=N]`, `redis+unix://...`, `/path/redis.sock` | | unix socket |
//! | `redis-sentinel://host:port[/db]?sentinelServiceName=name[&node=host:port]` | | Sentinel |
//! | `redis-cluster://host:port[?node=host:port]` | | Cluster |
//!
//! A URL keeps the default namespace (`resque`), as in Ruby; the namespace of a `host:port`
//! string follows the `/`. An explicit namespace (`-N`, `RESQUE_NAMESPACE`) wins over both.

use std::fmt;
use std::path::PathBuf;

use fred::types::config::{Config, ServerConfig};

use crate::{Error, Result};

/// A parsed connection string.
#[derive(Clone)]
pub struct Connection {
    pub(crate) config: Config,
    namespace: Option<String>,
    id: String,
}

impl fmt::Debug for Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The id has no password in it; the fred config may.
        f.debug_struct("Connection")
            .field("id", &self.id)
            .field("namespace", &self.namespace)
            .finish()
    }
}

impl Connection {
    /// Parses a connection string (see the module docs for the accepted forms).
    ///
    /// ```
    /// use resque_store::Connection;
    /// let c = Connection::parse("localhost:6379:2/myapp")?;
    /// assert_eq!(c.namespace(), Some("myapp"));
    /// assert_eq!(c.redis_id(), "redis://localhost:6379/2");
    /// assert!(Connection::parse("localhost:port").is_err());
    /// # Ok::<(), resque_store::Error>(())
    /// ```
    pub fn parse(input: &str) -> Result<Self> {
        let s = input.trim();
        let bad = |reason: String| Error::BadConnectionString {
            input: input.to_owned(),
            reason,
        };
        if s.is_empty() {
            return Err(bad("it is empty".into()));
        }
        // Ruby sends anything that mentions redis:// or rediss:// to redis-rb as a URL.
        if s.starts_with("rediss://") {
            if !cfg!(feature = "tls") {
                // fred would only log a warning and connect in plain text: refuse instead.
                return Err(bad(
                    "rediss:// (TLS) needs resque-rs built with the `tls` cargo feature".into(),
                ));
            }
            return Self::from_fred_url(input, s);
        }
        if s.starts_with("redis://") {
            return Self::from_fred_url(input, s);
        }
        // fred silently treats `redis+sentinel://` and `redis+cluster://` as a plain
        // connection to the first host; accept both spellings and mean what they say.
        for (plus, dash) in [
            ("redis+sentinel://", "redis-sentinel://"),
            ("redis+cluster://", "redis-cluster://"),
        ] {
            if let Some(rest) = s.strip_prefix(plus) {
                return Self::from_fred_url(input, &format!("{dash}{rest}"));
            }
        }
        if s.starts_with("redis-sentinel://") || s.starts_with("redis-cluster://") {
            return Self::from_fred_url(input, s);
        }
        if let Some(rest) = s
            .strip_prefix("unix://")
            .or_else(|| s.strip_prefix("redis+unix://"))
        {
            return Self::unix(input, rest);
        }
        if s.starts_with('/') {
            return Self::unix(input, s);
        }
        if s.contains("://") {
            return Err(bad(
                "unknown scheme; use redis://, rediss://, unix://, redis-sentinel:// or redis-cluster://"
                    .into(),
            ));
        }
        if let Some((before, rest)) = s.split_once("//") {
            // `redis//host`: Ruby would read host `redis` and namespace `/host`, which
            // is never what was meant.
            return Err(bad(if before.contains(':') {
                "a namespace cannot start with /".to_owned()
            } else {
                format!("\"//\" without a scheme's colon; did you mean {before}://{rest}?")
            }));
        }
        Self::host_port(input, s)
    }

    fn from_fred_url(input: &str, url: &str) -> Result<Self> {
        let config = Config::from_url(url).map_err(|e| Error::BadConnectionString {
            input: input.to_owned(),
            reason: url_reason(e.details()),
        })?;
        let id = describe(&config);
        Ok(Self {
            config,
            namespace: None,
            id,
        })
    }

    /// `unix:///path?db=N` (and the bare-path form).
    fn unix(input: &str, rest: &str) -> Result<Self> {
        let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
        if path.is_empty() {
            return Err(Error::BadConnectionString {
                input: input.to_owned(),
                reason: "no socket path".into(),
            });
        }
        let mut config = Config {
            server: ServerConfig::Unix {
                path: PathBuf::from(path),
            },
            ..Config::default()
        };
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            match pair.split_once('=') {
                Some(("db", n)) => config.database = Some(parse_db(input, n)?),
                _ => {
                    return Err(Error::BadConnectionString {
                        input: input.to_owned(),
                        reason: format!("unknown option {pair:?}; only db=N is understood"),
                    });
                }
            }
        }
        let id = describe(&config);
        Ok(Self {
            config,
            namespace: None,
            id,
        })
    }

    /// Ruby: `server, namespace = server.split('/', 2); host, port, db = server.split(':')`.
    fn host_port(input: &str, s: &str) -> Result<Self> {
        let bad = |reason: String| Error::BadConnectionString {
            input: input.to_owned(),
            reason,
        };
        let (server, namespace) = match s.split_once('/') {
            Some((server, "")) => {
                return Err(bad(format!(
                    "empty namespace after {server:?}/; leave out the / for the default"
                )));
            }
            Some((server, ns)) => (server, Some(ns.to_owned())),
            None => (s, None),
        };
        let parts: Vec<&str> = server.split(':').collect();
        if parts.len() > 3 {
            return Err(bad(
                "expected host:port, host:port:db or host:port:db/namespace".into(),
            ));
        }
        let host = match parts[0] {
            "" => "127.0.0.1",
            h => h,
        };
        let port = match parts.get(1) {
            None | Some(&"") => 6379,
            Some(p) => p
                .parse::<u16>()
                .ok()
                .filter(|p| *p > 0)
                .ok_or_else(|| bad(format!("port {p:?} is not a number from 1 to 65535")))?,
        };
        let mut config = Config {
            server: ServerConfig::new_centralized(host, port),
            ..Config::default()
        };
        if let Some(db) = parts.get(2).filter(|d| !d.is_empty()) {
            config.database = Some(parse_db(input, db)?);
        }
        let id = describe(&config);
        Ok(Self {
            config,
            namespace,
            id,
        })
    }

    /// The namespace the string names (`host:port/ns`), if any.
    pub fn namespace(&self) -> Option<&str> {
        self.namespace.as_deref()
    }

    /// A printable identity of the server, without credentials (Ruby's `Resque.redis_id`
    /// role): `redis://host:port/db`, `unix:///path`, `redis-sentinel://...`.
    pub fn redis_id(&self) -> &str {
        &self.id
    }

    /// Whether this is a unix-socket connection (no DNS, no TIME_WAIT).
    pub fn is_unix(&self) -> bool {
        matches!(self.config.server, ServerConfig::Unix { .. })
    }
}

fn parse_db(input: &str, s: &str) -> Result<u8> {
    s.parse::<u8>().map_err(|_| Error::BadConnectionString {
        input: input.to_owned(),
        reason: format!("database {s:?} is not a number from 0 to 255"),
    })
}

fn describe(config: &Config) -> String {
    let db = config.database.unwrap_or(0);
    match &config.server {
        ServerConfig::Centralized { server } => {
            #[cfg(feature = "tls")]
            let scheme = if config.tls.is_some() {
                "rediss"
            } else {
                "redis"
            };
            #[cfg(not(feature = "tls"))]
            let scheme = "redis";
            format!("{scheme}://{}:{}/{db}", server.host, server.port)
        }
        ServerConfig::Unix { path } => format!("unix://{}?db={db}", path.display()),
        ServerConfig::Sentinel {
            hosts,
            service_name,
            ..
        } => {
            let hosts: Vec<String> = hosts
                .iter()
                .map(|h| format!("{}:{}", h.host, h.port))
                .collect();
            format!(
                "redis-sentinel://{}/{db}?sentinelServiceName={service_name}",
                hosts.join(",")
            )
        }
        ServerConfig::Clustered { hosts, .. } => {
            let hosts: Vec<String> = hosts
                .iter()
                .map(|h| format!("{}:{}", h.host, h.port))
                .collect();
            format!("redis-cluster://{}", hosts.join(","))
        }
    }
}

/// fred's URL errors in plain words (it passes on the `url` crate's variant names, such
/// as `InvalidPort`).
fn url_reason(details: &str) -> String {
    match details {
        "InvalidPort" => "the port is not a number from 1 to 65535".to_owned(),
        "EmptyHost" => "there is no host name".to_owned(),
        "InvalidIpv4Address" => "the IPv4 address is not valid".to_owned(),
        "InvalidIpv6Address" => "the IPv6 address is not valid".to_owned(),
        "InvalidDomainCharacter" => {
            "the host name has a character a host name cannot have".to_owned()
        }
        "IdnaError" => "the host name is not valid".to_owned(),
        other => other.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(s: &str) -> Connection {
        Connection::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn ruby_host_port_forms() {
        let c = ok("localhost:6379");
        assert_eq!(
            (c.redis_id(), c.namespace()),
            ("redis://localhost:6379/0", None)
        );
        let c = ok("localhost:6379:2");
        assert_eq!(c.redis_id(), "redis://localhost:6379/2");
        let c = ok("localhost:6379/myapp");
        assert_eq!(
            (c.redis_id(), c.namespace()),
            ("redis://localhost:6379/0", Some("myapp"))
        );
        let c = ok("redis1:6380:3/resque:GitHub");
        assert_eq!(
            (c.redis_id(), c.namespace()),
            ("redis://redis1:6380/3", Some("resque:GitHub"))
        );
        assert_eq!(ok("localhost").redis_id(), "redis://localhost:6379/0");
        assert_eq!(ok(":6380").redis_id(), "redis://127.0.0.1:6380/0");
    }

    #[test]
    fn urls() {
        let c = ok("redis://127.0.0.1:6390/2");
        assert_eq!(
            (c.redis_id(), c.namespace()),
            ("redis://127.0.0.1:6390/2", None)
        );
        let c = ok("redis://:secret@h:7000/1");
        assert!(!format!("{c:?}").contains("secret"));
        assert_eq!(c.redis_id(), "redis://h:7000/1");
        let c = ok("unix:///tmp/r.sock?db=3");
        assert!(c.is_unix());
        assert_eq!(c.redis_id(), "unix:///tmp/r.sock?db=3");
        assert_eq!(ok("/tmp/r.sock").redis_id(), "unix:///tmp/r.sock?db=0");
        assert_eq!(
            ok("redis+unix:///tmp/r.sock").redis_id(),
            "unix:///tmp/r.sock?db=0"
        );
        let c = ok("redis-sentinel://s1:26379/1?sentinelServiceName=mymaster&node=s2:26379");
        assert!(
            c.redis_id().starts_with("redis-sentinel://"),
            "{}",
            c.redis_id()
        );
        assert!(c.redis_id().contains("mymaster"));
        let c = ok("redis+sentinel://s1:26379?sentinelServiceName=m");
        assert!(c.redis_id().starts_with("redis-sentinel://"));
        assert!(
            ok("redis-cluster://c1:30001?node=c2:30002")
                .redis_id()
                .starts_with("redis-cluster://")
        );
        assert!(
            ok("redis+cluster://c1:30001")
                .redis_id()
                .starts_with("redis-cluster://")
        );
    }

    #[test]
    fn bad_strings_say_what_is_wrong() {
        for (s, needle) in [
            ("", "empty"),
            ("localhost:port", "port \"port\""),
            ("localhost:70000", "1 to 65535"),
            ("localhost:6379:x", "database \"x\""),
            ("localhost:6379:300", "0 to 255"),
            ("a:1:2:3", "expected host:port"),
            ("localhost:6379/", "empty namespace"),
            ("http://x", "unknown scheme"),
            ("unix://", "no socket path"),
            ("unix:///tmp/s?x=1", "unknown option"),
            ("redis-sentinel://s1:26379", "service name"),
            ("redis//host", "did you mean redis://host?"),
            (
                "redis://localhost:port",
                "the port is not a number from 1 to 65535",
            ),
            ("redis://localhost:99999", "the port is not a number"),
            ("localhost:6379//ns", "cannot start with /"),
        ] {
            let err = Connection::parse(s).expect_err(s).to_string();
            assert!(err.contains(needle), "{s:?}: {err}");
            assert!(err.contains(&format!("{s:?}")) || s.is_empty(), "{err}");
        }
        #[cfg(not(feature = "tls"))]
        assert!(
            Connection::parse("rediss://h:6380")
                .expect_err("tls")
                .to_string()
                .contains("tls")
        );
    }
}
