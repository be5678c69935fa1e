//! One event's WebSocket output is bounded (`max-event-sends`, `max-event-send-bytes`): the
//! send over a bound fails with `limit-exceeded` and a message naming it, what the event
//! queued before is still delivered, and the next event starts from zero.

use futures_util::SinkExt;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

use crate::harness::{Options, Server};
use crate::websockets::{connect, next, Client, WAIT};

fn server() -> Server {
    Server::start_with(Options {
        extra: "max-event-sends = 50\nmax-event-send-bytes = 1000".into(),
        ..Options::default()
    })
}

async fn command(client: &mut Client, text: &str) {
    client.send(Message::text(text.to_string())).await.unwrap();
}

/// The `count` messages the flood delivered, each of `size` bytes.
async fn receive(client: &mut Client, count: usize, size: usize) {
    for i in 0..count {
        assert_eq!(
            next(client).await,
            Value::String("x".repeat(size)),
            "message {i}"
        );
    }
}

/// What the probe recorded of its last flood, once that event has committed.
async fn report(server: &Server, room: &str) -> Value {
    let path = format!("/probe/{room}/ws/flood");
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let (status, report) = server.get(&path).await;
        assert_eq!(status, 200, "{report}");
        if !report.is_null() || std::time::Instant::now() > deadline {
            return report;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn one_event_sends_at_most_max_event_sends_messages() {
    let server = server();
    let mut client = connect(&server, "/probe/frames/ws").await;
    assert_eq!(next(&mut client).await, json!({"attached": 2}));
    command(&mut client, "flood 80 10").await;
    receive(&mut client, 50, 10).await;
    let report = report(&server, "frames").await;
    assert_eq!(report["sent"], json!(50), "{report}");
    assert_eq!(
        report["error"],
        json!("one event cannot queue more than 50 WebSocket messages and closes; this one would reach 51")
    );
    // The next event starts from zero, and the socket still works.
    command(&mut client, "echo-me").await;
    assert_eq!(next(&mut client).await, json!("echo echo-me"));
}

#[tokio::test(flavor = "multi_thread")]
async fn one_event_sends_at_most_max_event_send_bytes() {
    let server = server();
    let mut client = connect(&server, "/probe/bytes/ws").await;
    assert_eq!(next(&mut client).await, json!({"attached": 2}));
    command(&mut client, "flood 10 300").await;
    receive(&mut client, 3, 300).await;
    let report = report(&server, "bytes").await;
    assert_eq!(report["sent"], json!(3), "{report}");
    assert_eq!(
        report["error"],
        json!("one event cannot send more than 1000 bytes of WebSocket messages; this one would reach 1200")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_broadcast_counts_a_message_per_socket_and_its_bytes_once() {
    let server = server();
    let mut first = connect(&server, "/probe/room/ws").await;
    assert_eq!(next(&mut first).await, json!({"attached": 2}));
    let mut second = connect(&server, "/probe/room/ws").await;
    assert_eq!(next(&mut second).await, json!({"attached": 2}));
    // 25 broadcasts to 2 sockets are 50 messages (250 bytes): the 26th is refused.
    command(&mut first, "broadcast-flood 40 10").await;
    receive(&mut first, 25, 10).await;
    receive(&mut second, 25, 10).await;
    let report = report(&server, "room").await;
    assert_eq!(report["sent"], json!(25), "{report}");
    assert_eq!(
        report["error"],
        json!("LimitExceeded: one event cannot queue more than 50 WebSocket messages and closes; this one would reach 52")
    );
}
