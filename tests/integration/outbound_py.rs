//! `wdo.http.fetch` from a Python object and worker (tests/guests/outbound-py) through the real host to
//! a real HTTP server on 127.0.0.1, with the config allowing exactly that host:port (and a
//! closed port): GET with a JSON answer, POST with a body echoed, a header round trip, a host
//! not in `allowed-outbound-hosts` and a refused connection, each a `FetchError` that says why.

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

use serde_json::{json, Value};

use crate::echo_server::{closed_port, EchoServer};
use crate::harness::{guest_target_dir, repo_root, Options, Server};
use crate::shaped_server::{ShapedServer, BIG};

/// The probe, built with the SDK's build.py (its toolchain installed by
/// `examples/build-py.sh`, which builds an example as a user would).
fn probe() -> &'static (PathBuf, PathBuf) {
    static BUILT: OnceLock<(PathBuf, PathBuf)> = OnceLock::new();
    BUILT.get_or_init(|| {
        let root = repo_root();
        let run = |command: &mut Command| {
            let status = command.status().expect("run the build");
            assert!(status.success(), "{command:?} failed");
        };
        run(Command::new(root.join("examples/build-py.sh"))
            .args(["leaderboard-py/leaderboard.py", "Leaderboard"]));
        let out = guest_target_dir().join("outbound-py.wasm");
        run(Command::new(root.join("guest-sdk/python/.venv/bin/python"))
            .arg(root.join("guest-sdk/python/build.py"))
            .arg(root.join("tests/guests/outbound-py/outbound.py"))
            .args(["--class", "OutboundProbe", "--out"])
            .arg(&out));
        let worker = guest_target_dir().join("outbound-py-worker.wasm");
        run(Command::new(root.join("guest-sdk/python/.venv/bin/python"))
            .arg(root.join("guest-sdk/python/build.py"))
            .arg("--worker")
            .arg(root.join("tests/guests/outbound-py/worker.py"))
            .arg("--out")
            .arg(&worker));
        (out, worker)
    })
}

fn server(allowed: &[String]) -> Server {
    let (object, worker) = probe();
    let mut options = Options::with_namespaces(vec![("outbound-py".to_string(), object.clone())]);
    options.extra = format!(
        "allowed-outbound-hosts = {allowed:?}\n[worker]\ncomponent = {worker:?}\nroutes = [\"/w/\"]\n"
    );
    Server::start_with(options)
}

async fn fetch(server: &Server, plan: Value) -> (u16, Value) {
    server.post("/outbound-py/a/fetch", plan).await
}

#[tokio::test(flavor = "multi_thread")]
async fn python_fetch_gets_posts_round_trips_headers_and_says_why_it_failed() {
    let echo = EchoServer::start().await;
    let other = EchoServer::start().await;
    let closed = closed_port();
    let server = server(&[echo.addr.to_string(), format!("127.0.0.1:{closed}")]);
    let base = format!("http://{}", echo.addr);

    // GET with a JSON answer, and a header each way.
    let plan = json!({"url": format!("{base}/hello?x=1"), "headers": {"X-Written": "from python"}});
    let (status, answer) = fetch(&server, plan).await;
    assert_eq!((status, &answer["status"]), (200, &json!(200)), "{answer}");
    assert_eq!(answer["headers"]["x-echo"], json!("yes"), "{answer}");
    assert_eq!(
        answer["json"],
        json!({"method": "GET", "path": "/hello?x=1", "body": "", "written": "from python"})
    );

    // POST with a body, echoed back.
    let plan = json!({"url": format!("{base}/post"), "method": "POST", "body": "payload é"});
    let (status, answer) = fetch(&server, plan).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        (&answer["json"]["method"], &answer["json"]["body"]),
        (&json!("POST"), &json!("payload é"))
    );
    assert_eq!(echo.seen().len(), 2);

    // Hosts not in the list: refused before any connection, and the message says so.
    for url in [
        format!("http://{}/x", other.addr),
        format!("http://localhost:{}/x", echo.addr.port()),
    ] {
        let plan = json!({"url": url, "method": "POST", "body": "not sent"});
        let (status, answer) = fetch(&server, plan).await;
        assert_eq!(status, 502, "{answer}");
        assert_eq!(
            (&answer["type"], &answer["refused"]),
            (&json!("FetchError"), &json!(true)),
            "{answer}"
        );
        let message = answer["error"].as_str().unwrap();
        assert!(message.contains(&url), "{message}");
        assert!(message.contains("allowed-outbound-hosts"), "{message}");
    }
    assert_eq!(echo.seen().len(), 2);
    assert!(other.seen().is_empty());

    // Allowed, but nothing listens there.
    let url = format!("http://127.0.0.1:{closed}/");
    let (status, answer) = fetch(&server, json!({ "url": url })).await;
    assert_eq!(status, 502, "{answer}");
    assert_eq!(answer["refused"], json!(false));
    let message = answer["error"].as_str().unwrap();
    assert!(message.contains("connection was refused"), "{message}");
    assert!(message.contains(&url), "{message}");

    // Not a URL it can send.
    let (status, answer) = fetch(&server, json!({"url": "ftp://example.com/x"})).await;
    assert_eq!(status, 502);
    assert!(
        answer["error"].as_str().unwrap().contains("http://"),
        "{answer}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_python_worker_fetches_from_allowed_hosts_only() {
    let echo = EchoServer::start().await;
    let other = EchoServer::start().await;
    let server = server(&[echo.addr.to_string()]);
    let plan = json!({"url": format!("http://{}/w", echo.addr), "method": "POST", "body": "from the worker"});
    let (status, answer) = server.post("/w/fetch", plan).await;
    assert_eq!((status, &answer["status"]), (200, &json!(200)), "{answer}");
    let echoed: Value = serde_json::from_str(answer["text"].as_str().unwrap()).unwrap();
    assert_eq!(echoed["body"], json!("from the worker"));
    let url = format!("http://{}/x", other.addr);
    let (status, answer) = server.post("/w/fetch", json!({ "url": url })).await;
    assert_eq!(
        (status, &answer["refused"]),
        (502, &json!(true)),
        "{answer}"
    );
    assert!(answer["error"]
        .as_str()
        .unwrap()
        .contains("allowed-outbound-hosts"));
    assert!(other.seen().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn python_fetch_bounds_the_response_body() {
    let shaped = ShapedServer::start().await;
    let server = server(&[shaped.addr.to_string()]);
    let url = format!("http://{}/big", shaped.addr);
    let (status, answer) = fetch(&server, json!({ "url": url })).await;
    assert_eq!(status, 502, "{answer}");
    let message = answer["error"].as_str().unwrap();
    assert!(message.contains(&format!("({BIG} bytes)")), "{message}");
    assert!(message.contains("limit"), "{message}");
    let url = format!("http://{}/big-chunked", shaped.addr);
    let (status, answer) = fetch(&server, json!({ "url": url })).await;
    assert_eq!(status, 502, "{answer}");
    let message = answer["error"].as_str().unwrap();
    assert!(message.contains("is over fetch's limit"), "{message}");
    // Redirects are returned, not followed.
    let url = format!("http://{}/redirect", shaped.addr);
    let (status, answer) = fetch(&server, json!({ "url": url })).await;
    assert_eq!((status, &answer["status"]), (200, &json!(302)), "{answer}");
}
