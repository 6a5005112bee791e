//! Test fixtures for resque-rs: a private `redis-server` per test, and tools that look at
//! what reaches it without going through resque-rs's own Redis code.
//!
//! - [`RedisServer`] starts `redis-server` on a unix socket in a temp dir (`--port 0`: no TCP
//!   listener, so no port race), waits until it answers `PING`, and kills and reaps it on
//!   drop. A missing `redis-server` is a test failure with an install hint, never a skip.
//! - [`RedisServer::cmd`] is a tiny synchronous RESP client, so tests check stored bytes
//!   independently of `resque-store`.
//! - [`Monitor`] records every command the server receives (`MONITOR`), to compare command
//!   sequences with the golden captures.
//! - [`DelayProxy`] adds a fixed delay to every round trip (a Redis in another zone).
//! - [`Sentinel`] runs a real Redis Sentinel watching a test's master (failover tests).
//! - [`RoundTripProxy`] sits between a client and the server and counts request/reply turns,
//!   which proves that commands meant to share a round trip really do.
//!
//! This crate depends on no other resque-rs crate, so every crate can use it as a
//! dev-dependency without a dependency cycle.

mod delay;
mod sentinel;

pub use delay::DelayProxy;
pub use sentinel::{Sentinel, SentinelGroup};

use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// Overrides the `redis-server` binary path (never a switch to skip tests).
pub const SERVER_BIN_ENV: &str = "RESQUE_TEST_REDIS_SERVER";

/// A `redis-server` owned by one test.
#[derive(Debug)]
pub struct RedisServer {
    dir: tempfile::TempDir,
    child: Child,
    socket: PathBuf,
    port: Option<u16>,
    /// Append-only file with `appendfsync always`: [`RedisServer::restart`] keeps the data.
    persistent: bool,
}

impl RedisServer {
    /// Starts a server listening only on a unix socket.
    ///
    /// # Panics
    /// If `redis-server` is missing or does not come up; the message carries an install
    /// hint or the server log.
    pub fn start() -> Self {
        Self::spawn(None)
    }

    /// Starts a server that also listens on a free loopback TCP port, for the few tests
    /// that exercise `host:port` connection strings.
    pub fn start_tcp() -> Self {
        Self::start_tcp_with(false)
    }

    /// A TCP server (as [`RedisServer::start_tcp`]) that writes every change to its
    /// append-only file before answering (`appendfsync always`), so that
    /// [`RedisServer::restart`] comes back with everything it acknowledged (and anything it
    /// ran but never got to answer): a Redis restart as production sees it.
    pub fn start_tcp_persistent() -> Self {
        Self::start_tcp_with(true)
    }

    fn start_tcp_with(persistent: bool) -> Self {
        // Binding port 0 and releasing it is racy; retry a few times if another process
        // takes the port in between.
        let mut last = None;
        for _ in 0..5 {
            let port = free_port();
            match Self::try_spawn(Some(port), persistent) {
                Ok(s) => return s,
                Err(e) => last = Some(e),
            }
        }
        panic!(
            "could not start a TCP redis-server: {}",
            last.unwrap_or_default()
        );
    }

    fn spawn(port: Option<u16>) -> Self {
        match Self::try_spawn(port, false) {
            Ok(s) => s,
            Err(e) => panic!("{e}"),
        }
    }

    fn try_spawn(port: Option<u16>, persistent: bool) -> Result<Self, String> {
        let dir = tempfile::Builder::new()
            .prefix("resque-redis-")
            .tempdir()
            .map_err(|e| format!("cannot create a temp dir: {e}"))?;
        let socket = dir.path().join("redis.sock");
        let child = Self::try_spawn_in(dir.path(), port, persistent)?;
        Ok(Self {
            dir,
            child,
            socket,
            port,
            persistent,
        })
    }

