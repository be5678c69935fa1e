//! `fetch` from JavaScript objects and workers (tests/guests/outbound-js) through the real
//! host to a real HTTP server on 127.0.0.1, with the config allowing exactly that host:port
//! (and a closed port): GET with a JSON answer, POST bodies of each kind echoed, a header
//! round trip, a host not in `allowed-outbound-hosts` and a refused connection, each a
//! TypeError whose message says why.

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

use serde_json::{json, Value};

use crate::echo_server::{closed_port, EchoServer};
use crate::harness::{guest_target_dir, repo_root, Options, Server};
use crate::shaped_server::{ShapedServer, BIG};

struct OutboundJs {
    object: PathBuf,
    worker: PathBuf,
}

fn wdo_js_build(args: &[&str], out: &PathBuf) {
    let root = repo_root();
    let status = Command::new("node")
        .arg(root.join("guest-sdk/js/bin/wdo-js.mjs"))
        .arg("build")
        .args(args)
        .arg(root.join("tests/guests/outbound-js/outbound.js"))
        .arg("--out")
        .arg(out)
        .status()
        .expect("run node");
    assert!(
        status.success(),
        "building the outbound guest ({args:?}) failed"
    );
}

fn guests() -> &'static OutboundJs {
    static BUILT: OnceLock<OutboundJs> = OnceLock::new();
    BUILT.get_or_init(|| {
        let object = guest_target_dir().join("outbound-js.wasm");
        wdo_js_build(&["--class", "OutboundProbe"], &object);
        let worker = guest_target_dir().join("outbound-js-worker.wasm");
        wdo_js_build(&["--worker"], &worker);
        OutboundJs { object, worker }
    })
}

/// A server with the object as `outbound-js` and the worker on `/w/`, allowed `allowed`.
fn server(allowed: &[String]) -> Server {
    let guests = guests();
    let mut options =
        Options::with_namespaces(vec![("outbound-js".to_string(), guests.object.clone())]);
    options.extra = format!(
        "allowed-outbound-hosts = {allowed:?}\n[worker]\ncomponent = {:?}\nroutes = [\"/w/\"]\n",
        guests.worker
    );
    Server::start_with(options)
}

/// The object's and the worker's answer to the same plan.
async fn both(server: &Server, plan: Value) -> [(u16, Value); 2] {
    [
        server.post("/outbound-js/a/fetch", plan.clone()).await,
        server.post("/w/fetch", plan).await,
    ]
}

fn echoed(answer: &Value) -> Value {
    serde_json::from_str(answer["text"].as_str().expect("a text body")).expect("echoed JSON")
}

#[tokio::test(flavor = "multi_thread")]
async fn js_fetch_gets_posts_and_round_trips_headers() {
    let echo = EchoServer::start().await;
    let server = server(&[echo.addr.to_string()]);
    let base = format!("http://{}", echo.addr);

    // GET with a JSON answer, and a header each way.
    let plan = json!({"url": format!("{base}/hello?x=1"), "headers": {"X-Written": "from js"}});
    for (status, answer) in both(&server, plan).await {
        assert_eq!(status, 200, "{answer}");
        assert_eq!(
            (&answer["status"], &answer["statusText"], &answer["ok"]),
            (&json!(200), &json!("OK"), &json!(true)),
            "{answer}"
        );
        assert_eq!(answer["headers"]["x-echo"], json!("yes"), "{answer}");
        assert_eq!(answer["headers"]["content-type"], json!("application/json"));
        assert_eq!(answer["url"], json!(format!("{base}/hello?x=1")));
        let echoed = echoed(&answer);
        assert_eq!(
            (&echoed["method"], &echoed["path"], &echoed["written"]),
            (&json!("GET"), &json!("/hello?x=1"), &json!("from js")),
            "{echoed}"
        );
    }

    // POST, with each kind of body, echoed back; a Request object as the input too.
    let kinds = [
        ("string", json!("plain text")),
        ("bytes", json!("some bytes")),
        ("buffer", json!("an array buffer")),
        ("params", json!("a=1&b=two")),
        ("json", json!({"n": 1, "s": "é"})),
        ("request", json!("through a Request")),
    ];
    for (kind, body) in kinds {
        let plan = json!({"url": format!("{base}/post"), "method": "POST", "body": body, "bodyKind": kind});
        for (status, answer) in both(&server, plan).await {
            assert_eq!(
                (status, &answer["status"]),
                (200, &json!(200)),
                "{kind}: {answer}"
            );
            let echoed = echoed(&answer);
            assert_eq!(echoed["method"], json!("POST"), "{kind}");
            let expected = match kind {
                "json" => body.to_string(),
                _ => body.as_str().unwrap().to_string(),
            };
            assert_eq!(echoed["body"], json!(expected), "{kind}");
        }
    }
    // PUT and a method of its own.
    for method in ["PUT", "PURGE"] {
        let plan = json!({"url": format!("{base}/m"), "method": method, "body": "x"});
        let [(status, answer), _] = both(&server, plan).await;
        assert_eq!(status, 200, "{answer}");
        assert_eq!(echoed(&answer)["method"], json!(method));
    }
    // 2 GETs, 12 POSTs, 4 more (the object and the worker each).
    assert_eq!(echo.seen().len(), 18);
}

