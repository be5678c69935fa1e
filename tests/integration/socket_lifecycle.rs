//! A socket's life at its edges, seen from inside the object (the probe records every close
//! event it is given): upgrades whose client hung up before the `101`, clients that vanish,
//! turns whose socket effects are rolled back, and tags after a hibernated object wakes.

use futures_util::SinkExt;
use serde_json::{json, Value};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio_tungstenite::connect_async;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message;

use crate::harness::{Options, Server};
use crate::websockets::{connect, hibernated, next, WAIT};

const SETTLE: std::time::Duration = std::time::Duration::from_secs(60);

/// Sends a WebSocket upgrade request for `path` on a raw connection and hangs up after
/// `linger` (without reading the answer).
async fn upgrade_and_hang_up(server: &Server, path: &str, linger: std::time::Duration) {
    let address = server.base.trim_start_matches("http://").to_owned();
    let mut stream = TcpStream::connect(&address).await.expect("connect");
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
         Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await.expect("write");
    tokio::time::sleep(linger).await;
    drop(stream);
}

async fn closes(server: &Server, object: &str) -> Value {
    let (status, value) = server.get(&format!("/probe/{object}/ws/closes")).await;
    assert_eq!(status, 200, "{value}");
    value
}

/// Polls the object's socket record until `done` holds; panics with the last one if it
/// never does within `timeout`.
async fn closes_when(
    server: &Server,
    object: &str,
    timeout: std::time::Duration,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let last = closes(server, object).await;
        if done(&last) {
            return last;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "never settled: {last}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn upgrades_whose_client_hung_up_leave_no_socket_and_each_gets_a_1006_close() {
    let server = Server::start();
    // The object is busy for seconds, so the upgrade requests wait in its inbox and their
    // clients hang up (after half a second, time for the host to read each request) before
    // any of them is accepted and answered.
    let busy = server.get("/probe/ghosts/spin?ms=5000");
    let ghosts = async {
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        let linger = std::time::Duration::from_millis(500);
        let ghosts = (0..40).map(|_| upgrade_and_hang_up(&server, "/probe/ghosts/ws", linger));
        futures_util::future::join_all(ghosts).await;
    };
    let ((status, _), ()) = tokio::join!(busy, ghosts);
    assert_eq!(status, 200);
    // Every accept that committed is matched by one close, and nothing stays listed.
    let last = closes_when(&server, "ghosts", SETTLE, |last| {
        last["open"] == json!(0)
            && last["accepts"].as_u64().unwrap() == last["closes"].as_array().unwrap().len() as u64
    })
    .await;
    assert!(
        last["accepts"].as_u64().unwrap() > 0,
        "no upgrade reached the object: {last}"
    );
    for close in last["closes"].as_array().unwrap() {
        assert_eq!(
            (&close["code"], &close["wasClean"]),
            (&json!(1006), &json!(false)),
            "{close}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_chat_room_counts_only_its_members_after_forty_upgrades_hung_up() {
    let server = Server::start();
    let mut watcher = connect(&server, "/chat/ghosts/websocket?name=watcher").await;
    assert_eq!(next(&mut watcher).await["type"], json!("history"));
    let ghosts = (0..40).map(|i| {
        let path = format!("/chat/ghosts/websocket?name=ghost{i}");
        let server = &server;
        async move { upgrade_and_hang_up(server, &path, std::time::Duration::ZERO).await }
    });
    futures_util::future::join_all(ghosts).await;
    let (mut joins, mut leaves) = (0, 0);
    let settled = tokio::time::timeout(SETTLE, async {
        loop {
            let stats = server.get("/chat/ghosts/stats").await.1;
            if stats["connections"] == json!(1) && joins == leaves {
                return;
            }
            // Every ghost that joined (its accept committed) leaves: its close handler ran.
            match tokio::time::timeout(std::time::Duration::from_millis(200), next(&mut watcher))
                .await
            {
                Ok(message) if message["type"] == json!("join") => joins += 1,
                Ok(message) if message["type"] == json!("leave") => leaves += 1,
                Ok(message) => panic!("unexpected {message}"),
                Err(_) => {}
            }
        }
    })
    .await;
    let stats = server.get("/chat/ghosts/stats").await.1;
    assert!(
        settled.is_ok(),
        "{joins} joins, {leaves} leaves, stats {stats}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_vanished_client_gives_1006_and_a_clean_close_gives_its_own_code() {
    let server = Server::start();
    let mut vanishing = connect(&server, "/probe/gone/ws").await;
    assert_eq!(next(&mut vanishing).await, json!({"attached": 2}));
    drop(vanishing);
    let mut polite = connect(&server, "/probe/gone/ws").await;
    assert_eq!(next(&mut polite).await, json!({"attached": 2}));
    polite
        .close(Some(CloseFrame {
            code: CloseCode::from(4000),
            reason: "bye".into(),
        }))
        .await
        .unwrap();
    let last = closes_when(&server, "gone", WAIT, |last| {
        last["closes"].as_array().unwrap().len() == 2 && last["open"] == json!(0)
    })
    .await;
    let mut seen = last["closes"].as_array().unwrap().clone();
    seen.sort_by_key(|close| close["code"].as_u64());
    assert_eq!(
        seen,
        vec![
            json!({"code": 1006, "reason": "WebSocket disconnected without sending Close frame.", "wasClean": false}),
            json!({"code": 4000, "reason": "bye", "wasClean": true}),
        ]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_sends_and_accept_of_a_rolled_back_turn_are_dropped() {
    let server = Server::start();
    let mut member = connect(&server, "/probe/rb/ws").await;
    assert_eq!(next(&mut member).await, json!({"attached": 2}));
    // A fetch that accepts, sends to its new socket and broadcasts, then rolls back.
    let refused = connect_async(server.ws_url("/probe/rb/ws/roll-back")).await;
    let error = refused
        .expect_err("a rolled-back accept is no upgrade")
        .to_string();
    assert!(error.contains("500"), "{error}");
    // A message whose handler broadcasts and sends, then fails.
    member.send(Message::text("send-then-fail")).await.unwrap();
    member.send(Message::text("after")).await.unwrap();
    // The first thing the member hears is the answer to its next message.
    assert_eq!(next(&mut member).await, json!("echo after"));
    let state = closes(&server, "rb").await;
    assert_eq!(state["open"], json!(1), "{state}");
    assert_eq!(state["accepts"], json!(1), "{state}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_hibernated_object_sees_the_same_tags_and_tag_lists_after_a_wake() {
    let server = Server::start_with(Options {
        idle_timeout: "300ms",
        ..Options::default()
    });
    let mut red_blue = connect(&server, "/probe/tags/ws?tags=red,blue").await;
    assert_eq!(next(&mut red_blue).await, json!({"attached": 2}));
    let mut blue = connect(&server, "/probe/tags/ws?tags=blue").await;
    assert_eq!(next(&mut blue).await, json!({"attached": 2}));
    let evictions = "wdo_evictions_total{namespace=\"probe\"}";
    assert!(
        hibernated(&server, "probe").await,
        "the object did not hibernate"
    );
    let evicted = server.metric(evictions).await;
    red_blue.send(Message::text("tags")).await.unwrap();
    assert_eq!(
        next(&mut red_blue).await,
        json!({"tags": ["red", "blue"], "withTag": {"red": 1, "blue": 2}, "all": 2})
    );
    blue.send(Message::text("tags")).await.unwrap();
    assert_eq!(
        next(&mut blue).await,
        json!({"tags": ["blue"], "withTag": {"blue": 2}, "all": 2})
    );
    assert!(
        server
            .metric("wdo_websocket_wakeups_total{namespace=\"probe\"}")
            .await
            >= 1.0,
        "the object answered without having hibernated (evictions {evicted})"
    );
}
