//! Scenario 5: WebSockets with hibernation, on the chat example (EXAMPLES.md "chat"). wdo
//! serves `examples/chat` (Rust); workerd serves `examples/chat-js`, Cloudflare's Hibernation
//! API, with only its import changed (see `setup::workerd_config`).
//!
//! 1. The server is restarted, so that its resident memory (RSS) holds nothing of the other
//!    scenarios: that is the baseline.
//! 2. 10,000 sockets join: `rooms` rooms of `per_room` sockets and one room of
//!    `broadcast_sockets`. As the chat contract says, each join is announced to the room's
//!    other sockets; the client reads every message on every socket.
//! 3. Everything goes quiet until the rooms hibernate: wdo reports no live chat object (its
//!    idle timeout is the default 10 s); workerd is given 15 s. The server's RSS then is the
//!    "10,000 hibernated sockets" number.
//! 4. One socket of the big room sends `{"type":"message","text":"round-K"}`, `rounds` times,
//!    one after the other; each round is timed from the send until every socket of the room
//!    (the sender too) has received the broadcast. The chat stores each message durably
//!    before it is broadcast (output gate), so a round includes one commit with its fsync.
//!    The first round also wakes the hibernated room; it is reported apart.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, Semaphore};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

use crate::servers::{Runtime, Server};
use crate::stats::Summary;

pub(crate) type Socket = WebSocketStream<TcpStream>;

/// How big scenario 5 is.
#[derive(Debug, Clone)]
pub struct SocketSizes {
    pub rooms: usize,
    pub per_room: usize,
    pub broadcast_sockets: usize,
    pub rounds: usize,
}

impl SocketSizes {
    pub fn total(&self) -> usize {
        self.rooms * self.per_room + self.broadcast_sockets
    }
}

/// What scenario 5 measured, besides the broadcast latencies.
#[derive(Debug, Clone)]
pub struct SocketStats {
    /// Sockets open during the measurement.
    pub sockets: usize,
    /// Sockets the scenario tried to open.
    pub wanted: usize,
    /// Why the server took fewer than `wanted`, if it did.
    pub first_failure: Option<String>,
    /// Sockets in the broadcast room.
    pub in_big_room: usize,
    /// File descriptors the server had open with every socket.
    pub server_fds: Option<usize>,
    /// The server's RSS after a restart, before any socket.
    pub rss_before: Option<u64>,
    /// The server's RSS with every socket open and the rooms hibernated.
    pub rss_hibernated: Option<u64>,
    /// wdo: whether every room was hibernated (no live chat object) when RSS was read.
    pub hibernated: Option<bool>,
    /// How long joining every socket took.
    pub join_time: Duration,
    /// The first broadcast, which wakes the hibernated room.
    pub first_round: Duration,
    /// The server's CPU time (user + system) over the rounds after the first.
    pub round_cpu: Option<Duration>,
}

