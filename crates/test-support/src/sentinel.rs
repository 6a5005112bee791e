//! [`Sentinel`]: a real Redis Sentinel (`redis-server <conf> --sentinel`) watching a test's
//! master, for the failover tests. Each one has its own temp dir (Sentinel rewrites its
//! configuration file) and a free loopback port, and is killed and reaped on drop.

use std::io::{self, BufReader, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::{Resp, SERVER_BIN_ENV, encode_command, free_port, read_resp};

/// A Sentinel process watching one master under a service name.
#[derive(Debug)]
pub struct Sentinel {
    dir: tempfile::TempDir,
    child: Child,
    port: u16,
}

impl Sentinel {
    /// Starts a Sentinel that watches the master at `127.0.0.1:master_port` as `service`,
    /// with `quorum`, and calls it down after `down_after` without an answer.
    ///
    /// # Panics
    /// If it does not come up: a test helper.
    pub fn start(service: &str, master_port: u16, quorum: u32, down_after: Duration) -> Self {
        let dir = tempfile::Builder::new()
            .prefix("resque-sentinel-")
            .tempdir()
            .expect("a temp dir");
        let port = free_port();
        let conf = dir.path().join("sentinel.conf");
        let ms = down_after.as_millis();
        std::fs::write(
            &conf,
            format!(
                "port {port}\nbind 127.0.0.1\ndir {dir}\nlogfile {dir}/sentinel.log\n\
                 sentinel monitor {service} 127.0.0.1 {master_port} {quorum}\n\
                 sentinel down-after-milliseconds {service} {ms}\n\
                 sentinel failover-timeout {service} {}\n\
                 sentinel parallel-syncs {service} 1\n",
                ms * 4,
                dir = dir.path().display(),
            ),
        )
        .expect("sentinel.conf");
        let bin = std::env::var(SERVER_BIN_ENV).unwrap_or_else(|_| "redis-server".to_owned());
        let child = Command::new(bin)
            .arg(&conf)
            .arg("--sentinel")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server --sentinel");
        let s = Self { dir, child, port };
        let deadline = Instant::now() + Duration::from_secs(10);
        while !matches!(s.cmd(&["PING"]), Ok(Resp::Simple(ref p)) if p == "PONG") {
            assert!(
                Instant::now() < deadline,
                "sentinel did not come up: {}",
                s.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        s
    }

    /// Its port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Runs a command on it (`SENTINEL get-master-addr-by-name <service>`, ...).
    pub fn cmd<S: AsRef<[u8]>>(&self, argv: &[S]) -> io::Result<Resp> {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port))?;
        stream.set_read_timeout(Some(Duration::from_secs(10)))?;
        stream.write_all(&encode_command(argv))?;
        read_resp(&mut BufReader::new(stream))
    }

    /// The port of the master it currently names for `service`.
    pub fn master_port(&self, service: &str) -> Option<u16> {
        match self.cmd(&["SENTINEL", "get-master-addr-by-name", service]) {
            Ok(Resp::Array(a)) => match a.get(1) {
                Some(Resp::Bulk(p)) => String::from_utf8_lossy(p).parse().ok(),
                _ => None,
            },
            _ => None,
        }
    }

    /// Its log, for a failing test to show.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("sentinel.log")).unwrap_or_default()
    }
}

impl Drop for Sentinel {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A master, its replica and three Sentinels (quorum 2) watching them as `mymaster`: a
/// failover as production has it, for the worker, the web UI and the CLI to follow.
#[derive(Debug)]
pub struct SentinelGroup {
    /// The master (killed by [`SentinelGroup::kill_master`]).
    pub master: crate::RedisServer,
    /// The replica, promoted by the failover.
    pub replica: crate::RedisServer,
    /// The three Sentinels.
    pub sentinels: Vec<Sentinel>,
}

impl SentinelGroup {
    /// The service name the Sentinels watch.
    pub const SERVICE: &'static str = "mymaster";

    /// Starts the master, the replica (synced) and the Sentinels (each knowing the replica
    /// and the other two), calling a master down after a second without an answer.
    ///
    /// # Panics
    /// If the group does not form within 30 s: a test helper.
    pub fn start() -> Self {
        let master = crate::RedisServer::start_tcp();
        let replica = crate::RedisServer::start_tcp();
        let port = master.port().expect("tcp").to_string();
        replica
            .cmd(&["REPLICAOF", "127.0.0.1", &port])
            .expect("REPLICAOF");
        let synced = crate::eventually(Duration::from_secs(20), || {
            matches!(replica.cmd(&["INFO", "replication"]),
                Ok(Resp::Bulk(b)) if String::from_utf8_lossy(&b).contains("master_link_status:up"))
        });
        assert!(synced, "the replica did not sync");
        let master_port = master.port().expect("tcp");
        let sentinels: Vec<Sentinel> = (0..3)
            .map(|_| Sentinel::start(Self::SERVICE, master_port, 2, Duration::from_millis(1000)))
            .collect();
        let formed = crate::eventually(Duration::from_secs(30), || {
            sentinels.iter().all(|s| {
                let count = |what: &str| match s.cmd(&["SENTINEL", what, Self::SERVICE]) {
                    Ok(Resp::Array(a)) => a.len(),
                    _ => 0,
                };
                count("replicas") == 1 && count("sentinels") == 2
            })
        });
        assert!(
            formed,
            "the sentinels did not find the replica and each other"
        );
        Self {
            master,
            replica,
            sentinels,
        }
    }

    /// A `redis-sentinel://` connection string naming all three Sentinels.
    pub fn url(&self) -> String {
        let mut url = format!(
            "redis-sentinel://127.0.0.1:{}?sentinelServiceName={}",
            self.sentinels[0].port(),
            Self::SERVICE
        );
        for s in &self.sentinels[1..] {
            url.push_str(&format!("&node=127.0.0.1:{}", s.port()));
        }
        url
    }

    /// Waits until the replica has every write the master acknowledged (`WAIT 1`).
    pub fn sync(&self) {
        let _ = self.master.cmd(&["WAIT", "1", "5000"]);
    }

    /// Kills the master (SIGKILL) and waits until the Sentinels name the replica instead
    /// and it has left read-only mode. Returns how long the failover took.
    ///
    /// # Panics
    /// If it has not happened within 60 s: a test helper.
    pub fn kill_master(&mut self) -> Duration {
        let started = Instant::now();
        let replica_port = self.replica.port();
        self.master.stop();
        let promoted = crate::eventually(Duration::from_secs(60), || {
            self.sentinels
                .iter()
                .all(|s| s.master_port(Self::SERVICE) == replica_port)
                && matches!(self.replica.cmd(&["INFO", "replication"]),
                    Ok(Resp::Bulk(b)) if String::from_utf8_lossy(&b).contains("role:master"))
        });
        assert!(promoted, "no failover: {}", self.sentinels[0].log());
        started.elapsed()
    }
}