    /// Starts `redis-server` in `dir` and waits until it answers `PING`.
    fn try_spawn_in(dir: &Path, port: Option<u16>, persistent: bool) -> Result<Child, String> {
        let bin = std::env::var(SERVER_BIN_ENV).unwrap_or_else(|_| "redis-server".to_owned());
        let socket = dir.join("redis.sock");
        let log = dir.join("redis.log");
        let port_arg = port.map_or_else(|| "0".to_owned(), |p| p.to_string());
        let child = Command::new(&bin)
            .args(["--port", &port_arg, "--bind", "127.0.0.1"])
            .arg("--unixsocket")
            .arg(&socket)
            .args([
                "--unixsocketperm",
                "700",
                "--save",
                "",
                "--appendonly",
                if persistent { "yes" } else { "no" },
                "--appendfsync",
                "always",
            ])
            .arg("--dir")
            .arg(dir)
            .arg("--logfile")
            .arg(&log)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| {
                if e.kind() == io::ErrorKind::NotFound {
                    format!(
                        "`{bin}` not found: tests need a real Redis. Install it with \
                         `apt-get install -y redis-server` (or set {SERVER_BIN_ENV} to its path)"
                    )
                } else {
                    format!("cannot start `{bin}`: {e}")
                }
            })?;
        let mut child = child;
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(Resp::Simple(s)) = ping(&socket)
                && s == "PONG"
            {
                return Ok(child);
            }
            if let Ok(Some(status)) = child.try_wait() {
                return Err(format!(
                    "redis-server exited ({status}) before answering PING; log:\n{}",
                    std::fs::read_to_string(&log).unwrap_or_default()
                ));
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "redis-server did not answer PING within 10 s; log:\n{}",
                    std::fs::read_to_string(&log).unwrap_or_default()
                ));
            }
            thread::sleep(Duration::from_millis(5));
        }
    }

    /// The unix socket path.
    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// A connection string for the socket, `unix:///tmp/.../redis.sock`.
    pub fn url(&self) -> String {
        format!("unix://{}", self.socket.display())
    }

    /// The TCP port, for servers from [`RedisServer::start_tcp`].
    pub fn port(&self) -> Option<u16> {
        self.port
    }

    /// The temp dir the server lives in (tests may put their own files there).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Runs one command over a fresh connection and returns the reply.
    pub fn cmd<S: AsRef<[u8]>>(&self, argv: &[S]) -> io::Result<Resp> {
        let mut stream = UnixStream::connect(&self.socket)?;
        stream.set_read_timeout(Some(Duration::from_secs(10)))?;
        stream.write_all(&encode_command(argv))?;
        read_resp(&mut BufReader::new(stream))
    }

    /// Runs a command and returns its reply as a string (bulk, simple or integer), `None`
    /// for nil.
    ///
    /// # Panics
    /// On I/O errors or other reply types: a test helper.
    pub fn get_str<S: AsRef<[u8]>>(&self, argv: &[S]) -> Option<String> {
        match self.cmd(argv).expect("redis command") {
            Resp::Bulk(b) => Some(String::from_utf8_lossy(&b).into_owned()),
            Resp::Simple(s) => Some(s),
            Resp::Integer(n) => Some(n.to_string()),
            Resp::Nil => None,
            other => panic!("expected a string reply, got {other:?}"),
        }
    }

    /// Runs a command whose reply is an array of strings (LRANGE, SMEMBERS, KEYS).
    ///
    /// # Panics
    /// On I/O errors or other reply types: a test helper.
    pub fn get_list<S: AsRef<[u8]>>(&self, argv: &[S]) -> Vec<String> {
        match self.cmd(argv).expect("redis command") {
            Resp::Array(items) => items
                .into_iter()
                .map(|r| match r {
                    Resp::Bulk(b) => String::from_utf8_lossy(&b).into_owned(),
                    other => format!("{other:?}"),
                })
                .collect(),
            other => panic!("expected an array reply, got {other:?}"),
        }
    }

    /// Starts recording every command the server receives.
    pub fn monitor(&self) -> Monitor {
        Monitor::start(&self.socket)
    }

    /// Stops the server now (to test how clients behave when Redis goes away).
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Starts a new server on the same socket (and port), as after a Redis restart: empty,
    /// or with its data for a [`RedisServer::start_tcp_persistent`] one.
    ///
    /// # Panics
    /// If it does not come up.
    pub fn restart(&mut self) {
        self.stop();
        let _ = std::fs::remove_file(&self.socket);
        let fresh = match Self::try_spawn_in(self.dir.path(), self.port, self.persistent) {
            Ok(child) => child,
            Err(e) => panic!("{e}"),
        };
        self.child = fresh;
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}

