//! The WebSocket broadcast floor (see `floors.rs`): scenario 5's broadcast rounds against a
//! minimal tokio-tungstenite server, with the same client. The server keeps no object, no
//! storage and no fsync: a text message from any socket goes straight back out to every
//! socket, one write per socket from that socket's own task, as wdo's connection tasks do.
//! What is left is the loopback TCP and WebSocket work of 1,000 sends and receives.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use futures_util::{SinkExt, StreamExt};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;

use crate::sockets::{broadcast_round, open, read_all};
use crate::stats::Summary;

type Outboxes = Arc<Mutex<Vec<mpsc::UnboundedSender<Message>>>>;

/// `rounds` broadcasts to `sockets` sockets, each timed until every socket has it (the first
/// round is left out, as in scenario 5).
pub async fn run(sockets: usize, rounds: usize) -> anyhow::Result<Summary> {
    let (addr_tx, addr_rx) = std::sync::mpsc::channel();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let outboxes = Outboxes::default();
    let registered = outboxes.clone();
    let server = std::thread::spawn(move || -> anyhow::Result<()> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()?;
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
            addr_tx.send(listener.local_addr()?)?;
            tokio::select! {
                _ = stop_rx => {}
                _ = accept_all(listener, outboxes) => {}
            }
            anyhow::Ok(())
        })
    });
    let addr = addr_rx
        .recv_timeout(Duration::from_secs(10))
        .context("the broadcast floor server did not start")?;
    let result = async {
        let (rounds_tx, mut rounds_rx) = mpsc::unbounded_channel::<u64>();
        let alive = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let mut sinks = Vec::with_capacity(sockets);
        for i in 0..sockets {
            let (sink, stream) = open(addr, "floor", &format!("f{i}")).await?.split();
            tokio::spawn(read_all(stream, Some(rounds_tx.clone()), alive.clone()));
            sinks.push(sink);
        }
        // A client's handshake can finish before the server's task has registered that
        // socket; a broadcast sent before then would miss it.
        let deadline = Instant::now() + Duration::from_secs(30);
        while registered.lock().expect("outboxes").len() < sockets {
            anyhow::ensure!(
                Instant::now() < deadline,
                "the broadcast floor server registered only {} of {sockets} sockets in 30 s",
                registered.lock().expect("outboxes").len()
            );
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        let mut latencies = Vec::new();
        let started = Instant::now();
        for round in 0..=rounds as u64 {
            let took = broadcast_round(&mut sinks[0], &mut rounds_rx, round, sockets).await?;
            if round > 0 {
                latencies.push(took.as_micros().min(u32::MAX as u128) as u32);
            }
        }
        let elapsed = started.elapsed();
        for mut sink in sinks {
            let _ = sink.close().await;
        }
        anyhow::Ok(Summary::new(latencies, 0, None, elapsed))
    }
    .await;
    let _ = stop_tx.send(());
    server
        .join()
        .map_err(|_| anyhow::anyhow!("the broadcast floor server panicked"))??;
    result
}

async fn accept_all(listener: tokio::net::TcpListener, outboxes: Outboxes) -> anyhow::Result<()> {
    loop {
        let (stream, _) = listener.accept().await?;
        stream.set_nodelay(true)?;
        let outboxes = outboxes.clone();
        tokio::spawn(async move {
            // The same buffers as wdo's connection tasks.
            let config = WebSocketConfig::default()
                .read_buffer_size(4096)
                .write_buffer_size(0);
            let Ok(socket) =
                tokio_tungstenite::accept_async_with_config(stream, Some(config)).await
            else {
                return;
            };
            let (mut sink, mut stream) = socket.split();
            let (tx, mut rx) = mpsc::unbounded_channel::<Message>();
            outboxes.lock().expect("outboxes").push(tx);
            let writer = tokio::spawn(async move {
                while let Some(message) = rx.recv().await {
                    if sink.send(message).await.is_err() {
                        break;
                    }
                }
            });
            while let Some(Ok(message)) = stream.next().await {
                if let Message::Text(_) = message {
                    for outbox in outboxes.lock().expect("outboxes").iter() {
                        let _ = outbox.send(message.clone());
                    }
                }
            }
            writer.abort();
        });
    }
}
