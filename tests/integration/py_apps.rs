//! Python applications through the real host: a Python object (tests/guests/py-caller)
//! calls the `leaderboard-py` example's RPC methods and `fetch` through its bindings, errors
//! reach it with their codes (failed, cycle, timeout, invalid-argument, unavailable), and its
//! `env` holds the config's bindings and vars; the example's Python worker serves its routes
//! through the leaderboard's RPC methods. Also runs the SDK's own Python tests (`test_sdk`).

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

use serde_json::{json, Value};

use crate::harness::{guest_target_dir, repo_root, Options, Server};

/// Every namespace here binds the same names: the leaderboard, the callers themselves, and
/// the Rust probe (tests/guests/probe), which has RPC methods and calls out with `/call`.
const ENV: &str = "bindings = { LEADERBOARD = \"leaderboard-py\", CALLER = \"py-caller\", \
                   PROBE = \"probe\" }\nvars = { GREETING = \"hello\" }";

/// The two objects' components, built once (the example as a user would, with
/// `examples/build-py.sh`), and the example's worker; a first server compiles them into the
/// shared cache.
fn components() -> &'static [(String, PathBuf); 3] {
    static BUILT: OnceLock<[(String, PathBuf); 3]> = OnceLock::new();
    BUILT.get_or_init(|| {
        let root = repo_root();
        run(Command::new(root.join("examples/build-py.sh"))
            .args(["leaderboard-py/leaderboard.py", "Leaderboard"]));
        let caller = guest_target_dir().join("py-caller.wasm");
        run(Command::new(root.join("guest-sdk/python/.venv/bin/python"))
            .arg(root.join("guest-sdk/python/build.py"))
            .arg(root.join("tests/guests/py-caller/caller.py"))
            .args(["--class", "Caller", "--out"])
            .arg(&caller));
        run(Command::new(root.join("guest-sdk/python/.venv/bin/python"))
            .arg(root.join("guest-sdk/python/build.py"))
            .arg("--worker")
            .arg(root.join("examples/leaderboard-py/worker.py"))
            .arg("--out")
            .arg(worker()));
        let built = [
            (
                "leaderboard-py".to_string(),
                root.join("examples/dist/leaderboard-py.wasm"),
            ),
            ("py-caller".to_string(), caller),
            ("probe".to_string(), probe()),
        ];
        let mut options = Options::with_namespaces(built.to_vec());
        options.namespace_extra = ENV.into();
        options.extra = worker_config();
        drop(Server::start_with(options));
        built
    })
}

/// The Rust probe, built as the harness builds it.
fn probe() -> PathBuf {
    let target = guest_target_dir();
    run(Command::new(env!("CARGO"))
        .args([
            "build",
            "--release",
            "--target",
            "wasm32-wasip2",
            "-p",
            "wdo-test-probe",
        ])
        .arg("--target-dir")
        .arg(&target)
        .current_dir(repo_root()));
    target.join("wasm32-wasip2/release/wdo_test_probe.wasm")
}

/// The example's worker (`examples/leaderboard-py/worker.py`).
fn worker() -> PathBuf {
    guest_target_dir().join("leaderboard-worker-py.wasm")
}

fn worker_config() -> String {
    format!(
        "[worker]\ncomponent = {:?}\nroutes = [\"/boards/\"]\n\
         bindings = {{ LEADERBOARD = \"leaderboard-py\" }}\n",
        worker()
    )
}

fn run(command: &mut Command) {
    let status = command
        .status()
        .unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"));
    assert!(status.success(), "{command:?} failed: {status}");
}

fn start(extra: &str) -> Server {
    let mut options = Options::with_namespaces(components().to_vec());
    options.namespace_extra = ENV.into();
    options.extra = extra.into();
    Server::start_with(options)
}

/// `caller` calls `method(args)` on `name` of `binding` through its stub: `{"result"}` or
/// `{"error": {"code", "message", ...}}`.
async fn call(
    server: &Server,
    caller: &str,
    binding: &str,
    name: &str,
    method: &str,
    args: Value,
) -> Value {
    let body = json!({"binding": binding, "name": name, "method": method, "args": args});
    let (status, answer) = server
        .post(&format!("/py-caller/{caller}/call"), body)
        .await;
    assert_eq!(status, 200, "{answer}");
    answer
}

