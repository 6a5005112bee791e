//! [`DelayProxy`]: a TCP proxy that adds a fixed delay to every request on its way to Redis,
//! as a Redis in another zone would (one delay a round trip; a pipeline pays it once). For
//! the latency benchmarks, beside `redis-benchmark` through the same proxy.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

/// A running delay proxy; it lives as long as the process (its threads are detached).
#[derive(Debug)]
pub struct DelayProxy {
    addr: SocketAddr,
}

impl DelayProxy {
    /// Listens on a free loopback port and forwards each connection to `upstream`, holding
    /// every chunk the client sends for `delay` (replies go back at once).
    ///
    /// # Errors
    /// When the listening socket cannot be made.
    pub fn start(upstream: SocketAddr, delay: Duration) -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let Ok(server) = TcpStream::connect(upstream) else {
                    continue;
                };
                let _ = client.set_nodelay(true);
                let _ = server.set_nodelay(true);
                pair(client, server, delay);
            }
        });
        Ok(Self { addr })
    }

    /// Where clients connect.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// A connection string for the proxy (`host:port`).
    pub fn url(&self) -> String {
        format!("{}:{}", self.addr.ip(), self.addr.port())
    }
}

fn pair(client: TcpStream, server: TcpStream, delay: Duration) {
    let (Ok(mut c_read), Ok(mut s_write)) = (client.try_clone(), server.try_clone()) else {
        return;
    };
    // Each chunk is stamped when it arrives and written `delay` later, so requests that
    // overlap (several connections, or a client that does not wait) each pay the delay
    // once rather than one after the other.
    let (tx, rx) = mpsc::channel::<(Instant, Vec<u8>)>();
    thread::spawn(move || {
        let mut buf = vec![0u8; 64 * 1024];
        while let Ok(n) = c_read.read(&mut buf) {
            if n == 0
                || tx
                    .send((Instant::now() + delay, buf[..n].to_vec()))
                    .is_err()
            {
                break;
            }
        }
    });
    thread::spawn(move || {
        for (due, chunk) in rx {
            let now = Instant::now();
            if due > now {
                thread::sleep(due - now);
            }
            if s_write.write_all(&chunk).is_err() {
                break;
            }
        }
        let _ = s_write.shutdown(std::net::Shutdown::Write);
    });
    let (mut s_read, mut c_write) = (server, client);
    thread::spawn(move || {
        let mut buf = vec![0u8; 64 * 1024];
        while let Ok(n) = s_read.read(&mut buf) {
            if n == 0 || c_write.write_all(&buf[..n]).is_err() {
                break;
            }
        }
        let _ = c_write.shutdown(std::net::Shutdown::Both);
    });
}