fn ping(socket: &Path) -> io::Result<Resp> {
    let mut stream = UnixStream::connect(socket)?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    stream.write_all(&encode_command(&["PING"]))?;
    read_resp(&mut BufReader::new(stream))
}

pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

pub(crate) fn encode_command<S: AsRef<[u8]>>(argv: &[S]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", argv.len()).into_bytes();
    for a in argv {
        let a = a.as_ref();
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// A RESP2 reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resp {
    /// `+OK`
    Simple(String),
    /// `-ERR ...`
    Error(String),
    /// `:42`
    Integer(i64),
    /// `$n` bytes
    Bulk(Vec<u8>),
    /// `$-1` / `*-1`
    Nil,
    /// `*n` items
    Array(Vec<Resp>),
}

pub(crate) fn read_resp<R: BufRead>(r: &mut R) -> io::Result<Resp> {
    let mut line = Vec::new();
    r.read_until(b'\n', &mut line)?;
    if line.len() < 3 {
        return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "short reply"));
    }
    let body = String::from_utf8_lossy(&line[1..line.len() - 2]).into_owned();
    fn bad<E>(_: E) -> io::Error {
        io::Error::new(io::ErrorKind::InvalidData, "bad length")
    }
    Ok(match line[0] {
        b'+' => Resp::Simple(body),
        b'-' => Resp::Error(body),
        b':' => Resp::Integer(body.parse().map_err(bad)?),
        b'$' => {
            let n: i64 = body.parse().map_err(bad)?;
            if n < 0 {
                Resp::Nil
            } else {
                let mut buf = vec![0; usize::try_from(n).map_err(bad)? + 2];
                r.read_exact(&mut buf)?;
                buf.truncate(buf.len() - 2);
                Resp::Bulk(buf)
            }
        }
        b'*' => {
            let n: i64 = body.parse().map_err(bad)?;
            if n < 0 {
                Resp::Nil
            } else {
                (0..n)
                    .map(|_| read_resp(r))
                    .collect::<io::Result<_>>()
                    .map(Resp::Array)?
            }
        }
        other => {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("unknown reply type {:?}", other as char),
            ));
        }
    })
}

/// Records the commands a server receives, through `MONITOR`.
#[derive(Debug)]
pub struct Monitor {
    lines: Arc<Mutex<Vec<Vec<String>>>>,
    stream: UnixStream,
    marker: String,
    seq: AtomicUsize,
    socket: PathBuf,
}

impl Monitor {
    fn start(socket: &Path) -> Self {
        let mut stream = UnixStream::connect(socket).expect("connect for MONITOR");
        stream.write_all(b"MONITOR\r\n").expect("send MONITOR");
        let mut reader = BufReader::new(stream.try_clone().expect("clone socket"));
        let mut ok = String::new();
        reader.read_line(&mut ok).expect("MONITOR reply");
        assert_eq!(ok.trim_end(), "+OK", "MONITOR refused");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&lines);
        thread::spawn(move || {
            let mut line = String::new();
            while reader.read_line(&mut line).map(|n| n > 0).unwrap_or(false) {
                if let Some(argv) = parse_monitor_line(line.trim_end()) {
                    sink.lock().expect("monitor lock").push(argv);
                }
                line.clear();
            }
        });
        Self {
            lines,
            stream,
            marker: "resque-test-monitor-marker".to_owned(),
            seq: AtomicUsize::new(0),
            socket: socket.to_owned(),
        }
    }

    /// Every command seen so far (lower-cased command name, then arguments), excluding
    /// the monitor's own markers. It first sends a marker command and waits until it is
    /// seen, so everything the server received before the call is included.
    pub fn commands(&self) -> Vec<Vec<String>> {
        // Each call waits for its own marker; an older one still in the log proves nothing.
        let this = format!(
            "{}-{}",
            self.marker,
            self.seq.fetch_add(1, Ordering::SeqCst)
        );
        let mut s = UnixStream::connect(&self.socket).expect("connect for marker");
        s.write_all(&encode_command(&["ECHO", &this]))
            .expect("send marker");
        let _ = read_resp(&mut BufReader::new(s));
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            {
                let lines = self.lines.lock().expect("monitor lock");
                if lines.iter().any(|l| l.get(1) == Some(&this)) {
                    return lines
                        .iter()
                        .filter(|l| {
                            !(l[0] == "echo"
                                && l.get(1).is_some_and(|m| m.starts_with(&self.marker)))
                        })
                        .cloned()
                        .collect();
                }
            }
            assert!(Instant::now() < deadline, "MONITOR never showed the marker");
            thread::sleep(Duration::from_millis(2));
        }
    }

    /// Forgets the commands seen so far.
    pub fn clear(&self) {
        let seen = self.commands().len();
        let mut lines = self.lines.lock().expect("monitor lock");
        // Drop what `commands` returned (and its markers), keep anything newer.
        let mut data = 0;
        let cut = lines
            .iter()
            .position(|l| {
                let is_marker =
                    l[0] == "echo" && l.get(1).is_some_and(|m| m.starts_with(&self.marker));
                if !is_marker {
                    data += 1;
                }
                data > seen
            })
            .unwrap_or(lines.len());
        lines.drain(..cut);
    }

    /// Commands seen so far that touch keys (drops connection handshakes such as
    /// `hello`, `client`, `info`, `ping`, `select`).
    pub fn data_commands(&self) -> Vec<Vec<String>> {
        self.commands()
            .into_iter()
            .filter(|c| {
                !matches!(
                    c[0].as_str(),
                    "hello" | "client" | "info" | "ping" | "select" | "auth"
                )
            })
            .collect()
    }
}