/// Runs scenario 5 and returns the broadcast rounds (after the first) and the stats.
pub async fn run(
    server: &mut Server,
    sizes: &SocketSizes,
) -> anyhow::Result<(Summary, SocketStats)> {
    server.restart()?;
    // A first request, so that the baseline includes a loaded chat component.
    crate::load::get_json(server.addr, "/chat/ws-warm/stats")
        .await
        .context("scenario 5: the chat stats")?;
    let rss_before = server.rss_bytes();
    let addr = server.addr;
    let (rounds_tx, mut rounds_rx) = mpsc::unbounded_channel::<u64>();
    let alive = Arc::new(AtomicUsize::new(0));

    // Join: the big room first, then the small ones, at most 64 handshakes at a time.
    let started = Instant::now();
    let mut plan = Vec::new();
    for i in 0..sizes.broadcast_sockets {
        plan.push(("ws-big".to_string(), format!("b{i}"), true));
    }
    for room in 0..sizes.rooms {
        for i in 0..sizes.per_room {
            plan.push((format!("ws-{room}"), format!("s{i}"), false));
        }
    }
    let gate = Arc::new(Semaphore::new(64));
    let mut joins = tokio::task::JoinSet::new();
    for (index, (room, name, watched)) in plan.into_iter().enumerate() {
        let Ok(permit) = gate.clone().acquire_owned().await else {
            break; // a join failed: the server is full
        };
        let watch = watched.then(|| rounds_tx.clone());
        let alive = alive.clone();
        let gate = gate.clone();
        joins.spawn(async move {
            let socket = open(addr, &room, &name).await;
            drop(permit);
            if socket.is_err() {
                gate.close();
            }
            let (sink, stream) = socket?.split();
            alive.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(read_all(stream, watch, alive));
            anyhow::Ok((index, sink))
        });
    }
    // A server that cannot take every socket (workerd runs out of file descriptors here) is
    // measured with the sockets it took: no new joins after the first failure.
    let mut sinks: HashMap<usize, SplitSink<Socket, Message>> = HashMap::new();
    let mut first_failure = None;
    while let Some(joined) = joins.join_next().await {
        match joined? {
            Ok((index, sink)) => {
                sinks.insert(index, sink);
            }
            Err(e) => {
                first_failure.get_or_insert_with(|| format!("{e:#}"));
            }
        }
    }
    let join_time = started.elapsed();
    eprintln!(
        "bench: {} sockets joined in {:.1} s{}; waiting for the rooms to hibernate",
        sinks.len(),
        join_time.as_secs_f64(),
        first_failure
            .as_deref()
            .map_or(String::new(), |e| format!(" (then: {e})"))
    );

    if let Some(failure) = first_failure {
        // The caller decides whether to measure again with fewer sockets.
        return Ok((
            Summary::new(Vec::new(), 1, Some(failure.clone()), join_time),
            SocketStats {
                sockets: sinks.len(),
                wanted: sizes.total(),
                first_failure: Some(failure),
                in_big_room: 0,
                server_fds: None,
                rss_before,
                rss_hibernated: None,
                hibernated: None,
                join_time,
                first_round: Duration::ZERO,
                round_cpu: None,
            },
        ));
    }
    let hibernated = match server.runtime() {
        Runtime::Wdo => Some(wait_until_no_live_chat(server, Duration::from_secs(60)).await),
        Runtime::Workerd => {
            tokio::time::sleep(Duration::from_secs(15)).await;
            None
        }
    };
    let open_now = alive.load(Ordering::SeqCst);
    anyhow::ensure!(
        open_now == sinks.len(),
        "scenario 5: {} sockets joined, but only {open_now} are still open; the server's log ends:\n{}",
        sinks.len(),
        server.log_tail()
    );
    let rss_hibernated = server.rss_bytes();
    let server_fds = server.open_files();
    let in_big_room = (0..sizes.broadcast_sockets)
        .filter(|i| sinks.contains_key(i))
        .count();

    // Broadcast rounds from the big room's first socket.
    let sender = sinks.get_mut(&0).context("the big room has no socket")?;
    let mut latencies = Vec::new();
    let mut first_round = Duration::ZERO;
    let mut cpu_before = None;
    let rounds_started = Instant::now();
    for round in 0..=sizes.rounds as u64 {
        let took = broadcast_round(sender, &mut rounds_rx, round, in_big_room)
            .await
            .context("scenario 5")?;
        if round == 0 {
            first_round = took;
            cpu_before = server.cpu_time();
        } else {
            latencies.push(took.as_micros().min(u32::MAX as u128) as u32);
        }
    }
    let elapsed = rounds_started.elapsed();
    let round_cpu = match (cpu_before, server.cpu_time()) {
        (Some(before), Some(after)) => Some(after.saturating_sub(before)),
        _ => None,
    };
    for (_, mut sink) in sinks {
        let _ = sink.close().await;
    }
    Ok((
        Summary::new(latencies, 0, None, elapsed),
        SocketStats {
            sockets: open_now,
            wanted: sizes.total(),
            first_failure: None,
            in_big_room,
            server_fds,
            rss_before,
            rss_hibernated,
            hibernated,
            join_time,
            first_round,
            round_cpu,
        },
    ))
}

