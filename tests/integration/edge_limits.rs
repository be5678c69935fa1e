//! The HTTP edge's bounds through the real binary and raw connections: header and body read
//! timeouts, the connection cap, the WebSocket cap.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::connect_async;

use crate::harness::{Options, Server};
use crate::websockets::{connect, next};

/// Far longer than any timeout these tests configure.
const WAIT: Duration = Duration::from_secs(30);

async fn open(server: &Server) -> TcpStream {
    TcpStream::connect(server.base.trim_start_matches("http://"))
        .await
        .expect("connect")
}

/// Reads until the host closes the connection; returns what it sent. Panics if it stays
/// open for `WAIT`.
async fn read_until_closed(stream: &mut TcpStream) -> String {
    let mut received = Vec::new();
    let read = tokio::time::timeout(WAIT, async {
        let mut buffer = [0u8; 4096];
        loop {
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => return,
                Ok(n) => received.extend_from_slice(&buffer[..n]),
            }
        }
    })
    .await;
    assert!(read.is_ok(), "the connection was still open after {WAIT:?}");
    String::from_utf8_lossy(&received).into_owned()
}

/// Sends one keep-alive GET and reads its response (the counter's small JSON body).
async fn get(stream: &mut TcpStream, path: &str) -> String {
    let request = format!("GET {path} HTTP/1.1\r\nHost: wdo\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut received = Vec::new();
    let mut buffer = [0u8; 4096];
    tokio::time::timeout(WAIT, async {
        loop {
            let n = stream.read(&mut buffer).await.expect("read");
            assert!(n > 0, "closed before the response ended");
            received.extend_from_slice(&buffer[..n]);
            let text = String::from_utf8_lossy(&received);
            if let Some((head, body)) = text.split_once("\r\n\r\n") {
                let length: usize = head
                    .lines()
                    .find_map(|l| {
                        l.to_ascii_lowercase()
                            .strip_prefix("content-length: ")
                            .map(|v| v.trim().parse().unwrap())
                    })
                    .expect("content-length");
                if body.len() >= length {
                    return text.into_owned();
                }
            }
        }
    })
    .await
    .expect("a response in time")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_connection_that_stops_in_its_headers_or_sends_nothing_is_closed() {
    let server = Server::start_with(Options {
        extra: "header-read-timeout = \"1s\"".into(),
        ..Options::default()
    });
    let mut halfway = open(&server).await;
    halfway
        .write_all(b"GET /counter/a/get HTTP/1.1\r\nHost: wdo\r\nX-Slow: ")
        .await
        .unwrap();
    let answer = read_until_closed(&mut halfway).await;
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 408"),
        "{answer}"
    );
    let mut silent = open(&server).await;
    assert_eq!(read_until_closed(&mut silent).await, "");
    // A complete request on a fresh connection is served as usual.
    let mut fine = open(&server).await;
    assert!(get(&mut fine, "/counter/a/get")
        .await
        .starts_with("HTTP/1.1 200"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_body_that_stops_arriving_answers_408() {
    let server = Server::start_with(Options {
        extra: "body-read-timeout = \"1s\"".into(),
        ..Options::default()
    });
    let mut stream = open(&server).await;
    stream
        .write_all(
            b"POST /probe/a/echo HTTP/1.1\r\nHost: wdo\r\nContent-Length: 100\r\n\r\n0123456789",
        )
        .await
        .unwrap();
    let answer = read_until_closed(&mut stream).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(
        answer.contains("the request body did not arrive within 1s"),
        "{answer}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn beyond_max_connections_new_connections_are_closed_and_open_ones_keep_working() {
    let server = Server::start_with(Options {
        extra: "max-connections = 4".into(),
        ..Options::default()
    });
    let mut open_ones = Vec::new();
    for _ in 0..4 {
        let mut stream = open(&server).await;
        assert!(get(&mut stream, "/counter/c/increment")
            .await
            .starts_with("HTTP/1.1 200"));
        open_ones.push(stream);
    }
    let mut fifth = open(&server).await;
    // It may be closed before or after the request is written; either way, no answer.
    let _ = fifth
        .write_all(b"GET /counter/c/get HTTP/1.1\r\nHost: wdo\r\n\r\n")
        .await;
    assert_eq!(read_until_closed(&mut fifth).await, "");
    for stream in &mut open_ones {
        assert!(get(stream, "/counter/c/get")
            .await
            .starts_with("HTTP/1.1 200"));
    }
    // A place frees up when one closes.
    drop(open_ones.pop());
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let mut stream = open(&server).await;
        let request = b"GET /counter/c/get HTTP/1.1\r\nHost: wdo\r\nConnection: close\r\n\r\n";
        let _ = stream.write_all(request).await;
        if read_until_closed(&mut stream)
            .await
            .starts_with("HTTP/1.1 200")
        {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "no place freed up");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn beyond_max_websockets_an_upgrade_answers_503_until_one_closes() {
    let server = Server::start_with(Options {
        extra: "max-websockets = 2".into(),
        ..Options::default()
    });
    let mut first = connect(&server, "/probe/w/ws").await;
    next(&mut first).await;
    let mut second = connect(&server, "/probe/w2/ws").await;
    next(&mut second).await;
    let third = connect_async(server.ws_url("/probe/w3/ws")).await;
    let error = third.expect_err("over the cap").to_string();
    assert!(error.contains("503"), "{error}");
    drop(first);
    let deadline = tokio::time::Instant::now() + WAIT;
    while connect_async(server.ws_url("/probe/w3/ws")).await.is_err() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the closed socket never freed its place"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn guest_log_lines_beyond_the_rate_are_dropped_and_counted() {
    let server = Server::start_with(Options {
        namespace_extra: "log-lines-per-second = 10".into(),
        idle_timeout: "300ms",
        ..Options::default()
    });
    let (status, body) = server.get("/probe/loud/print-many?lines=500").await;
    assert_eq!((status, &body["printed"]), (200, &serde_json::json!(1000)));
    // Every line is either in the log or counted in a summary line, once the instance ends
    // (it is evicted when idle).
    let counted = || {
        let log = server.log();
        let logged = log.lines().filter(|l| l.contains("probe line ")).count() as u64;
        let dropped: u64 = log
            .lines()
            .filter_map(|l| {
                l.split(" guest log lines dropped")
                    .next()
                    .filter(|_| l.contains("guest log lines dropped"))
            })
            .map(|head| head.rsplit(' ').next().unwrap().parse::<u64>().unwrap())
            .sum();
        (logged, dropped)
    };
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let (logged, dropped) = counted();
        if logged + dropped == 1000 {
            assert!(
                logged < 1000 && dropped > 0,
                "{logged} logged, {dropped} dropped"
            );
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{logged} logged, {dropped} dropped"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
