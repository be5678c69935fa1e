//! The standard WebSocket API in objects (`new WebSocketPair()`, `ws.accept()`,
//! `addEventListener`), through Cloudflare's documented ChatRoom as published
//! (`examples/chat-seed/chat.ts`): history, join, messages, leave, and an object with such
//! an open socket is not evicted when idle (its listeners live in its instance).

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{connect_async, MaybeTlsStream, WebSocketStream};

use crate::harness::{Options, Server};

type Client = WebSocketStream<MaybeTlsStream<tokio::net::TcpStream>>;

async fn join(server: &Server, name: &str) -> Client {
    let url = server.ws_url(&format!("/chat-seed/lobby/websocket?name={name}"));
    let (client, response) = connect_async(url).await.expect("upgrade");
    assert_eq!(response.status(), 101);
    client
}

async fn next_json(client: &mut Client) -> Value {
    loop {
        let message = tokio::time::timeout(Duration::from_secs(30), client.next())
            .await
            .expect("a message within 30 s")
            .expect("the socket is open")
            .expect("a frame");
        if let Message::Text(text) = message {
            return serde_json::from_str(&text).unwrap();
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_reference_chat_room_runs_on_standard_websockets_and_stays_live_while_open() {
    let server = Server::start_with(Options {
        idle_timeout: "1s",
        ..Options::default()
    });
    let mut ann = join(&server, "ann").await;
    assert_eq!(
        next_json(&mut ann).await,
        json!({"type": "history", "messages": []})
    );
    let mut bob = join(&server, "bob").await;
    assert_eq!(
        next_json(&mut ann).await,
        json!({"type": "join", "name": "bob"})
    );
    assert_eq!(
        next_json(&mut bob).await,
        json!({"type": "history", "messages": []})
    );
    ann.send(Message::text(r#"{"type":"message","text":"hi"}"#))
        .await
        .unwrap();
    for client in [&mut ann, &mut bob] {
        let message = next_json(client).await;
        assert_eq!(message["type"], json!("message"), "{message}");
        assert_eq!(
            (&message["name"], &message["text"]),
            (&json!("ann"), &json!("hi"))
        );
    }
    // Three idle timeouts later the room still has its sessions: it was not evicted (an
    // evicted room would have lost the listeners and the `sessions` map).
    tokio::time::sleep(Duration::from_secs(3)).await;
    bob.send(Message::text(r#"{"type":"message","text":"still here"}"#))
        .await
        .unwrap();
    let message = next_json(&mut ann).await;
    assert_eq!(
        (&message["name"], &message["text"]),
        (&json!("bob"), &json!("still here"))
    );
    // Bob leaves: Ann is told.
    bob.close(None).await.unwrap();
    assert_eq!(
        next_json(&mut ann).await,
        json!({"type": "leave", "name": "bob"})
    );
    // The history was stored: a new member gets it.
    let mut cy = join(&server, "cy").await;
    let history = next_json(&mut cy).await;
    assert_eq!(
        history["messages"].as_array().unwrap().len(),
        2,
        "{history}"
    );
    // Without an upgrade, the room answers 426 as written.
    let response = server
        .client
        .get(server.url("/chat-seed/lobby/websocket"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 426);
    // Once every socket is closed, the room is evicted when idle like any object.
    ann.close(None).await.unwrap();
    cy.close(None).await.unwrap();
    let evicted = crate::harness::eventually(Duration::from_secs(30), || async {
        server
            .metric("wdo_evictions_total{namespace=\"chat-seed\"}")
            .await
            >= 1.0
    })
    .await;
    assert!(evicted, "the room was not evicted once its sockets closed");
}

/// The close frame's code, waiting at most 30 s (other frames are skipped).
async fn close_code(client: &mut Client) -> u16 {
    loop {
        let frame = tokio::time::timeout(Duration::from_secs(30), client.next())
            .await
            .expect("a close within 30 s");
        match frame {
            Some(Ok(Message::Close(Some(close)))) => return close.code.into(),
            Some(Ok(Message::Close(None))) | None | Some(Err(_)) => return 0,
            Some(Ok(_)) => continue,
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn sockets_whose_listeners_are_gone_are_closed_not_left_open() {
    let server = Server::start();
    // An operator's write discards the room's instance, and with it every listener: the
    // room's sockets close with 1011 at its next event instead of staying open to nobody.
    let mut ann = join(&server, "ann").await;
    next_json(&mut ann).await;
    let mut bob = join(&server, "bob").await;
    next_json(&mut bob).await;
    assert_eq!(next_json(&mut ann).await["type"], json!("join"));
    let response = server
        .client
        .put(format!(
            "{}/v1/namespaces/chat-seed/objects/lobby/kv/note",
            server.admin
        ))
        .body("\"set by an operator\"")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    bob.send(Message::text(r#"{"type":"message","text":"anyone?"}"#))
        .await
        .unwrap();
    assert_eq!(close_code(&mut ann).await, 1011);
    assert_eq!(close_code(&mut bob).await, 1011);
    // A new member is served by the new instance.
    let mut cy = join(&server, "cy").await;
    assert_eq!(next_json(&mut cy).await["type"], json!("history"));
    // A reload replaces the instance too: its sockets close with 1012 (service restart).
    server.signal(libc::SIGHUP);
    assert_eq!(close_code(&mut cy).await, 1012);
}