async fn result(server: &Server, method: &str, args: Value) -> Value {
    let answer = call(server, "a", "LEADERBOARD", "weekly", method, args).await;
    assert!(answer.get("error").is_none(), "{method}: {answer}");
    answer["result"].clone()
}

/// The error of a call that must fail: (code, message).
async fn error(
    server: &Server,
    binding: &str,
    name: &str,
    method: &str,
    args: Value,
) -> (String, String) {
    let answer = call(server, "a", binding, name, method, args).await;
    let error = &answer["error"];
    assert!(error.is_object(), "{method} did not fail: {answer}");
    (
        error["code"].as_str().unwrap().into(),
        error["message"].as_str().unwrap().into(),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn a_python_object_calls_the_leaderboards_rpc_methods() {
    let server = start("");
    let submitted = result(&server, "submit", json!(["ann", 10])).await;
    assert_eq!(
        submitted,
        json!({"player": "ann", "best": 10, "improved": true, "rank": 1})
    );
    result(&server, "submit", json!(["bob", 30])).await;
    // Attribute access on the stub (`stub.submit(...)`) is the same call.
    let body = json!({"binding": "LEADERBOARD", "name": "weekly", "method": "submit",
                      "args": ["ann", 5], "attribute": true});
    let (_, lower) = server.post("/py-caller/a/call", body).await;
    assert_eq!(
        lower["result"],
        json!({"player": "ann", "best": 10, "improved": false, "rank": 2})
    );
    assert_eq!(
        result(&server, "top", json!([5])).await,
        json!([{"player": "bob", "score": 30, "rank": 1}, {"player": "ann", "score": 10, "rank": 2}])
    );
    assert_eq!(
        result(&server, "rank", json!(["ann"])).await,
        json!({"player": "ann", "score": 10, "rank": 2})
    );
    assert_eq!(
        result(&server, "rank", json!(["nobody"])).await,
        Value::Null
    );
    // Each call committed in the callee: its own HTTP answer shows the scores.
    let (status, top) = server.get("/leaderboard-py/weekly/top?n=1").await;
    assert_eq!(
        (status, top),
        (
            200,
            json!({"top": [{"player": "bob", "score": 30, "rank": 1}]})
        )
    );
    // Another board is another object.
    let other = call(&server, "a", "LEADERBOARD", "daily", "top", json!([])).await;
    assert_eq!(other, json!({"result": []}));

    // The name is called exactly as given; an `async def` is awaited.
    let camel = call(&server, "a", "CALLER", "b", "whoAmI", json!([])).await;
    assert_eq!(camel, json!({"result": {"camel": "b"}}));
    let snake = call(&server, "a", "CALLER", "b", "who_am_i", json!([])).await;
    assert_eq!(snake, json!({"result": {"snake": "b"}}));
    let doubled = call(&server, "a", "CALLER", "b", "double", json!([21])).await;
    assert_eq!(doubled, json!({"result": 42}));
}

#[tokio::test(flavor = "multi_thread")]
async fn rpc_errors_reach_the_caller_with_their_codes() {
    let server = start("");
    let lb = "LEADERBOARD";
    // The callee raised: `failed`, with its exception, and its writes are rolled back.
    let (code, message) = error(&server, lb, "w", "submit", json!(["bob", "x"])).await;
    assert_eq!(
        (code.as_str(), message.as_str()),
        ("failed", "ValueError: score must be a 64-bit int, not 'x'")
    );
    let (code, message) = error(&server, lb, "w", "submit", json!(["bob"])).await;
    assert_eq!(code, "failed");
    assert!(
        message.contains("missing 1 required positional argument: 'score'"),
        "{message}"
    );
    let (code, message) = error(&server, "CALLER", "b", "put_then_fail", json!(["k"])).await;
    assert_eq!(
        (code.as_str(), message.as_str()),
        ("failed", "ValueError: failing after writing k")
    );
    let read = call(&server, "a", "CALLER", "b", "read", json!(["k"])).await;
    assert_eq!(
        read,
        json!({"result": null}),
        "the failed call's write was kept"
    );

    // Names that are not public methods are refused, each with its reason.
    let refused = [
        ("_private", "Leaderboard._private is not callable through RPC: names beginning with _ are private"),
        ("__init__", "Leaderboard.__init__ is not callable through RPC: names beginning with _ are private"),
        ("fetch", "Leaderboard.fetch is not callable through RPC: it is the handler of the host's fetch events"),
        ("alarm", "Leaderboard.alarm is not callable through RPC: it is the handler of the host's alarm events"),
        ("websocket_close", "Leaderboard.websocket_close is not callable through RPC: it is the handler of the host's websocket_close events"),
        ("sql", "Leaderboard has no method 'sql'"),
        ("topScores", "Leaderboard has no method 'topScores'"),
    ];
    for (method, expected) in refused {
        let (code, message) = error(&server, lb, "w", method, json!([])).await;
        assert_eq!((code.as_str(), message.as_str()), ("failed", expected));
    }
    let (_, message) = error(&server, "CALLER", "b", "LIMIT", json!([])).await;
    assert_eq!(
        message,
        "Caller.LIMIT is not callable through RPC: it is a int, not a method"
    );
    let (_, message) = error(&server, "CALLER", "b", "getCount", json!([])).await;
    assert_eq!(
        message,
        "Caller has no method 'getCount' (did you mean 'get_count'?)"
    );

    // Refused by the host before it is sent.
    let long = "m".repeat(300);
    let (code, message) = error(&server, lb, "w", &long, json!([])).await;
    assert_eq!(code, "invalid-argument");
    assert!(message.contains("1 to 256 characters"), "{message}");
    // a calls b, which calls a back: refused at once with `cycle`, and b goes on.
    let relayed = call(
        &server,
        "a",
        "CALLER",
        "b",
        "relay",
        json!(["CALLER", "a", "whoAmI"]),
    )
    .await;
    let inner = &relayed["result"]["error"];
    assert_eq!(inner["code"], "cycle", "{relayed}");
    assert!(
        inner["message"]
            .as_str()
            .unwrap()
            .starts_with("call cycle: py-caller/"),
        "{relayed}"
    );
    // b calling a third object is no cycle.
    let relayed = call(
        &server,
        "a",
        "CALLER",
        "b",
        "relay",
        json!(["CALLER", "c", "whoAmI"]),
    )
    .await;
    assert_eq!(relayed, json!({"result": {"result": {"camel": "c"}}}));
}

#[tokio::test(flavor = "multi_thread")]
async fn rust_and_python_objects_call_each_other() {
    let server = start("");
    // The Rust probe calls the Python leaderboard...
    let probe_calls = |method: &str, args: Value| {
        let args = args.to_string().replace('"', "%22").replace(' ', "%20");
        let path =
            format!("/probe/r/call?binding=LEADERBOARD&name=mixed&method={method}&args={args}");
        let server = &server;
        async move { server.get(&path).await }
    };
    let (status, answer) = probe_calls("submit", json!(["ann", 3])).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        answer,
        json!({"ok": {"player": "ann", "best": 3, "improved": true, "rank": 1}})
    );
    let (_, answer) = probe_calls("_scores", json!([])).await;
    assert_eq!(
        answer,
        json!({"error": {"code": "failed", "message":
            "Leaderboard._scores is not callable through RPC: names beginning with _ are private"}})
    );
    // ... and the Python caller calls the Rust probe.
    let added = call(&server, "a", "PROBE", "p", "add", json!(["n", 4])).await;
    assert_eq!(added, json!({"result": 4}));
    let echoed = call(&server, "a", "PROBE", "p", "echo", json!([1, "two"])).await;
    assert_eq!(echoed["result"]["args"], json!([1, "two"]), "{echoed}");
    assert_eq!(echoed["result"]["name"], "p", "{echoed}");
    let (code, message) = error(&server, "PROBE", "p", "fail", json!(["no from Rust"])).await;
    assert_eq!(code, "failed");
    assert!(message.contains("no from Rust"), "{message}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_call_past_the_call_timeout_fails_with_timeout_and_the_callee_recovers() {
    let server = start("call-timeout = \"1s\"");
    let answer = call(&server, "a", "CALLER", "slow", "spin", json!([4])).await;
    let error = &answer["error"];
    assert_eq!(error["code"], "timeout", "{answer}");
    assert_eq!(error["retryable"], true, "{answer}");
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("call timeout of 1s"),
        "{answer}"
    );
    // The callee finishes its call; later ones are answered again.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let answer = call(&server, "a", "CALLER", "slow", "whoAmI", json!([])).await;
        if answer["result"] == json!({"camel": "slow"}) {
            break;
        }
        assert_eq!(answer["error"]["code"], "timeout", "{answer}");
        assert!(
            std::time::Instant::now() < deadline,
            "the callee never recovered: {answer}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_call_to_an_object_whose_inbox_is_full_fails_with_unavailable() {
    let server = std::sync::Arc::new(start("inbox-depth = 1"));
    let spin = |server: &std::sync::Arc<Server>| {
        let server = server.clone();
        tokio::spawn(async move { call(&server, "a", "CALLER", "busy", "spin", json!([10])).await })
    };
    // Both instances exist first, so the spin reaches `busy` at once.
    let warm = call(&server, "a", "CALLER", "busy", "whoAmI", json!([])).await;
    assert_eq!(warm, json!({"result": {"camel": "busy"}}));
    // `busy` spins in one call; one more event fits in its inbox, the next is refused (the
    // spin itself, if two calls of a round got there first).
    let mut spinning = spin(&server);
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(90);
    let mut round = 0;
    let refused = loop {
        if spinning.is_finished() {
            let answer = spinning.await.unwrap();
            if answer["error"]["code"] == "unavailable" {
                break answer;
            }
            assert_eq!(answer, json!({"result": "spun"}));
            spinning = spin(&server);
        }
        round += 1;
        let calls = (0..2).map(|i| {
            let server = server.clone();
            let caller = format!("c{round}-{i}");
            tokio::spawn(async move {
                call(&server, &caller, "CALLER", "busy", "whoAmI", json!([])).await
            })
        });
        // The call that is queued waits for the spin: only look at the answers that came.
        let mut answers = Vec::new();
        for call in calls {
            let waited = tokio::time::timeout(std::time::Duration::from_millis(500), call).await;
            if let Ok(answer) = waited {
                answers.push(answer.unwrap());
            }
        }
        if let Some(answer) = answers.iter().find(|a| a["error"]["code"] == "unavailable") {
            break answer.clone();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no call was refused: {answers:?}"
        );
    };
    assert_eq!(refused["error"]["retryable"], true, "{refused}");
    assert!(
        refused["error"]["message"]
            .as_str()
            .unwrap()
            .contains("overloaded"),
        "{refused}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_python_object_fetches_another_through_its_stub() {
    let server = start("");
    let fetch = |body: Value| {
        let server = &server;
        async move {
            let mut body = body;
            body["binding"] = json!("LEADERBOARD");
            body["name"] = json!("fetched");
            let (status, answer) = server.post("/py-caller/a/fetch", body).await;
            assert_eq!(status, 200, "{answer}");
            answer
        }
    };
    let submit = r#"{"player": "cy", "score": 7}"#;
    let answer = fetch(json!({"path": "/submit", "method": "POST", "body": submit})).await;
    assert_eq!(
        answer,
        json!({"status": 200, "ok": true, "contentType": "application/json",
               "body": {"player": "cy", "best": 7, "improved": true, "rank": 1}})
    );
    // A wdo.Request forwarded: its absolute URL's path and query reach the callee.
    let answer = fetch(json!({"path": "/top?n=1", "forward": true})).await;
    assert_eq!(
        answer["body"],
        json!({"top": [{"player": "cy", "score": 7, "rank": 1}]})
    );
    // The callee's 4xx answers are responses, not errors.
    let answer = fetch(json!({"path": "/nope"})).await;
    assert_eq!(
        (answer["status"].clone(), answer["ok"].clone()),
        (json!(404), json!(false))
    );
    let answer = fetch(json!({"path": "/submit", "method": "POST", "body": "[1]"})).await;
    assert_eq!(answer["status"], 400);
    assert_eq!(
        answer["body"]["error"],
        "the body must be a JSON object with player and score"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn env_holds_the_bindings_and_vars_and_ids_name_one_object() {
    let server = start("");
    let (status, env) = server.get("/py-caller/a/env").await;
    assert_eq!(status, 200, "{env}");
    assert_eq!(
        env["bindings"],
        json!({"CALLER": "py-caller", "LEADERBOARD": "leaderboard-py", "PROBE": "probe"})
    );
    assert_eq!(env["vars"], json!({"GREETING": "hello"}));
    assert_eq!(
        (env["greetingAttribute"].clone(), env["hasGreeting"].clone()),
        (json!("hello"), json!(true))
    );
    assert_eq!(
        env["missing"]["attribute"],
        "env has no binding or var 'NOPE' (it has: CALLER, LEADERBOARD, PROBE, GREETING)"
    );

    let (status, ids) = server.get("/py-caller/a/ids").await;
    assert_eq!(status, 200, "{ids}");
    let named = ids["named"].as_str().unwrap();
    assert_eq!(named.len(), 64);
    assert_eq!(
        (ids["name"].clone(), ids["sameName"].clone()),
        (json!("weekly"), json!(true))
    );
    assert_eq!(
        (ids["uniqueName"].clone(), ids["uniqueDiffers"].clone()),
        (Value::Null, json!(true))
    );
    assert_ne!(ids["unique"], ids["named"]);
    // id_from_string takes upper case and gives the canonical id, without a name.
    assert_eq!(ids["parsed"], named);
    assert_eq!(
        (ids["parsedEqualsNamed"].clone(), ids["parsedName"].clone()),
        (json!(true), Value::Null)
    );
    assert_eq!(ids["stubId"], ids["unique"]);
    assert_eq!(ids["stubByName"], "weekly");
    let errors = &ids["errors"];
    assert!(
        errors["short"]
            .as_str()
            .unwrap()
            .contains("must be 64 hex digits"),
        "{ids}"
    );
    assert!(
        errors["foreign"]
            .as_str()
            .unwrap()
            .contains("not valid for this namespace"),
        "{ids}"
    );
    assert_eq!(
        errors["getStr"],
        "get() takes a DurableObjectId, not str (make one with id_from_string)"
    );
    // The host's id for the same name: the object the stub reaches.
    result(&server, "submit", json!(["ann", 1])).await;
    let url = format!(
        "{}/v1/namespaces/leaderboard-py/objects/weekly",
        server.admin
    );
    let info: Value = server
        .client
        .get(url)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(info["id"], named, "{info}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_python_worker_serves_its_routes_through_the_leaderboards_rpc() {
    let server = start(&worker_config());
    let (status, answer) = server
        .post(
            "/boards/weekly/scores",
            json!({"player": "ann", "score": 5}),
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        answer,
        json!({"player": "ann", "best": 5, "improved": true, "rank": 1})
    );
    server
        .post(
            "/boards/weekly/scores",
            json!({"player": "bob", "score": 9}),
        )
        .await;
    let (status, top) = server.get("/boards/weekly/top?n=1").await;
    assert_eq!(
        (status, top),
        (
            200,
            json!({"board": "weekly", "top": [{"player": "bob", "score": 9, "rank": 1}]})
        )
    );
    let (status, rank) = server.get("/boards/weekly/players/ann").await;
    assert_eq!(
        (status, rank),
        (200, json!({"player": "ann", "score": 5, "rank": 2}))
    );
    // The board's ValueError becomes the worker's 400; its other answers are the worker's own.
    let (status, answer) = server.get("/boards/weekly/top?n=500").await;
    assert_eq!(
        (status, answer),
        (
            400,
            json!({"error": "n must be an int from 1 to 100, not 500"})
        )
    );
    let (status, answer) = server
        .post("/boards/weekly/scores", json!({"player": "", "score": 1}))
        .await;
    assert_eq!(status, 400, "{answer}");
    assert!(
        answer["error"]
            .as_str()
            .unwrap()
            .starts_with("player must be a non-empty str"),
        "{answer}"
    );
    let (status, answer) = server.get("/boards/weekly/players/zed").await;
    assert_eq!(
        (status, answer),
        (404, json!({"error": "zed has no score on weekly"}))
    );
    // Paths outside the worker's routes still reach objects directly: the same board.
    let (status, top) = server.get("/leaderboard-py/weekly/top?n=5").await;
    assert_eq!(status, 200, "{top}");
    assert_eq!(top["top"].as_array().map(Vec::len), Some(2), "{top}");
}
