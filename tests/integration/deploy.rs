//! Deploys with `wdo serve`: SIGHUP or the admin API compile the component files again; a
//! broken one is refused and the old code keeps serving; objects keep their storage and
//! sockets; the code version shows in the API and the metrics.

use std::path::Path;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

use crate::harness::{components, decode, eventually, Options, Server};

/// Replaces `wasm` as a build would: a new file renamed over the old one.
fn replace(wasm: &Path, with: &[u8]) {
    let next = wasm.with_extension("new");
    std::fs::write(&next, with).unwrap();
    std::fs::rename(&next, wasm).unwrap();
}

async fn version(server: &Server, namespace: &str) -> String {
    let response = server
        .client
        .get(format!("{}/v1/namespaces", server.admin))
        .send()
        .await
        .unwrap();
    let (_, value) = decode(response).await;
    value["namespaces"]
        .as_array()
        .unwrap()
        .iter()
        .find(|ns| ns["name"] == namespace)
        .unwrap()["version"]["hash"]
        .as_str()
        .unwrap()
        .to_string()
}

async fn reload(server: &Server, path: &str) -> (u16, Value) {
    let url = format!("{}{path}", server.admin);
    decode(server.client.post(url).send().await.unwrap()).await
}

fn hot_server(dir: &Path, component: &Path) -> Server {
    let wasm = dir.join("hot.wasm");
    std::fs::copy(component, &wasm).unwrap();
    Server::start_with(Options {
        namespaces: vec![("hot".to_string(), wasm)],
        ..Options::default()
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn sighup_reloads_a_replaced_component_and_refuses_a_broken_one() {
    let dir = tempfile::tempdir().unwrap();
    let server = hot_server(dir.path(), &components().counter);
    let wasm = dir.path().join("hot.wasm");
    assert_eq!(
        server.get("/hot/x/increment").await,
        (200, json!({"count": 1}))
    );
    assert_eq!(
        server.get("/hot/x/echo").await.0,
        404,
        "the counter has no /echo"
    );
    let before = version(&server, "hot").await;
    let metric = |hash: &str| format!("wdo_code_version{{namespace=\"hot\",hash=\"{hash}\"}}");
    assert_eq!(server.metric(&metric(&before)).await, 1.0);

    replace(&wasm, &std::fs::read(&components().probe).unwrap());
    server.signal(libc::SIGHUP);
    let reloaded = eventually(Duration::from_secs(60), || async {
        server.get("/hot/x/echo").await.0 == 200
    })
    .await;
    assert!(reloaded, "the new code never served:\n{}", server.log());
    // The live object restarted on the new code with what the old code stored.
    assert_eq!(
        server.get("/hot/x/get?key=count").await,
        (200, json!({"value": 1}))
    );
    let after = version(&server, "hot").await;
    assert_ne!(after, before);
    assert_eq!(server.metric(&metric(&after)).await, 1.0);
    assert!(
        !server.metrics().await.contains(&metric(&before)),
        "the old version's series is gone"
    );

    replace(&wasm, b"not a component");
    server.signal(libc::SIGHUP);
    let refused = eventually(Duration::from_secs(30), || async {
        server.log().contains("cannot reload")
    })
    .await;
    assert!(
        refused,
        "the broken file was not reported:\n{}",
        server.log()
    );
    assert_eq!(
        server.get("/hot/y/echo").await.0,
        200,
        "the old code serves"
    );
    assert_eq!(version(&server, "hot").await, after);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_reload_call_says_why_it_refuses_broken_code_and_keeps_the_old() {
    let dir = tempfile::tempdir().unwrap();
    let server = hot_server(dir.path(), &components().counter);
    let wasm = dir.path().join("hot.wasm");
    assert_eq!(
        server.get("/hot/x/increment").await,
        (200, json!({"count": 1}))
    );
    let before = version(&server, "hot").await;

    replace(&wasm, b"not a component");
    let (status, value) = reload(&server, "/v1/namespaces/hot/reload").await;
    assert_eq!(status, 422, "{value}");
    let error = value["error"].as_str().unwrap();
    assert!(
        error.contains("hot") && error.contains("previous code keeps serving"),
        "{error}"
    );
    assert_eq!(
        server.get("/hot/x/increment").await,
        (200, json!({"count": 2}))
    );
    assert_eq!(version(&server, "hot").await, before);
    let (status, _) = reload(&server, "/v1/reload").await;
    assert_eq!(status, 422);

    replace(&wasm, &std::fs::read(&components().probe).unwrap());
    let (status, value) = reload(&server, "/v1/namespaces/hot/reload").await;
    assert_eq!(status, 200, "{value}");
    assert_eq!(value["namespaces"][0]["reloaded"], json!(true));
    assert_eq!(server.get("/hot/x/echo").await.0, 200);
    assert_ne!(version(&server, "hot").await, before);
    let (status, _) = reload(&server, "/v1/namespaces/nope/reload").await;
    assert_eq!(status, 404);
}

#[tokio::test(flavor = "multi_thread")]
async fn sockets_stay_open_across_a_reload() {
    let dir = tempfile::tempdir().unwrap();
    let server = hot_server(dir.path(), &components().chat);
    let url = server.ws_url("/hot/room/websocket?name=ann");
    let (mut client, _) = tokio_tungstenite::connect_async(url)
        .await
        .expect("connect");
    assert_eq!(next_json(&mut client).await["type"], "history");
    let (status, value) = reload(&server, "/v1/reload").await;
    assert_eq!(status, 200, "{value}");
    let message = json!({"type": "message", "text": "after the reload"});
    client
        .send(Message::Text(message.to_string().into()))
        .await
        .unwrap();
    let echoed = next_json(&mut client).await;
    assert_eq!(echoed["text"], "after the reload", "{echoed}");
}

type Client =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn next_json(client: &mut Client) -> Value {
    let read = tokio::time::timeout(Duration::from_secs(30), client.next());
    match read
        .await
        .expect("a message in time")
        .expect("open")
        .expect("ok")
    {
        Message::Text(text) => serde_json::from_str(&text).unwrap(),
        other => panic!("unexpected {other:?}"),
    }
}
