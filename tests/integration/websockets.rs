//! WebSockets with hibernation through the real host and real clients: the chat contract,
//! ordering, auto-response, hibernation, abrupt disconnects, limits, shutdown.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{connect_async, MaybeTlsStream, WebSocketStream};

use crate::harness::{eventually, Options, Server};

pub(crate) type Client = WebSocketStream<MaybeTlsStream<TcpStream>>;

pub(crate) const WAIT: Duration = Duration::from_secs(10);

pub(crate) async fn connect(server: &Server, path: &str) -> Client {
    let (client, response) = connect_async(server.ws_url(path))
        .await
        .expect("websocket connect");
    assert_eq!(response.status(), 101);
    client
}

/// The next text message, as JSON (or as a string if it is not JSON).
pub(crate) async fn next(client: &mut Client) -> Value {
    loop {
        let message = tokio::time::timeout(WAIT, client.next())
            .await
            .expect("a message in time")
            .expect("open")
            .expect("no error");
        match message {
            Message::Text(text) => {
                return serde_json::from_str(&text).unwrap_or(Value::String(text.to_string()))
            }
            Message::Close(frame) => return json!({"closed": frame.map(|f| u16::from(f.code))}),
            _ => continue,
        }
    }
}

pub(crate) async fn send(client: &mut Client, value: Value) {
    client.send(Message::text(value.to_string())).await.unwrap();
}

/// The chat contract (EXAMPLES.md) and the host's WebSocket behaviour seen through it, run
/// against the Rust `chat` and the JavaScript `chat-js`: `websockets::js::...`.
macro_rules! chat_contract {
    ($language:ident => $namespace:literal: $($test:ident),* $(,)?) => {
        mod $language {
            $(
                #[tokio::test(flavor = "multi_thread")]
                async fn $test() {
                    super::$test($namespace).await;
                }
            )*
        }
    };
}

macro_rules! chat_languages {
    ($($language:ident => $namespace:literal),*) => {$(
        chat_contract!($language => $namespace:
            chat_history_join_message_and_leave,
            chat_without_upgrade_is_426,
            a_hundred_rapid_messages_arrive_in_order,
            auto_response_answers_while_hibernated_without_waking,
            a_hibernated_room_wakes_on_a_message_with_sockets_tags_and_attachments_intact,
            an_abrupt_disconnect_is_a_leave,
            client_pings_are_answered_by_the_host,
            a_message_over_the_size_limit_closes_the_socket_with_1009,
            host_shutdown_closes_sockets_with_1001,
            websocket_metrics_count_open_sockets_and_messages,
        );
    )*};
}

chat_languages!(rust => "chat", js => "chat-js");

async fn stats(server: &Server, ns: &str, room: &str) -> Value {
    server.get(&format!("/{ns}/{room}/stats")).await.1
}

async fn chat_history_join_message_and_leave(ns: &str) {
    let server = Server::start();
    let mut alice = connect(&server, &format!("/{ns}/r/websocket?name=alice")).await;
    assert_eq!(
        next(&mut alice).await,
        json!({"type": "history", "messages": []})
    );
    let mut bob = connect(&server, &format!("/{ns}/r/websocket?name=bob")).await;
    assert_eq!(
        next(&mut bob).await,
        json!({"type": "history", "messages": []})
    );
    assert_eq!(
        next(&mut alice).await,
        json!({"type": "join", "name": "bob"})
    );
    send(&mut alice, json!({"type": "message", "text": "hi"})).await;
    for client in [&mut alice, &mut bob] {
        let message = next(client).await;
        assert_eq!(
            (
                message["type"].clone(),
                message["name"].clone(),
                message["text"].clone()
            ),
            (json!("message"), json!("alice"), json!("hi"))
        );
        assert!(message["timestamp"].as_u64().unwrap() > 1_600_000_000_000);
    }
    bob.close(None).await.unwrap();
    assert_eq!(
        next(&mut alice).await,
        json!({"type": "leave", "name": "bob"})
    );
    let mut carol = connect(&server, &format!("/{ns}/r/websocket?name=carol")).await;
    let history = next(&mut carol).await;
    assert_eq!(history["messages"].as_array().unwrap().len(), 1);
    assert_eq!(history["messages"][0]["text"], json!("hi"));
    assert_eq!(history["messages"][0]["name"], json!("alice"));
    assert_eq!(
        next(&mut alice).await,
        json!({"type": "join", "name": "carol"})
    );
    let s = stats(&server, ns, "r").await;
    assert_eq!(
        (s["connections"].clone(), s["messages"].clone()),
        (json!(2), json!(1))
    );
}

