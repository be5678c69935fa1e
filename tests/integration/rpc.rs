//! Objects calling objects through stubs (the probe's `/call` and `/forward`, which answer
//! what came back): RPC results, errors the caller can catch, rollback of a failed callee,
//! call cycles, the call timeout, bad bindings and ids, and what a caller's rollback leaves.

use serde_json::{json, Value};

use crate::harness::{Options, Server};

fn server(extra: &str) -> Server {
    Server::start_with(Options {
        extra: extra.into(),
        namespace_extra: "bindings = { PROBE = \"probe\", COUNTER = \"counter\" }\n\
                          vars = { GREETING = \"hello\" }"
            .into(),
        ..Options::default()
    })
}

/// `/probe/<from>/call` to probe object `to`: (status, answer).
async fn call(server: &Server, from: &str, to: &str, method: &str, args: Value) -> (u16, Value) {
    let args = urlencode(&args.to_string());
    server
        .get(&format!(
            "/probe/{from}/call?name={to}&method={method}&args={args}"
        ))
        .await
}

fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

async fn value(server: &Server, object: &str, key: &str) -> Value {
    let (status, body) = server.get(&format!("/probe/{object}/get?key={key}")).await;
    assert_eq!(status, 200, "{body}");
    body["value"].clone()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_call_runs_in_the_callee_and_its_writes_are_committed_before_the_answer() {
    let server = server("");
    let (status, body) = call(&server, "a", "b", "add", json!(["n", 5])).await;
    assert_eq!((status, &body), (200, &json!({"ok": 5})));
    let (_, body) = call(&server, "a", "b", "add", json!(["n", 2])).await;
    assert_eq!(body, json!({"ok": 7}));
    // The callee is the object of that name, and saw the arguments.
    let (_, body) = call(&server, "a", "b", "echo", json!([1, "two", {"three": 3}])).await;
    assert_eq!(body["ok"]["name"], json!("b"));
    assert_eq!(body["ok"]["args"], json!([1, "two", {"three": 3}]));
    // Committed in the callee's own database: visible to its next event.
    assert_eq!(value(&server, "b", "n").await, json!(7));
    // The caller's database has none of it.
    assert_eq!(value(&server, "a", "n").await, Value::Null);
    // Calls are events of the callee like any other, serial with its requests.
    let calls: Vec<_> = (0..20)
        .map(|i| {
            let server = &server;
            async move { call(server, &format!("c{i}"), "shared", "add", json!(["n", 1])).await }
        })
        .collect();
    let answers = futures_util::future::join_all(calls).await;
    let mut sums: Vec<i64> = answers
        .iter()
        .map(|(_, b)| b["ok"].as_i64().unwrap())
        .collect();
    sums.sort();
    assert_eq!(sums, (1..=20).collect::<Vec<i64>>());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failing_callee_gives_the_caller_its_message_and_keeps_none_of_its_writes() {
    let server = server("");
    for (method, args, says) in [
        ("fail", json!(["the callee says no"]), "the callee says no"),
        ("trap", json!([]), "unreachable"),
        ("nonsense", json!([]), "no RPC method \"nonsense\""),
        ("add", json!(["only one argument"]), "bad arguments"),
    ] {
        let (status, body) = call(&server, "a", "b", method, args).await;
        // The caller's turn went on and answered.
        assert_eq!(status, 200, "{method}: {body}");
        assert_eq!(body["error"]["code"], json!("failed"), "{method}: {body}");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.contains(says), "{method}: {message}");
    }
    assert_eq!(value(&server, "b", "failed-write").await, Value::Null);
    // Of the four, only the trap is counted as one: the others are the methods' answers.
    let traps = server
        .metric("wdo_guest_failures_total{namespace=\"probe\"}")
        .await;
    assert_eq!(traps, 1.0);
    // The callee still serves.
    let (_, body) = call(&server, "a", "b", "add", json!(["n", 1])).await;
    assert_eq!(body, json!({"ok": 1}));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_callee_over_its_cpu_limit_is_an_error_for_the_caller() {
    let server = Server::start_with(Options {
        namespace_extra: "bindings = { PROBE = \"probe\" }\ncpu-limit = \"1s\"".into(),
        ..Options::default()
    });
    let (status, body) = call(&server, "a", "b", "loop", json!([])).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["error"]["code"], json!("failed"), "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("CPU time limit"), "{message}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_call_cycle_fails_at_once_instead_of_hanging() {
    let server = server("");
    // a → a.
    let (_, body) = call(&server, "a", "a", "echo", json!([])).await;
    assert_eq!(body["error"]["code"], json!("cycle"), "{body}");
    // a → b → a: b's call back into a fails, b's relay fails with that message, and a's
    // call to b gets it.
    let started = std::time::Instant::now();
    let (_, body) = call(
        &server,
        "a",
        "b",
        "relay",
        json!(["PROBE", "a", "echo", []]),
    )
    .await;
    assert_eq!(body["error"]["code"], json!("failed"), "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("call cycle"), "{message}");
    assert!(
        started.elapsed().as_secs() < 20,
        "it waited for the timeout"
    );
    // a → b → c is no cycle.
    let (_, body) = call(
        &server,
        "a",
        "b",
        "relay",
        json!(["PROBE", "c", "add", ["n", 3]]),
    )
    .await;
    assert_eq!(body, json!({"ok": 3}));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_call_that_takes_too_long_times_out() {
    let server = server("call-timeout = \"1s\"");
    let (status, body) = call(&server, "a", "b", "spin", json!([3000])).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["error"]["code"], json!("timeout"), "{body}");
    assert!(
        body["error"]["message"].as_str().unwrap().contains("1s"),
        "{body}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_bindings_and_ids_are_refused_with_what_was_wrong() {
    let server = server("");
    let (_, body) = server
        .get("/probe/a/call?binding=NOPE&name=b&method=echo")
        .await;
    assert_eq!(body["error"]["code"], json!("invalid-argument"), "{body}");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("no binding named \"NOPE\""));
    let (_, body) = server.get("/probe/a/call?id=zz&method=echo").await;
    assert_eq!(body["error"]["code"], json!("invalid-argument"), "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("64 hex"),
        "{body}"
    );
    // An id of another namespace (counter's) is not one of probe's.
    let (_, counter) = server.get("/counter/x/get").await;
    let _ = counter;
    let (_, echo) = server.get("/probe/x/echo").await;
    let probe_id = echo["id"].as_str().unwrap().to_owned();
    let (_, body) = server
        .get(&format!(
            "/probe/a/call?binding=COUNTER&id={probe_id}&method=get"
        ))
        .await;
    assert_eq!(body["error"]["code"], json!("invalid-argument"), "{body}");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("not valid for this namespace"));
    // A well-formed id of the namespace reaches that object.
    let (_, body) = server
        .get(&format!("/probe/a/call?id={probe_id}&method=echo"))
        .await;
    assert_eq!(body["ok"]["id"], json!(probe_id), "{body}");
    // A new unique id is an object no name maps to.
    let (_, body) = server.get("/probe/a/call?method=echo").await;
    assert_eq!(body["ok"]["name"], Value::Null, "{body}");
    // An object whose class has no RPC methods (the Rust counter defines none).
    let (_, body) = server
        .get("/probe/a/call?binding=COUNTER&name=x&method=increment")
        .await;
    assert_eq!(body["error"]["code"], json!("failed"), "{body}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_callers_rollback_leaves_the_callees_committed_writes() {
    let server = server("");
    let args = urlencode(&json!(["n", 1]).to_string());
    let (status, _) = server
        .get(&format!(
            "/probe/a/call?name=b&method=add&args={args}&write=mine&rollback=1"
        ))
        .await;
    assert_eq!(status, 500);
    // The caller's own write is gone; the callee's committed write stays.
    assert_eq!(value(&server, "a", "mine").await, Value::Null);
    assert_eq!(value(&server, "b", "n").await, json!(1));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stub_fetch_reaches_the_objects_fetch_handler() {
    let server = server("");
    let (status, body) = server
        .get("/probe/a/forward?name=b&path=/echo%3Fx%3D1")
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["name"], json!("b"));
    assert_eq!(body["url"], json!("/echo?x=1"));
    let headers = body["headers"].as_array().unwrap();
    assert!(
        headers.contains(&json!(["x-forwarded-by", "probe"])),
        "{body}"
    );
}