impl Drop for Monitor {
    fn drop(&mut self) {
        let _ = self.stream.shutdown(std::net::Shutdown::Both);
    }
}

/// Parses `1700000000.123456 [0 unix:/x] "sadd" "resque:queues" "a"` into its arguments.
fn parse_monitor_line(line: &str) -> Option<Vec<String>> {
    let line = line.strip_prefix('+').unwrap_or(line);
    let start = line.find("] ")? + 2;
    let mut args = Vec::new();
    let mut chars = line[start..].chars().peekable();
    while let Some(c) = chars.next() {
        if c != '"' {
            continue;
        }
        let mut bytes = Vec::new();
        while let Some(c) = chars.next() {
            match c {
                '"' => break,
                '\\' => match chars.next()? {
                    'n' => bytes.push(b'\n'),
                    'r' => bytes.push(b'\r'),
                    't' => bytes.push(b'\t'),
                    'a' => bytes.push(7),
                    'b' => bytes.push(8),
                    'x' => {
                        let hex: String = [chars.next()?, chars.next()?].iter().collect();
                        bytes.push(u8::from_str_radix(&hex, 16).ok()?);
                    }
                    other => {
                        let mut buf = [0; 4];
                        bytes.extend_from_slice(other.encode_utf8(&mut buf).as_bytes());
                    }
                },
                other => {
                    let mut buf = [0; 4];
                    bytes.extend_from_slice(other.encode_utf8(&mut buf).as_bytes());
                }
            }
        }
        args.push(String::from_utf8_lossy(&bytes).into_owned());
    }
    if let Some(first) = args.first_mut() {
        *first = first.to_ascii_lowercase();
    }
    Some(args)
}

/// A unix-socket proxy in front of a [`RedisServer`] that counts round trips.
///
/// A *turn* starts when the client sends bytes after having received a reply. Replies are
/// held back until the client has been quiet for a moment, so a client that waits for a
/// reply before its next command always shows one turn per command, while a pipeline shows
/// one turn in all.
#[derive(Debug)]
pub struct RoundTripProxy {
    path: PathBuf,
    turns: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
}

impl RoundTripProxy {
    /// How long the client must be quiet before a reply is released.
    const QUIET: Duration = Duration::from_millis(15);

    /// Starts a proxy for `server`, listening on a socket in the server's temp dir.
    pub fn start(server: &RedisServer) -> Self {
        let path = server.dir().join("proxy.sock");
        let upstream = server.socket().to_owned();
        let listener = UnixListener::bind(&path).expect("bind proxy socket");
        let turns = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (t, s) = (Arc::clone(&turns), Arc::clone(&stop));
        thread::spawn(move || {
            for conn in listener.incoming() {
                if s.load(Ordering::Relaxed) {
                    break;
                }
                let Ok(client) = conn else { continue };
                let Ok(server) = UnixStream::connect(&upstream) else {
                    continue;
                };
                proxy_pair(client, server, Arc::clone(&t));
            }
        });
        Self { path, turns, stop }
    }