#[tokio::test(flavor = "multi_thread")]
async fn js_fetch_to_a_host_not_allowed_or_a_closed_port_rejects_with_a_clear_type_error() {
    let echo = EchoServer::start().await;
    let other = EchoServer::start().await;
    let closed = closed_port();
    let server = server(&[echo.addr.to_string(), format!("127.0.0.1:{closed}")]);

    // Another port, and the same server under another name: refused before any connection.
    for url in [
        format!("http://{}/x", other.addr),
        format!("http://localhost:{}/x", echo.addr.port()),
    ] {
        let plan = json!({"url": url, "method": "POST", "body": "not sent"});
        for (status, answer) in both(&server, plan).await {
            assert_eq!(status, 502, "{answer}");
            assert_eq!(
                (&answer["name"], &answer["refused"]),
                (&json!("TypeError"), &json!(true)),
                "{answer}"
            );
            let message = answer["error"].as_str().unwrap();
            assert!(message.contains(&url), "{message}");
            assert!(message.contains("allowed-outbound-hosts"), "{message}");
        }
    }
    assert!(echo.seen().is_empty() && other.seen().is_empty());

    // Allowed, but nothing listens there.
    let url = format!("http://127.0.0.1:{closed}/");
    for (status, answer) in both(&server, json!({ "url": url })).await {
        assert_eq!(status, 502, "{answer}");
        assert_eq!(
            (&answer["name"], &answer["refused"]),
            (&json!("TypeError"), &json!(false))
        );
        let message = answer["error"].as_str().unwrap();
        assert!(message.contains("connection was refused"), "{message}");
        assert!(message.contains(&url), "{message}");
    }

    // Not something fetch can send.
    let plan = json!({"url": "ftp://example.com/x"});
    let [(status, answer), _] = both(&server, plan).await;
    assert_eq!(status, 502);
    assert!(
        answer["error"].as_str().unwrap().contains("not supported"),
        "{answer}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn js_fetch_follows_redirects_unless_asked_not_to_and_bounds_the_body() {
    let shaped = ShapedServer::start().await;
    let server = server(&[shaped.addr.to_string()]);
    let base = format!("http://{}", shaped.addr);

    let (status, answer) = server
        .post("/w/fetch", json!({"url": format!("{base}/redirect")}))
        .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        (&answer["status"], &answer["text"], &answer["url"]),
        (
            &json!(200),
            &json!("final"),
            &json!(format!("{base}/final"))
        )
    );
    let plan = json!({"url": format!("{base}/redirect"), "redirect": "manual"});
    let (_, answer) = server.post("/w/fetch", plan).await;
    assert_eq!(answer["status"], json!(302), "{answer}");
    assert_eq!(answer["headers"]["location"], json!("/final"));

    // Over 32 MiB: a clear error rather than an object out of memory.
    let (status, answer) = server
        .post(
            "/outbound-js/a/fetch",
            json!({"url": format!("{base}/big")}),
        )
        .await;
    assert_eq!(status, 502, "{answer}");
    let message = answer["error"].as_str().unwrap();
    assert!(message.contains(&format!("({BIG} bytes)")), "{message}");
    assert!(message.contains("limit"), "{message}");
    // The same without a content-length: the reading stops at the bound.
    let (status, answer) = server
        .post(
            "/outbound-js/a/fetch",
            json!({"url": format!("{base}/big-chunked")}),
        )
        .await;
    assert_eq!(status, 502, "{answer}");
    let message = answer["error"].as_str().unwrap();
    assert!(message.contains("is over fetch's limit"), "{message}");
}
