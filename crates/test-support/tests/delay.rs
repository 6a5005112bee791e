//! The delay proxy in front of a real `redis-server`: each round trip pays the delay once,
//! and a pipeline pays it once in all.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use resque_test_support::{DelayProxy, RedisServer};

#[test]
fn each_round_trip_pays_the_delay_and_a_pipeline_pays_it_once() {
    let server = RedisServer::start_tcp();
    let upstream = format!("127.0.0.1:{}", server.port().expect("tcp"))
        .parse()
        .expect("addr");
    let delay = Duration::from_millis(20);
    let proxy = DelayProxy::start(upstream, delay).expect("proxy");
    let stream = TcpStream::connect(proxy.addr()).expect("connect");
    let mut reader = BufReader::new(stream.try_clone().expect("clone"));
    let mut w = stream;
    let mut line = String::new();

    // Five commands, each waiting for its reply: five delays at least.
    let started = Instant::now();
    for _ in 0..5 {
        w.write_all(b"*1\r\n$4\r\nPING\r\n").expect("write");
        line.clear();
        reader.read_line(&mut line).expect("read");
        assert_eq!(line, "+PONG\r\n");
    }
    assert!(started.elapsed() >= delay * 5, "{:?}", started.elapsed());

    // Five commands in one write: the delay once (far less than five).
    let started = Instant::now();
    w.write_all(&b"*1\r\n$4\r\nPING\r\n".repeat(5))
        .expect("write");
    for _ in 0..5 {
        line.clear();
        reader.read_line(&mut line).expect("read");
        assert_eq!(line, "+PONG\r\n");
    }
    let took = started.elapsed();
    assert!(took >= delay && took < delay * 4, "{took:?}");
    // The server itself still answers directly.
    assert!(server.cmd(&["PING"]).is_ok());
}