    /// A connection string for the proxy.
    pub fn url(&self) -> String {
        format!("unix://{}", self.path.display())
    }

    /// Turns counted since the last [`RoundTripProxy::reset`].
    pub fn turns(&self) -> usize {
        // Let a reply still held back reach the client first.
        thread::sleep(Self::QUIET * 2);
        self.turns.load(Ordering::SeqCst)
    }

    /// Sets the count back to zero.
    pub fn reset(&self) {
        thread::sleep(Self::QUIET * 2);
        self.turns.store(0, Ordering::SeqCst);
    }
}

impl Drop for RoundTripProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = UnixStream::connect(&self.path);
    }
}

#[derive(Debug)]
struct TurnState {
    last_client: Instant,
    replied_since_client: bool,
}

fn proxy_pair(client: UnixStream, server: UnixStream, turns: Arc<AtomicUsize>) {
    let state = Arc::new(Mutex::new(TurnState {
        last_client: Instant::now(),
        replied_since_client: true,
    }));
    let (mut c_read, mut s_write) = (
        client.try_clone().expect("clone client"),
        server.try_clone().expect("clone server"),
    );
    let st = Arc::clone(&state);
    thread::spawn(move || {
        let mut buf = [0u8; 64 * 1024];
        while let Ok(n) = c_read.read(&mut buf) {
            if n == 0 {
                break;
            }
            {
                let mut g = st.lock().expect("proxy lock");
                if g.replied_since_client {
                    turns.fetch_add(1, Ordering::SeqCst);
                    g.replied_since_client = false;
                }
                g.last_client = Instant::now();
            }
            if s_write.write_all(&buf[..n]).is_err() {
                break;
            }
        }
        let _ = s_write.shutdown(std::net::Shutdown::Write);
    });
    let (mut s_read, mut c_write) = (server, client);
    thread::spawn(move || {
        let mut buf = [0u8; 64 * 1024];
        while let Ok(n) = s_read.read(&mut buf) {
            if n == 0 {
                break;
            }
            loop {
                let quiet_for = state.lock().expect("proxy lock").last_client.elapsed();
                if quiet_for >= RoundTripProxy::QUIET {
                    break;
                }
                thread::sleep(RoundTripProxy::QUIET - quiet_for);
            }
            state.lock().expect("proxy lock").replied_since_client = true;
            if c_write.write_all(&buf[..n]).is_err() {
                break;
            }
        }
        let _ = c_write.shutdown(std::net::Shutdown::Both);
    });
}