async fn chat_without_upgrade_is_426(ns: &str) {
    let server = Server::start();
    let response = server
        .client
        .get(server.url(&format!("/{ns}/r/websocket?name=x")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 426);
    assert_eq!(response.text().await.unwrap(), "Expected WebSocket");
}

async fn a_hundred_rapid_messages_arrive_in_order(ns: &str) {
    let server = Server::start();
    let mut sender = connect(&server, &format!("/{ns}/fast/websocket?name=s")).await;
    next(&mut sender).await;
    let mut listener = connect(&server, &format!("/{ns}/fast/websocket?name=l")).await;
    next(&mut listener).await;
    next(&mut sender).await; // join
    for i in 0..100 {
        send(
            &mut sender,
            json!({"type": "message", "text": i.to_string()}),
        )
        .await;
    }
    for i in 0..100 {
        assert_eq!(next(&mut listener).await["text"], json!(i.to_string()));
    }
    assert_eq!(stats(&server, ns, "fast").await["messages"], json!(100));
}

pub(crate) async fn hibernated(server: &Server, ns: &str) -> bool {
    eventually(WAIT, || async {
        server
            .metric(&format!("wdo_live_objects{{namespace=\"{ns}\"}}"))
            .await
            == 0.0
            && server
                .metric(&format!("wdo_evictions_total{{namespace=\"{ns}\"}}"))
                .await
                >= 1.0
    })
    .await
}

async fn auto_response_answers_while_hibernated_without_waking(ns: &str) {
    let server = Server::start_with(Options {
        idle_timeout: "300ms",
        ..Options::default()
    });
    let mut client = connect(&server, &format!("/{ns}/h/websocket?name=a")).await;
    next(&mut client).await;
    assert!(hibernated(&server, ns).await, "the room did not hibernate");
    let activations = server
        .metric(&format!("wdo_activations_total{{namespace=\"{ns}\"}}"))
        .await;
    client.send(Message::text("ping")).await.unwrap();
    assert_eq!(next(&mut client).await, json!("pong"));
    assert_eq!(
        server
            .metric(&format!("wdo_activations_total{{namespace=\"{ns}\"}}"))
            .await,
        activations,
        "ping woke the room"
    );
    assert_eq!(
        server
            .metric(&format!(
                "wdo_websocket_wakeups_total{{namespace=\"{ns}\"}}"
            ))
            .await,
        0.0
    );
}

async fn a_hibernated_room_wakes_on_a_message_with_sockets_tags_and_attachments_intact(ns: &str) {
    let server = Server::start_with(Options {
        idle_timeout: "300ms",
        ..Options::default()
    });
    let mut alice = connect(&server, &format!("/{ns}/w/websocket?name=alice")).await;
    next(&mut alice).await;
    let mut bob = connect(&server, &format!("/{ns}/w/websocket?name=bob")).await;
    next(&mut bob).await;
    next(&mut alice).await;
    let wakeups = stats(&server, ns, "w").await["wakeups"].as_u64().unwrap();
    assert!(hibernated(&server, ns).await, "the room did not hibernate");
    send(
        &mut alice,
        json!({"type": "message", "text": "still here?"}),
    )
    .await;
    for client in [&mut alice, &mut bob] {
        let message = next(client).await;
        assert_eq!(
            message["name"],
            json!("alice"),
            "the attachment survived: {message}"
        );
    }
    let s = stats(&server, ns, "w").await;
    assert_eq!(s["wakeups"].as_u64().unwrap(), wakeups + 1, "{s}");
    assert_eq!(s["connections"], json!(2));
    assert_eq!(
        server
            .metric(&format!(
                "wdo_websocket_wakeups_total{{namespace=\"{ns}\"}}"
            ))
            .await,
        1.0
    );
}

async fn an_abrupt_disconnect_is_a_leave(ns: &str) {
    let server = Server::start();
    let mut alice = connect(&server, &format!("/{ns}/a/websocket?name=alice")).await;
    next(&mut alice).await;
    let mut bob = connect(&server, &format!("/{ns}/a/websocket?name=bob")).await;
    next(&mut bob).await;
    next(&mut alice).await;
    // Drop the TCP connection without a close frame.
    drop(bob);
    assert_eq!(
        next(&mut alice).await,
        json!({"type": "leave", "name": "bob"})
    );
    assert!(
        eventually(WAIT, || async {
            stats(&server, ns, "a").await["connections"] == json!(1)
        })
        .await
    );
}

async fn client_pings_are_answered_by_the_host(ns: &str) {
    let server = Server::start();
    let mut client = connect(&server, &format!("/{ns}/p/websocket?name=a")).await;
    next(&mut client).await;
    client
        .send(Message::Ping(b"hello".to_vec().into()))
        .await
        .unwrap();
    let pong = tokio::time::timeout(WAIT, async {
        loop {
            if let Message::Pong(payload) = client.next().await.unwrap().unwrap() {
                return payload;
            }
        }
    })
    .await
    .unwrap();
    assert_eq!(&pong[..], b"hello");
}

async fn a_message_over_the_size_limit_closes_the_socket_with_1009(ns: &str) {
    let server = Server::start_with(Options {
        extra: "max-websocket-message = 1024".into(),
        ..Options::default()
    });
    let mut client = connect(&server, &format!("/{ns}/big/websocket?name=a")).await;
    next(&mut client).await;
    // 1024 bytes exactly is accepted (and stored as a chat message).
    let text = "x".repeat(1024 - r#"{"type":"message","text":""}"#.len());
    send(&mut client, json!({"type": "message", "text": text})).await;
    assert_eq!(next(&mut client).await["type"], json!("message"));
    send(
        &mut client,
        json!({"type": "message", "text": format!("{text}x")}),
    )
    .await;
    assert_eq!(next(&mut client).await, json!({"closed": 1009}));
}

#[tokio::test(flavor = "multi_thread")]
async fn tag_and_attachment_limits_just_at_and_over_their_bounds() {
    let server = Server::start();
    let ten = (0..10)
        .map(|i| format!("t{i}"))
        .collect::<Vec<_>>()
        .join(",");
    let mut ok = connect(&server, &format!("/probe/l/ws?tags={ten}&attach=16384")).await;
    assert_eq!(next(&mut ok).await, json!({"attached": 16384}));
    let mut over = connect(&server, "/probe/l/ws?attach=16385").await;
    assert!(next(&mut over).await["error"]
        .as_str()
        .unwrap()
        .contains("16384"));
    let (status, value) = server.get(&format!("/probe/l/ws?tags={ten},t10")).await;
    // Not an upgrade request: the probe reports the SDK's refusal.
    assert_eq!(status, 426, "{value}");
    assert_eq!(
        refused_handshake(&server, &format!("/probe/l/ws?tags={ten},t10")).await,
        (
            400,
            json!({"error": "storage: limit exceeded: a WebSocket cannot have more than 10 tags; 11 were given"})
        )
    );
    let long = "x".repeat(256);
    let mut at = connect(&server, &format!("/probe/l/ws?tags={long}")).await;
    assert_eq!(next(&mut at).await, json!({"attached": 2}));
    assert_eq!(
        refused_handshake(&server, &format!("/probe/l/ws?tags={long}x")).await,
        (
            400,
            json!({"error": format!("storage: limit exceeded: tag \"{}…\" is longer than the maximum of 256 characters", &long[..32])})
        )
    );
}

/// The status and JSON body of a WebSocket handshake that the object refused.
async fn refused_handshake(server: &Server, path: &str) -> (u16, Value) {
    match connect_async(server.ws_url(path)).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            let body = response.body().as_deref().unwrap_or_default();
            let body = serde_json::from_slice(body)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(body).into_owned()));
            (response.status().as_u16(), body)
        }
        Ok(_) => panic!("the handshake for {path} was accepted"),
        Err(other) => panic!("the handshake for {path} failed otherwise: {other}"),
    }
}

