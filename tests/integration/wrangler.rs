//! A Cloudflare Workers project served from its `wrangler.toml` as written for Cloudflare
//! (`tests/guests/wrangler-project`: every class of the reference, Counter, Worker, GameRoom,
//! ChatRoom, HibernatableChat, DelayedQueue and RateLimiter, in TypeScript as published,
//! behind a router), from another working directory: the host builds it, the router
//! receives every request, the reference Worker reaches the Counter by name.

use std::path::Path;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{connect_async, MaybeTlsStream, WebSocketStream};

use crate::harness::{eventually, repo_root, Options, Server};

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wrangler_project_runs_unchanged_through_its_worker() {
    let project = tempfile::tempdir().unwrap();
    copy_dir(
        &repo_root().join("tests/guests/wrangler-project"),
        project.path(),
    );
    let mut server = Server::start_with(Options {
        config_file: Some(project.path().join("wrangler.toml")),
        ..Options::default()
    });
    // The Worker forwards every request to the Counter named "global-counter".
    for expected in 1..=3 {
        let (status, body) = server.get("/increment").await;
        assert_eq!((status, body), (200, json!({ "count": expected })));
    }
    let (status, body) = server.get("/get").await;
    assert_eq!((status, body), (200, json!({ "count": 3 })));
    let (status, _) = server.get("/nothing-here").await;
    assert_eq!(status, 404);
    // The objects live next to the project file, in the namespace of their class.
    let data = project.path().join(".wdo/data/counter");
    assert!(data.is_dir(), "no {}", data.display());
    // Fields wdo does not support are named in one warning.
    let log = server.log();
    let warnings: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("does not support"))
        .collect();
    assert_eq!(warnings.len(), 1, "{log}");
    assert!(warnings[0].contains("kv_namespaces"), "{log}");
    // A restart reuses the build and the data.
    server.restart();
    let (status, body) = server.get("/get").await;
    assert_eq!((status, body), (200, json!({ "count": 3 })));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wrangler_file_wdo_cannot_serve_is_refused_saying_why() {
    let project = tempfile::tempdir().unwrap();
    let path = project.path().join("wrangler.jsonc");
    std::fs::write(
        &path,
        r#"{
  // JSON with comments, as wrangler accepts it
  "name": "x",
  "main": "src/index.ts",
  "durable_objects": { "bindings": [
    { "name": "ROOMS", "class_name": "Room", "script_name": "other-worker" },
  ] },
}"#,
    )
    .unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_wdo"))
        .args(["serve", "--config"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("script_name"), "{stderr}");
    assert!(stderr.contains("wrangler.jsonc"), "{stderr}");
}

type Client = WebSocketStream<MaybeTlsStream<tokio::net::TcpStream>>;

async fn connect(server: &Server, path: &str) -> Client {
    let (client, response) = connect_async(server.ws_url(path)).await.expect("upgrade");
    assert_eq!(response.status(), 101);
    client
}

async fn next_text(client: &mut Client) -> String {
    loop {
        let message = tokio::time::timeout(Duration::from_secs(30), client.next())
            .await
            .expect("a message within 30 s")
            .expect("the socket is open")
            .expect("a frame");
        if let Message::Text(text) = message {
            return text.to_string();
        }
    }
}

async fn next_json(client: &mut Client) -> Value {
    serde_json::from_str(&next_text(client).await).unwrap()
}

async fn admin(server: &Server, method: &str, path: &str, body: &'static str) -> u16 {
    server
        .client
        .request(method.parse().unwrap(), format!("{}{path}", server.admin))
        .body(body)
        .send()
        .await
        .expect("admin request")
        .status()
        .as_u16()
}

fn reference_project() -> (tempfile::TempDir, Server) {
    let project = tempfile::tempdir().unwrap();
    copy_dir(
        &repo_root().join("tests/guests/wrangler-project"),
        project.path(),
    );
    let server = Server::start_with(Options {
        config_file: Some(project.path().join("wrangler.toml")),
        ..Options::default()
    });
    (project, server)
}