/// The text of a golden capture recorded from Ruby Resque 3.0 (`01_enqueue`, ...), from the
/// copies kept in `crates/protocol/tests/fixtures`.
///
/// # Panics
/// If the file cannot be read: a test helper.
pub fn fixture(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../protocol/tests/fixtures")
        .join(format!("{name}.json"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// The first line a spawned binary prints on stdout (a server's "listening on ..." line),
/// taking the child's stdout (it must have been spawned with `Stdio::piped()`).
pub fn first_stdout_line(child: &mut Child) -> io::Result<String> {
    let out = child
        .stdout
        .take()
        .ok_or_else(|| io::Error::other("the child's stdout is not piped"))?;
    let mut line = String::new();
    BufReader::new(out).read_line(&mut line)?;
    Ok(line)
}

/// Polls `cond` every 10 ms until it holds or `timeout` passes; returns whether it held.
pub fn eventually(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        thread::sleep(Duration::from_millis(10));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_starts_answers_and_monitors() {
        let server = RedisServer::start();
        let mon = server.monitor();
        assert_eq!(
            server.cmd(&["SET", "k", "v\"\n\x01é"]).expect("set"),
            Resp::Simple("OK".into())
        );
        assert_eq!(server.get_str(&["GET", "k"]).as_deref(), Some("v\"\n\x01é"));
        let cmds = mon.data_commands();
        assert_eq!(cmds[0], ["set", "k", "v\"\n\x01é"]);
        assert_eq!(cmds[1], ["get", "k"]);
    }

    #[test]
    fn proxy_counts_turns() {
        let server = RedisServer::start();
        let proxy = RoundTripProxy::start(&server);
        let path = proxy.url().trim_start_matches("unix://").to_owned();
        let mut s = UnixStream::connect(&path).expect("connect proxy");
        let mut r = BufReader::new(s.try_clone().expect("clone"));
        proxy.reset();
        // Two commands, each waiting for its reply: two turns.
        for _ in 0..2 {
            s.write_all(&encode_command(&["PING"])).expect("write");
            read_resp(&mut r).expect("reply");
        }
        assert_eq!(proxy.turns(), 2);
        proxy.reset();
        // Two commands written before reading: one turn.
        s.write_all(&encode_command(&["PING"])).expect("write");
        s.write_all(&encode_command(&["PING"])).expect("write");
        read_resp(&mut r).expect("reply");
        read_resp(&mut r).expect("reply");
        assert_eq!(proxy.turns(), 1);
    }
}

/// A proxy that loses one reply: the `n`th `EVALSHA` a client sends reaches Redis and runs,
/// but its reply never comes back: the proxy closes that connection instead, as when a
/// connection drops (or Redis restarts) between running a command and answering it. The
/// client reconnects through the proxy and finds everything else passed through as is.
#[derive(Debug)]
pub struct ReplyLosingProxy {
    path: PathBuf,
    lost: Arc<AtomicUsize>,
}

impl ReplyLosingProxy {
    /// Starts a proxy for `server` that loses the reply to the `n`th EVALSHA (1-based).
    pub fn start(server: &RedisServer, n: usize) -> Self {
        let path = server.dir().join("lossy.sock");
        let upstream = server.socket().to_owned();
        let listener = UnixListener::bind(&path).expect("bind proxy socket");
        let seen = Arc::new(AtomicUsize::new(0));
        let lost = Arc::new(AtomicUsize::new(0));
        let l2 = Arc::clone(&lost);
        thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(client) = conn else { continue };
                let Ok(redis) = UnixStream::connect(&upstream) else {
                    continue;
                };
                let (seen, lost) = (Arc::clone(&seen), Arc::clone(&l2));
                // The reply to drop: set when the nth EVALSHA has gone upstream.
                let drop_next = Arc::new(AtomicBool::new(false));
                let (mut c_in, mut r_out) = (
                    client.try_clone().expect("clone"),
                    redis.try_clone().expect("clone"),
                );
                let armed = Arc::clone(&drop_next);
                thread::spawn(move || {
                    let mut buf = [0u8; 65536];
                    while let Ok(k) = c_in.read(&mut buf) {
                        if k == 0 {
                            break;
                        }
                        let evals = buf[..k].windows(7).filter(|w| w == b"EVALSHA").count();
                        if evals > 0
                            && seen.fetch_add(evals, Ordering::SeqCst) < n
                            && seen.load(Ordering::SeqCst) >= n
                        {
                            armed.store(true, Ordering::SeqCst);
                        }
                        if r_out.write_all(&buf[..k]).is_err() {
                            break;
                        }
                    }
                    let _ = r_out.shutdown(std::net::Shutdown::Both);
                });
                let (mut r_in, mut c_out) = (redis, client);
                thread::spawn(move || {
                    let mut buf = [0u8; 65536];
                    while let Ok(k) = r_in.read(&mut buf) {
                        if k == 0 {
                            break;
                        }
                        if drop_next.swap(false, Ordering::SeqCst) {
                            lost.fetch_add(1, Ordering::SeqCst);
                            break;
                        }
                        if c_out.write_all(&buf[..k]).is_err() {
                            break;
                        }
                    }
                    let _ = c_out.shutdown(std::net::Shutdown::Both);
                    let _ = r_in.shutdown(std::net::Shutdown::Both);
                });
            }
        });
        Self { path, lost }
    }

    /// A connection string for the proxy.
    pub fn url(&self) -> String {
        format!("unix://{}", self.path.display())
    }

    /// How many replies it has lost (0 or 1).
    pub fn lost(&self) -> usize {
        self.lost.load(Ordering::SeqCst)
    }
}
