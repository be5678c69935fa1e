//! Outbound HTTP from objects (the probe's `/outbound`) and workers (`/w/outbound`), through
//! wasi:http, to a real server on loopback: only hosts in `allowed-outbound-hosts` are
//! reached, a namespace's own list replaces the top-level one, a refused host and a closed
//! port are clear errors, and a request made during an event can reveal writes that the
//! event's failure then rolls back (the exposure the README's guarantees document).

use serde_json::json;

use crate::echo_server::{closed_port, EchoServer};
use crate::harness::{components, Options, Server};

fn server(allowed: &[String], namespace_extra: &str) -> Server {
    let worker = &components().worker;
    Server::start_with(Options {
        extra: format!(
            "allowed-outbound-hosts = {allowed:?}\n\
             [worker]\ncomponent = {worker:?}\nroutes = [\"/w/\"]\n"
        ),
        namespace_extra: namespace_extra.to_owned(),
        ..Options::default()
    })
}

fn encode(url: &str) -> String {
    url.replace(':', "%3A")
        .replace('/', "%2F")
        .replace('?', "%3F")
}

#[tokio::test(flavor = "multi_thread")]
async fn objects_and_workers_reach_the_allowed_hosts_and_no_others() {
    let echo = EchoServer::start().await;
    let closed = closed_port();
    let allowed = vec![echo.addr.to_string(), format!("127.0.0.1:{closed}")];
    let server = server(&allowed, "");
    let target = format!("http://{}/hello?x=1", echo.addr);

    // An object: GET, then POST with a body, both answered by the real server.
    let (status, body) = server
        .get(&format!("/probe/a/outbound?url={}", encode(&target)))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], json!(200));
    assert_eq!(body["header"], json!("yes"));
    let echoed: serde_json::Value = serde_json::from_str(body["body"].as_str().unwrap()).unwrap();
    assert_eq!(echoed["path"], json!("/hello?x=1"));
    assert_eq!(echoed["method"], json!("GET"));
    let (status, body) = server
        .get(&format!(
            "/probe/a/outbound?url={}&method=POST&body=payload",
            encode(&target)
        ))
        .await;
    assert_eq!(status, 200, "{body}");
    let echoed: serde_json::Value = serde_json::from_str(body["body"].as_str().unwrap()).unwrap();
    assert_eq!(
        (&echoed["method"], &echoed["body"]),
        (&json!("POST"), &json!("payload"))
    );

    // A worker.
    let (status, body) = server
        .get(&format!("/w/outbound?url={}", encode(&target)))
        .await;
    assert_eq!((status, &body["status"]), (200, &json!(200)), "{body}");
    assert_eq!(echo.seen().len(), 3);

    // Hosts not in the list: another port, and the same server under another name. Nothing
    // reaches the server; the guest gets an error that says why, and the log names the URL.
    let other = EchoServer::start().await;
    for url in [
        format!("http://{}/x", other.addr),
        format!("http://localhost:{}/x", echo.addr.port()),
    ] {
        for path in ["/probe/a/outbound", "/w/outbound"] {
            let (status, body) = server.get(&format!("{path}?url={}", encode(&url))).await;
            assert_eq!(status, 502, "{body}");
            assert_eq!(body["refused"], json!(true), "{body}");
            let message = body["error"].as_str().unwrap();
            assert!(message.contains("allowed-outbound-hosts"), "{message}");
            assert!(message.contains(&url), "{message}");
        }
    }
    assert_eq!(echo.seen().len(), 3);
    assert!(other.seen().is_empty());
    assert!(server.log().contains("is not in allowed-outbound-hosts"));

    // An allowed port where nothing listens.
    let url = format!("http://127.0.0.1:{closed}/");
    let (status, body) = server
        .get(&format!("/probe/a/outbound?url={}", encode(&url)))
        .await;
    assert_eq!(status, 502, "{body}");
    assert_eq!(body["refused"], json!(false));
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("connection was refused"),
        "{body}"
    );
    // Not a URL the client can send.
    let (status, body) = server.get("/probe/a/outbound?url=ftp%3A%2F%2Fx").await;
    assert_eq!(status, 502);
    assert!(
        body["error"].as_str().unwrap().contains("http://"),
        "{body}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_namespace_list_replaces_the_top_level_one_and_the_command_line_adds_to_it() {
    let echo = EchoServer::start().await;
    // Nothing for the namespaces; the worker keeps the top-level list.
    let server = server(&[echo.addr.to_string()], "allowed-outbound-hosts = []");
    let url = encode(&format!("http://{}/", echo.addr));
    let (status, body) = server.get(&format!("/probe/a/outbound?url={url}")).await;
    assert_eq!((status, &body["refused"]), (502, &json!(true)), "{body}");
    let (status, body) = server.get(&format!("/w/outbound?url={url}")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(echo.seen().len(), 1);
    // `--allow-outbound` adds to the top-level list (as for a wrangler.toml, which has none).
    let server = Server::start_with(Options {
        args: vec!["--allow-outbound".into(), echo.addr.to_string()],
        ..Options::default()
    });
    let (status, body) = server.get(&format!("/probe/a/outbound?url={url}")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(echo.seen().len(), 2);
    // A bad entry is refused at start, named.
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_wdo"))
        .args(["serve", "--allow-outbound", "ftp://x"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("\"ftp://x\"") && stderr.contains("http or https"),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_request_during_an_event_can_reveal_writes_its_failure_rolls_back() {
    let echo = EchoServer::start().await;
    let server = server(&[echo.addr.to_string()], "");
    let url = encode(&format!("http://{}/notify", echo.addr));
    // The event writes k, sends a request carrying it, then fails: rolled back.
    let (status, _) = server
        .get(&format!("/probe/a/outbound?url={url}&key=k&fail=1"))
        .await;
    assert_eq!(status, 500);
    // The outside saw the write...
    let seen = echo.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0]["written"], json!("written before the request"));
    // ...which the object does not have.
    let (_, body) = server.get("/probe/a/get?key=k").await;
    assert_eq!(body["value"], json!(null));
    // Without the failure, the write stays.
    let (status, _) = server
        .get(&format!("/probe/a/outbound?url={url}&key=k"))
        .await;
    assert_eq!(status, 200);
    let (_, body) = server.get("/probe/a/get?key=k").await;
    assert_eq!(body["value"], json!("written before the request"));
}