/// One broadcast round: `sender` sends chat message `round-{round}`; returns the time until
/// `expected` sockets have reported it on `rounds` (each reader reports what it sees).
pub(crate) async fn broadcast_round(
    sender: &mut SplitSink<Socket, Message>,
    rounds: &mut mpsc::UnboundedReceiver<u64>,
    round: u64,
    expected: usize,
) -> anyhow::Result<Duration> {
    let text = format!("{{\"type\":\"message\",\"text\":\"round-{round}\"}}");
    let sent = Instant::now();
    sender.send(Message::Text(text.into())).await?;
    let mut received = 0;
    while received < expected {
        let got = tokio::time::timeout(Duration::from_secs(30), rounds.recv())
            .await
            .with_context(|| {
                format!("round {round}: {received} of {expected} sockets received the broadcast within 30 s")
            })?
            .context("every socket closed")?;
        if got == round {
            if received == 0 && std::env::var_os("WDO_BENCH_TRACE").is_some() {
                eprintln!("round {round}: first receipt after {:?}", sent.elapsed());
            }
            received += 1;
        }
    }
    Ok(sent.elapsed())
}

/// Opens one chat socket: `GET /chat/{room}/websocket?name={name}` with an upgrade.
pub(crate) async fn open(addr: SocketAddr, room: &str, name: &str) -> anyhow::Result<Socket> {
    let stream = TcpStream::connect(addr)
        .await
        .with_context(|| format!("cannot connect to {addr}"))?;
    stream.set_nodelay(true)?;
    let url = format!("ws://{addr}/chat/{room}/websocket?name={name}");
    // Small buffers, as the server's: tungstenite's default 128 KiB read buffer is zeroed on
    // every read, and 10,000 of them would make the client the bottleneck.
    let config = WebSocketConfig::default()
        .read_buffer_size(4096)
        .write_buffer_size(0);
    let (socket, _) =
        tokio_tungstenite::client_async_with_config(url.as_str(), stream, Some(config))
            .await
            .with_context(|| format!("WebSocket handshake for {url}"))?;
    Ok(socket)
}

/// Reads a socket until it closes; reports the round number of every broadcast it sees.
pub(crate) async fn read_all(
    mut stream: SplitStream<Socket>,
    watch: Option<mpsc::UnboundedSender<u64>>,
    alive: Arc<AtomicUsize>,
) {
    while let Some(Ok(message)) = stream.next().await {
        match message {
            Message::Text(text) => {
                if let (Some(watch), Some(round)) = (&watch, round_of(text.as_str())) {
                    let _ = watch.send(round);
                }
            }
            Message::Close(_) => break,
            _ => {}
        }
    }
    alive.fetch_sub(1, Ordering::SeqCst);
}

/// The K of a chat broadcast `{"type":"message",...,"text":"round-K",...}`.
fn round_of(text: &str) -> Option<u64> {
    if !text.contains("round-") {
        return None;
    }
    let value: serde_json::Value = serde_json::from_str(text).ok()?;
    if value["type"] != "message" {
        return None;
    }
    value["text"].as_str()?.strip_prefix("round-")?.parse().ok()
}

/// Polls wdo's `/metrics` until no chat object is live; false if `timeout` passes first.
async fn wait_until_no_live_chat(server: &Server, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(500)).await;
        if let Some(text) = server.metrics_text().await {
            let live: f64 = text
                .lines()
                .filter(|l| l.starts_with("wdo_live_objects{namespace=\"chat\"}"))
                .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
                .sum();
            if live == 0.0 {
                return true;
            }
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::round_of;

    #[test]
    fn round_numbers_come_only_from_chat_messages() {
        assert_eq!(
            round_of(r#"{"type":"message","name":"b0","text":"round-12","timestamp":1}"#),
            Some(12)
        );
        assert_eq!(round_of(r#"{"type":"join","name":"round-1"}"#), None);
        assert_eq!(round_of(r#"{"type":"message","text":"hello"}"#), None);
    }
}
