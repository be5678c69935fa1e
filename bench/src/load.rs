//! The load generator: a closed loop of keep-alive HTTP/1.1 connections (hyper client), each
//! sending its next request as soon as the previous answer has been read in full.
//!
//! A run is bounded twice: by a total request count shared by all connections and by a
//! deadline; whichever comes first ends it. Every latency is recorded (microseconds), so the
//! percentiles are exact, not bucketed.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::client::conn::http1::SendRequest;
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use rand::{Rng, SeedableRng};
use tokio::net::TcpStream;

use crate::stats::Summary;

/// Which object each request goes to.
#[derive(Debug, Clone)]
pub enum Objects {
    /// Always the same path.
    One(String),
    /// `{prefix}{i}{suffix}` with `i` uniformly random in `0..count`.
    Random {
        prefix: String,
        count: u64,
        suffix: String,
    },
    /// `{prefix}{i}{suffix}` with `i` = the request's sequence number (each object once).
    Each { prefix: String, suffix: String },
}

impl Objects {
    fn path(&self, sequence: u64, rng: &mut impl Rng) -> String {
        match self {
            Objects::One(path) => path.clone(),
            Objects::Random {
                prefix,
                count,
                suffix,
            } => format!("{prefix}{}{suffix}", rng.random_range(0..*count)),
            Objects::Each { prefix, suffix } => format!("{prefix}{sequence}{suffix}"),
        }
    }
}

/// One closed-loop run.
#[derive(Debug, Clone)]
pub struct Load {
    pub addr: SocketAddr,
    pub method: Method,
    pub objects: Objects,
    pub connections: usize,
    /// Requests in all, over every connection.
    pub requests: u64,
    /// The run stops at this deadline even if requests remain.
    pub max_duration: Duration,
}

/// What each connection saw.
#[derive(Default)]
struct Tally {
    latencies_us: Vec<u32>,
    failures: u64,
    first_failure: Option<String>,
}

impl Load {
    /// Runs the load and summarises it. Connection failures are counted (and reconnected),
    /// not fatal: the summary says how many requests failed and the first reason.
    pub async fn run(&self) -> anyhow::Result<Summary> {
        self.run_on(&[self.addr]).await
    }

    /// Runs the load with its connections spread over `addrs` (connection `c` to
    /// `addrs[c % len]`), e.g. the nodes of a cluster.
    pub async fn run_on(&self, addrs: &[SocketAddr]) -> anyhow::Result<Summary> {
        anyhow::ensure!(!addrs.is_empty(), "a load needs an address");
        let next = Arc::new(AtomicU64::new(0));
        let started = Instant::now();
        let deadline = started + self.max_duration;
        let mut tasks = Vec::with_capacity(self.connections);
        for connection in 0..self.connections {
            let mut load = self.clone();
            load.addr = addrs[connection % addrs.len()];
            let next = next.clone();
            tasks.push(tokio::spawn(async move {
                load.connection(connection as u64, &next, deadline).await
            }));
        }
        let mut tally = Tally::default();
        for task in tasks {
            let one = task.await.context("a load connection panicked")?;
            tally.latencies_us.extend(one.latencies_us);
            tally.failures += one.failures;
            if tally.first_failure.is_none() {
                tally.first_failure = one.first_failure;
            }
        }
        let elapsed = started.elapsed();
        Ok(Summary::new(
            tally.latencies_us,
            tally.failures,
            tally.first_failure,
            elapsed,
        ))
    }

    async fn connection(&self, seed: u64, next: &AtomicU64, deadline: Instant) -> Tally {
        let mut rng = rand::rngs::SmallRng::seed_from_u64(0x5eed ^ seed);
        let mut tally = Tally::default();
        let mut sender: Option<SendRequest<Empty<Bytes>>> = None;
        loop {
            if Instant::now() >= deadline {
                break;
            }
            let sequence = next.fetch_add(1, Ordering::Relaxed);
            if sequence >= self.requests {
                break;
            }
            let path = self.objects.path(sequence, &mut rng);
            let started = Instant::now();
            let result = match sender.as_mut() {
                Some(s) => send(s, &self.method, &path, self.addr).await,
                None => match connect(self.addr).await {
                    Ok(mut s) => {
                        let r = send(&mut s, &self.method, &path, self.addr).await;
                        sender = Some(s);
                        r
                    }
                    Err(e) => Err(e),
                },
            };
            match result {
                Ok(()) => {
                    let us = started.elapsed().as_micros().min(u32::MAX as u128) as u32;
                    tally.latencies_us.push(us);
                }
                Err(e) => {
                    tally.failures += 1;
                    if tally.first_failure.is_none() {
                        tally.first_failure = Some(format!("{path}: {e:#}"));
                    }
                    // A fresh connection for the next request; pause so that a dead server
                    // does not turn the loop into a spin.
                    sender = None;
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            }
        }
        tally
    }
}

/// Opens one keep-alive HTTP/1.1 connection.
pub async fn connect(addr: SocketAddr) -> anyhow::Result<SendRequest<Empty<Bytes>>> {
    let stream = TcpStream::connect(addr)
        .await
        .with_context(|| format!("cannot connect to {addr}"))?;
    stream.set_nodelay(true)?;
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .context("HTTP handshake")?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(sender)
}

/// Sends one request and reads the whole answer; anything but 200 is an error.
pub async fn send(
    sender: &mut SendRequest<Empty<Bytes>>,
    method: &Method,
    path: &str,
    addr: SocketAddr,
) -> anyhow::Result<()> {
    request(sender, method, path, addr).await.map(|_| ())
}

/// Sends one request and returns the body of a 200 answer.
pub async fn request(
    sender: &mut SendRequest<Empty<Bytes>>,
    method: &Method,
    path: &str,
    addr: SocketAddr,
) -> anyhow::Result<Bytes> {
    sender.ready().await.context("connection closed")?;
    let request = Request::builder()
        .method(method.clone())
        .uri(path)
        .header(hyper::header::HOST, addr.to_string())
        .body(Empty::<Bytes>::new())
        .context("building a request")?;
    let response = sender
        .send_request(request)
        .await
        .context("sending a request")?;
    let status = response.status();
    let body = response
        .into_body()
        .collect()
        .await
        .context("reading an answer")?
        .to_bytes();
    if status != StatusCode::OK {
        anyhow::bail!("status {status}: {}", String::from_utf8_lossy(&body));
    }
    Ok(body)
}

/// `GET path` on a new connection, parsed as JSON (for checks between runs).
pub async fn get_json(addr: SocketAddr, path: &str) -> anyhow::Result<serde_json::Value> {
    let mut sender = connect(addr).await?;
    let body = request(&mut sender, &Method::GET, path, addr).await?;
    serde_json::from_slice(&body).with_context(|| format!("{path} did not answer JSON"))
}

/// One `POST` with a JSON body on its own connection, waiting up to `timeout` for the
/// answer; its status. For the long requests that run beside a measured load.
pub async fn post_status(
    addr: SocketAddr,
    path: &str,
    body: &str,
    timeout: std::time::Duration,
) -> anyhow::Result<u16> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await?;
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(body.as_bytes()).await?;
    let mut answer = Vec::new();
    tokio::time::timeout(timeout, stream.read_to_end(&mut answer))
        .await
        .with_context(|| format!("{path} did not answer within {timeout:?}"))??;
    let text = String::from_utf8_lossy(&answer);
    text.split_whitespace()
        .nth(1)
        .and_then(|status| status.parse().ok())
        .with_context(|| format!("{path}: no HTTP status in {text:?}"))
}
