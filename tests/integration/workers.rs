//! The Worker (`tests/guests/worker-probe`, routes `/w/`): requests on its routes reach it
//! whole, other URLs still reach objects directly; it calls objects by RPC and forwards
//! requests (a WebSocket upgrade too) with `stub.fetch`; its vars; its failures.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::connect_async;
use tokio_tungstenite::tungstenite::Message;

use crate::harness::{components, Options, Server};

fn server() -> Server {
    let worker = &components().worker;
    Server::start_with(Options {
        extra: format!(
            "[worker]\ncomponent = {worker:?}\nroutes = [\"/w/\"]\ncpu-limit = \"1s\"\n\
             bindings = {{ PROBE = \"probe\" }}\nvars = {{ GREETING = \"hello\", MODE = \"test\" }}\n"
        ),
        ..Options::default()
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn a_worker_owns_its_routes_and_calls_objects_by_rpc() {
    let server = server();
    let (status, body) = server.get("/w/env?x=1").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["url"], json!("/w/env?x=1"));
    assert_eq!(
        body["vars"],
        json!([["GREETING", "hello"], ["MODE", "test"]])
    );
    let args = "%5B%22n%22%2C4%5D"; // ["n",4]
    let (_, body) = server
        .get(&format!("/w/call?name=b&method=add&args={args}"))
        .await;
    assert_eq!(body, json!({"ok": 4}));
    let (_, body) = server
        .get(&format!("/w/call?name=b&method=add&args={args}"))
        .await;
    assert_eq!(body, json!({"ok": 8}));
    // The object the worker reached is the one its URL names.
    let (status, body) = server.get("/probe/b/get?key=n").await;
    assert_eq!((status, &body["value"]), (200, &json!(8)));
    // A failing callee is an error the worker handles.
    let (_, body) = server
        .get("/w/call?name=b&method=fail&args=%5B%22no%22%5D")
        .await;
    assert_eq!(body["error"]["code"], json!("failed"), "{body}");
    // Outside its routes, the object URLs still work, and a path that only begins like a
    // route is not the worker's.
    let (status, _) = server.get("/probe/b/echo").await;
    assert_eq!(status, 200);
    let (status, _) = server.get("/wx/b/echo").await;
    assert_eq!(status, 404);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_worker_forwards_requests_to_objects_with_stub_fetch() {
    let server = server();
    let response = server
        .client
        .post(server.url("/w/forward/b/echo?q=2"))
        .header("x-custom", "yes")
        .body("twelve bytes")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    // The object's own header comes back unchanged.
    assert_eq!(response.headers()["x-probe"], "yes");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["name"], json!("b"));
    assert_eq!(body["method"], json!("POST"));
    assert_eq!(body["url"], json!("/echo?q=2"));
    assert_eq!(body["bodyLength"], json!(12));
    assert!(body["headers"]
        .as_array()
        .unwrap()
        .contains(&json!(["x-custom", "yes"])));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_websocket_upgrade_forwarded_by_a_worker_is_accepted_by_the_object() {
    let server = server();
    let (mut socket, response) = connect_async(server.ws_url("/w/forward/room/ws?tags=a"))
        .await
        .expect("the upgrade through the worker");
    assert_eq!(response.status(), 101);
    // The first message says how the attachment went; then the object echoes.
    let _ = socket.next().await;
    socket.send(Message::text("hi")).await.unwrap();
    let reply = loop {
        match socket.next().await.unwrap().unwrap() {
            Message::Text(text) => break text.to_string(),
            _ => continue,
        }
    };
    assert_eq!(reply, "echo hi");
    // The object lists the socket as its own.
    let (_, body) = server.get("/probe/room/ws/closes").await;
    assert_eq!(body["open"], json!(1), "{body}");
    socket.close(None).await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failing_worker_answers_500_and_the_next_request_is_served() {
    let server = server();
    // An instance serves one request after another...
    for expected in 1..=3 {
        let (_, body) = server.get("/w/instance").await;
        assert_eq!(body, json!({"served": expected}));
    }
    let (status, body) = server.get("/w/trap").await;
    assert_eq!(status, 500, "{body}");
    assert!(body["errorId"].is_string(), "{body}");
    // ...until it fails: the next request gets a new one.
    let (_, body) = server.get("/w/instance").await;
    assert_eq!(body, json!({"served": 1}));
    let (status, body) = server.get("/w/spin?ms=5000").await;
    assert_eq!(status, 500, "over the 1 s cpu-limit: {body}");
    let log = server.log();
    assert!(log.contains("CPU time limit"), "{log}");
    let (status, _) = server.get("/w/env").await;
    assert_eq!(status, 200);
    // A bad worker config is refused with what was wrong.
    let (status, _) = server.get("/w/nothing").await;
    assert_eq!(status, 404);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_worker_reloads_on_sighup_and_a_broken_one_is_refused() {
    // The worker's file is a copy the test may replace.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("worker.wasm");
    std::fs::copy(&components().worker, &file).unwrap();
    let server = Server::start_with(Options {
        extra: format!(
            "[worker]\ncomponent = {file:?}\nroutes = [\"/w/\"]\nbindings = {{ PROBE = \"probe\" }}\n"
        ),
        ..Options::default()
    });
    let (status, _) = server.get("/w/env").await;
    assert_eq!(status, 200);
    std::fs::write(&file, b"not a component").unwrap();
    server.signal(libc::SIGHUP);
    let refused = crate::harness::eventually(Duration::from_secs(60), || async {
        server.log().contains("cannot reload worker \"worker\"")
    })
    .await;
    assert!(refused, "{}", server.log());
    // The old code keeps serving.
    let (status, _) = server.get("/w/env").await;
    assert_eq!(status, 200);
    std::fs::copy(&components().worker, &file).unwrap();
    server.signal(libc::SIGHUP);
    let reloaded = crate::harness::eventually(Duration::from_secs(60), || async {
        server.log().contains("reloaded worker \"worker\"")
    })
    .await;
    assert!(reloaded, "{}", server.log());
    let (status, body) = server
        .get("/w/call?name=r&method=add&args=%5B%22n%22%2C1%5D")
        .await;
    assert_eq!((status, body), (200, json!({"ok": 1})));
    // The admin API's reload of everything reloads the worker too.
    let response = server
        .client
        .post(format!("{}/v1/reload", server.admin))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(
        body["workers"],
        json!([{"name": "worker", "reloaded": true, "error": null}])
    );
}
