//! A chat member that stops reading while another keeps posting: the host holds at most
//! `max-websocket-queue` bytes for it, then closes its socket with 1008, and the room (its
//! object) gets the close event and carries on.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

use crate::harness::{Options, Server};

#[tokio::test]
async fn a_member_who_stops_reading_is_closed_with_1008_and_the_room_goes_on() {
    let server = Server::start_with(Options {
        // Above one burst the poster causes (20 messages of 32 KiB flushed by one commit), so
        // that only the member who does not read goes over it.
        extra: "max-websocket-queue = 4194304".into(),
        ..Options::default()
    });
    // The silent member: a tiny receive buffer, and nothing read after the handshake.
    let url = server.ws_url("/chat/slow/websocket?name=silent");
    let address = server.base.trim_start_matches("http://").to_owned();
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let stream = socket.connect(address.parse().unwrap()).await.unwrap();
    let (_silent, _) = tokio_tungstenite::client_async(url, stream)
        .await
        .expect("the silent member joins");

    let (poster, _) =
        tokio_tungstenite::connect_async(server.ws_url("/chat/slow/websocket?name=poster"))
            .await
            .expect("the poster joins");
    let (mut write, mut read) = poster.split();
    // The poster reads everything, and reports when the silent member left.
    let (left_tx, mut left) = tokio::sync::mpsc::unbounded_channel::<Value>();
    let reader = tokio::spawn(async move {
        while let Some(Ok(message)) = read.next().await {
            if let Message::Text(text) = message {
                let value: Value = serde_json::from_str(text.as_str()).unwrap_or(Value::Null);
                if value["type"] == "leave" || value["text"] == "still here" {
                    let _ = left_tx.send(value);
                }
            }
        }
    });
    let text = "x".repeat(32 << 10);
    let mut sent = 0;
    let leave = loop {
        if let Ok(value) = left.try_recv() {
            break value;
        }
        assert!(
            sent < 2000,
            "after {sent} messages of 32 KiB the silent member was still not closed: {}",
            server.log()
        );
        let message = json!({"type": "message", "text": text}).to_string();
        write.send(Message::text(message)).await.unwrap();
        sent += 1;
        if sent % 20 == 0 {
            // Let the room and the poster's reader catch up.
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    assert_eq!(leave, json!({"type": "leave", "name": "silent"}));
    // The room goes on for the one who reads.
    let message = json!({"type": "message", "text": "still here"}).to_string();
    write.send(Message::text(message)).await.unwrap();
    let echoed = tokio::time::timeout(Duration::from_secs(30), left.recv())
        .await
        .expect("the room answers")
        .unwrap();
    assert_eq!(echoed["name"], "poster");
    let (_, stats) = server.get("/chat/slow/stats").await;
    assert_eq!(stats["connections"], 1, "{stats}");
    assert!(
        server.log().contains("did not read"),
        "the close reason is logged or delivered: {}",
        server.log()
    );
    reader.abort();
}