#[tokio::test(flavor = "multi_thread")]
async fn the_reference_chat_rooms_run_in_the_wrangler_project() {
    let (_project, server) = reference_project();
    // ChatRoom (standard WebSockets): history, join, message, leave.
    let mut ann = connect(&server, "/chat/lobby/websocket?name=ann").await;
    assert_eq!(
        next_json(&mut ann).await,
        json!({"type": "history", "messages": []})
    );
    let mut bob = connect(&server, "/chat/lobby/websocket?name=bob").await;
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
        assert_eq!(
            (&message["type"], &message["name"], &message["text"]),
            (&json!("message"), &json!("ann"), &json!("hi"))
        );
    }
    bob.close(None).await.unwrap();
    assert_eq!(
        next_json(&mut ann).await,
        json!({"type": "leave", "name": "bob"})
    );
    let mut cat = connect(&server, "/chat/lobby/websocket?name=cat").await;
    let history = next_json(&mut cat).await;
    assert_eq!(history["type"], json!("history"));
    assert_eq!(
        history["messages"].as_array().unwrap().len(),
        1,
        "{history}"
    );

    // HibernatableChat: a message goes to every socket, also after the instance is evicted
    // (the sockets belong to the object).
    let mut one = connect(&server, "/hib/room/ws").await;
    let mut two = connect(&server, "/hib/room/ws").await;
    one.send(Message::text("hello")).await.unwrap();
    assert_eq!(next_text(&mut one).await, "hello");
    assert_eq!(next_text(&mut two).await, "hello");
    let evictions = "wdo_evictions_total{namespace=\"hibernatable-chat\"}";
    let before = server.metric(evictions).await;
    let path = "/v1/namespaces/hibernatable-chat/objects/room/evict";
    assert_eq!(admin(&server, "POST", path, "").await, 200);
    let evicted = eventually(Duration::from_secs(30), || async {
        server.metric(evictions).await > before
    })
    .await;
    assert!(evicted, "{}", server.log());
    two.send(Message::text("again")).await.unwrap();
    assert_eq!(next_text(&mut one).await, "again");
    assert_eq!(next_text(&mut two).await, "again");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_reference_queue_limiter_and_game_room_run_in_the_wrangler_project() {
    let (_project, server) = reference_project();
    // DelayedQueue: two tasks, the alarm processes one at a time (processTask logs each).
    for task in ["first-task", "second-task"] {
        let (status, body) = server
            .post(
                "/queue/jobs/schedule",
                json!({"task": task, "delaySeconds": 1}),
            )
            .await;
        assert_eq!((status, body), (200, json!({"scheduled": true})));
    }
    let processed = eventually(Duration::from_secs(60), || async {
        server.log().contains("processed task second-task")
    })
    .await;
    let log = server.log();
    assert!(processed, "{log}");
    let first = log.find("processed task first-task").expect("first task");
    assert!(
        first < log.find("processed task second-task").unwrap(),
        "{log}"
    );

    // RateLimiter: allowed while under the limit, then 429 with Retry-After.
    let limit = json!({"key": "ann", "limit": 2, "windowMs": 60000});
    for remaining in [1, 0] {
        let (status, body) = server.post("/limit/api/check", limit.clone()).await;
        assert_eq!(
            (status, body),
            (200, json!({"allowed": true, "remaining": remaining}))
        );
    }
    let response = server
        .client
        .post(server.url("/limit/api/check"))
        .json(&limit)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 429);
    let retry: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["allowed"], json!(false));

    // GameRoom: its constructor loads the stored game and players in blockConcurrencyWhile,
    // then its fetch (a fragment) returns nothing: a 500, and the log says why.
    let (status, body) = server.get("/game/table/").await;
    assert_eq!(status, 500, "{body}");
    let kv = "/v1/namespaces/game-room/objects/table/kv";
    assert_eq!(
        admin(&server, "PUT", &format!("{kv}/gameState"), r#"{"round":1}"#).await,
        200
    );
    assert_eq!(
        admin(
            &server,
            "PUT",
            &format!("{kv}/player:ann"),
            r#"{"name":"ann"}"#
        )
        .await,
        200
    );
    let (status, body) = server.get("/game/table/").await;
    assert_eq!(status, 500, "{body}");
    let log = server.log();
    assert!(
        log.contains("GameRoom.fetch() did not return a Response (it returned undefined"),
        "{log}"
    );
    // A player entry that is not JSON fails the constructor's load: so it read them.
    assert_eq!(
        admin(&server, "PUT", &format!("{kv}/player:bob"), "not json").await,
        200
    );
    let (status, _) = server.get("/game/table/").await;
    assert_eq!(status, 500);
    assert!(
        server
            .log()
            .contains(r#"the value at key "player:bob" is not JSON"#),
        "{}",
        server.log()
    );
}