async fn host_shutdown_closes_sockets_with_1001(ns: &str) {
    let mut server = Server::start();
    let mut client = connect(&server, &format!("/{ns}/s/websocket?name=a")).await;
    next(&mut client).await;
    server.stop();
    assert_eq!(next(&mut client).await, json!({"closed": 1001}));
}

async fn websocket_metrics_count_open_sockets_and_messages(ns: &str) {
    let server = Server::start();
    let mut client = connect(&server, &format!("/{ns}/m/websocket?name=a")).await;
    next(&mut client).await;
    send(&mut client, json!({"type": "message", "text": "x"})).await;
    next(&mut client).await;
    assert_eq!(
        server
            .metric(&format!("wdo_websockets_open{{namespace=\"{ns}\"}}"))
            .await,
        1.0
    );
    assert!(
        server
            .metric(&format!(
                "wdo_websocket_messages_total{{namespace=\"{ns}\",direction=\"in\"}}"
            ))
            .await
            >= 1.0
    );
    assert!(
        server
            .metric(&format!(
                "wdo_websocket_messages_total{{namespace=\"{ns}\",direction=\"out\"}}"
            ))
            .await
            >= 2.0
    );
    drop(client);
    assert!(
        eventually(WAIT, || async {
            server
                .metric(&format!("wdo_websockets_open{{namespace=\"{ns}\"}}"))
                .await
                == 0.0
        })
        .await
    );
}
