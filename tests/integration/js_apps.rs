//! Applications in JavaScript through the real host: JavaScript objects calling JavaScript
//! objects by RPC and `stub.fetch` (tests/guests/apps-js, the same class served as `apps-a`
//! and `apps-b`, each bound to both as `A` and `B`), ids and bad ids from `env`, what a
//! caller's rollback leaves of its callee's writes, a JavaScript worker in front of them
//! (the same module's default export), the gateway example, and the SDK's own Node unit
//! tests.

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

use serde_json::{json, Value};

use crate::harness::{guest_target_dir, repo_root, Options, Server};

struct AppsJs {
    object: PathBuf,
    worker: PathBuf,
}

fn wdo_js_build(args: &[&str], module: &str, out: &PathBuf) {
    let root = repo_root();
    let status = Command::new("node")
        .arg(root.join("guest-sdk/js/bin/wdo-js.mjs"))
        .arg("build")
        .args(args)
        .arg(root.join(module))
        .arg("--out")
        .arg(out)
        .status()
        .expect("run node");
    assert!(status.success(), "building {module} ({args:?}) failed");
}

/// The probe built with `wdo-js build` (the JavaScript toolchain is installed by
/// `scripts/test.sh`), alone: these tests need none of the other guests.
fn apps_js() -> &'static AppsJs {
    static BUILT: OnceLock<AppsJs> = OnceLock::new();
    BUILT.get_or_init(|| {
        let module = "tests/guests/apps-js/apps.js";
        let object = guest_target_dir().join("apps-js.wasm");
        wdo_js_build(&["--class", "AppProbe"], module, &object);
        let worker = guest_target_dir().join("apps-js-worker.wasm");
        wdo_js_build(&["--worker"], module, &worker);
        // Compiled into the shared cache once here, not by every test's server at once.
        let options = Options::with_namespaces(vec![("apps-a".to_string(), object.clone())]);
        drop(Server::start_with(options));
        AppsJs { object, worker }
    })
}

fn start() -> Server {
    start_with_worker("")
}

/// With `worker` (a `[worker]` table, or nothing) in the config.
fn start_with_worker(worker: &str) -> Server {
    let probe = &apps_js().object;
    let mut options = Options::with_namespaces(vec![
        ("apps-a".to_string(), probe.clone()),
        ("apps-b".to_string(), probe.clone()),
    ]);
    options.extra = worker.to_string();
    options.namespace_extra =
        "bindings = { A = \"apps-a\", B = \"apps-b\" }\nvars = { GREETING = \"hello\" }".into();
    Server::start_with(options)
}

/// `caller` (in apps-a) calls `method(...args)` of `callee` (in apps-b) and answers what it got.
async fn call(server: &Server, caller: &str, callee: &str, method: &str, args: Value) -> Value {
    let body = json!({"binding": "B", "name": callee, "method": method, "args": args});
    let (status, answer) = server.post(&format!("/apps-a/{caller}/call"), body).await;
    assert_eq!(status, 200, "{answer}\n{}", server.log());
    answer
}

async fn stored(server: &Server, object: &str, key: &str) -> Value {
    let (status, answer) = server.get(&format!("/{object}/get?key={key}")).await;
    assert_eq!(status, 200, "{answer}");
    answer["value"].clone()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_js_object_calls_a_js_object_by_rpc_and_the_callee_commits() {
    let server = start();
    let add = json!(["n", 5]);
    assert_eq!(
        call(&server, "alice", "bob", "add", add.clone()).await,
        json!({"result": 5})
    );
    assert_eq!(
        call(&server, "alice", "bob", "add", add).await,
        json!({"result": 10})
    );
    assert_eq!(stored(&server, "apps-b/bob", "n").await, json!(10));
    let args = json!([1, "two", {"three": [3.5, null]}, [], true]);
    assert_eq!(
        call(&server, "alice", "bob", "echo", args.clone()).await,
        json!({ "result": args })
    );
    // The callee knows the name it was reached by, as if addressed by URL.
    let (_, bob) = server.get("/apps-b/bob/whoami").await;
    assert_eq!(
        call(&server, "alice", "bob", "whoami", json!([])).await,
        json!({ "result": bob })
    );
    assert_eq!(bob["name"], "bob");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_error_the_callee_throws_reaches_the_caller_with_its_message_and_undoes_its_writes() {
    let server = start();
    let body = json!({"binding": "B", "name": "bob", "method": "fail",
                      "args": ["f", "out of stock"], "then": "write"});
    assert_eq!(
        server.post("/apps-a/alice/call", body).await,
        (
            200,
            json!({"error": "out of stock", "code": "failed", "remote": true})
        )
    );
    assert_eq!(
        stored(&server, "apps-b/bob", "f").await,
        Value::Null,
        "the callee's write before its error was rolled back"
    );
    assert_eq!(
        stored(&server, "apps-a/alice", "after-call").await,
        json!(true),
        "the caller caught the error and its own event went on and committed"
    );
    // The callee's next call gets a fresh instance and works.
    assert_eq!(
        call(&server, "alice", "bob", "add", json!(["n", 1])).await,
        json!({"result": 1})
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn names_that_are_not_methods_of_the_class_are_refused_saying_why() {
    let server = start();
    let refused = [
        ("constructor", "the constructor is not a method"),
        ("_private", "names beginning with _ or # are private"),
        ("getter", "it is a getter, not a method"),
        (
            "hidden",
            "it is a property of the instance; only methods of the class are callable",
        ),
        (
            "env",
            "it is a property of the instance; only methods of the class are callable",
        ),
        ("missing", "the class has no such method"),
    ];
    for (method, why) in refused {
        assert_eq!(
            call(&server, "alice", "bob", method, json!([])).await,
            json!({
                "error": format!("{method:?} is not an RPC method of AppProbe: {why}"),
                "code": "failed",
                "remote": true,
            }),
            "{method}"
        );
    }
    let never = call(&server, "alice", "bob", "never", json!([])).await;
    assert_eq!(never["code"], "failed");
    assert!(
        never["error"]
            .as_str()
            .unwrap()
            .starts_with("AppProbe.never() did not complete"),
        "{never}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_call_back_into_the_waiting_caller_is_refused_as_a_cycle() {
    let server = start();
    let answer = call(
        &server,
        "alice",
        "bob",
        "callBack",
        json!(["A", "alice", "whoami"]),
    )
    .await;
    let inner = &answer["result"];
    assert_eq!(inner["code"], "cycle", "{answer}");
    let message = inner["error"].as_str().unwrap();
    assert!(
        message.starts_with("call cycle: apps-a/") && message.contains(" → apps-b/"),
        "{message}"
    );
    // A call back into a third object is no cycle.
    let answer = call(
        &server,
        "alice",
        "bob",
        "callBack",
        json!(["A", "carol", "whoami"]),
    )
    .await;
    assert_eq!(answer["result"]["result"]["name"], "carol", "{answer}");
}

#[tokio::test(flavor = "multi_thread")]
async fn stub_fetch_gives_the_object_the_path_method_body_and_headers() {
    let server = start();
    let body = json!({"binding": "B", "name": "bob", "path": "/deep/echo?q=1&r=two",
                      "method": "PUT", "body": "hello"});
    let (status, answer) = server.post("/apps-a/alice/fetch", body).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["status"], 200);
    assert_eq!(answer["type"], "application/json");
    let seen: Value = serde_json::from_str(answer["body"].as_str().unwrap()).unwrap();
    assert_eq!(
        seen,
        json!({"method": "PUT", "path": "/deep/echo?q=1&r=two", "body": "hello", "header": "yes"})
    );
    let body = json!({"binding": "B", "name": "bob", "path": "/nowhere"});
    let (_, answer) = server.post("/apps-a/alice/fetch", body).await;
    assert_eq!(answer["status"], 404);
    assert_eq!(answer["body"], "no route /nowhere");
}

#[tokio::test(flavor = "multi_thread")]
async fn env_has_the_bindings_and_vars_and_a_bad_or_foreign_id_is_a_clear_error() {
    let server = start();
    let (status, ids) = server.get("/apps-a/alice/ids?binding=B&id=abc").await;
    assert_eq!(status, 200, "{ids}");
    assert_eq!(ids["bindings"], json!(["A", "B", "GREETING"]));
    assert_eq!(ids["greeting"], "hello");
    assert_eq!(ids["namedName"], "x");
    for check in ["sameName", "uniqueDiffers", "roundTrip", "stubThen"] {
        assert_eq!(ids[check], true, "{check}: {ids}");
    }
    assert_eq!(ids["uniqueHasName"], false);
    let malformed = json!({
        "error": "Invalid Durable Object ID: must be 64 hex digits: \"abc\"",
        "code": "invalid-argument",
        "type": "TypeError",
    });
    assert_eq!(ids["parsed"], malformed);
    assert_eq!(ids["got"], malformed);
    // alice's own id is an id of apps-a: B (apps-b) refuses it.
    let (_, alice) = server.get("/apps-a/alice/whoami").await;
    let alice = alice["id"].as_str().unwrap().to_string();
    assert_eq!(
        ids["foreign"],
        json!({
            "error": format!("Durable Object ID is not valid for this namespace: \"{alice}\""),
            "code": "invalid-argument",
            "type": "TypeError",
        })
    );
    // The same id through A, where it belongs, is accepted, in upper case too.
    let upper = alice.to_uppercase();
    let (_, via_a) = server
        .get(&format!("/apps-a/alice/ids?binding=A&id={upper}"))
        .await;
    assert_eq!(via_a["parsed"], json!({ "id": alice }));
    assert_eq!(via_a["got"], json!({ "id": alice }));
    // The object named "x" has another id in each namespace.
    assert_ne!(via_a["named"], ids["named"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_callers_rollback_leaves_the_callees_committed_writes() {
    let server = start();
    let body = json!({"binding": "B", "name": "dave", "method": "add",
                      "args": ["n", 7], "then": "throw"});
    let (status, answer) = server.post("/apps-a/carol/call", body).await;
    assert_eq!(status, 500, "{answer}");
    assert_eq!(
        stored(&server, "apps-b/dave", "n").await,
        json!(7),
        "the callee committed before it answered; the caller's failure cannot undo that"
    );
    assert_eq!(
        stored(&server, "apps-a/carol", "after-call").await,
        Value::Null,
        "the caller's own write was rolled back"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_js_worker_reaches_objects_by_fetch_and_by_rpc_and_finishes_its_wait_until_work() {
    let worker = &apps_js().worker;
    let server = start_with_worker(&format!(
        "[worker]\ncomponent = {worker:?}\nroutes = [\"/app/\"]\n\
         bindings = {{ A = \"apps-a\" }}\nvars = {{ GREETING = \"from the worker\" }}\n"
    ));
    // stub.fetch(request): the object gets the worker's request as it came.
    let response = server
        .client
        .post(server.url("/app/deep/echo?via=fetch&name=w"))
        .header("x-probe", "through")
        .body("payload")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.json::<Value>().await.unwrap(),
        json!({"method": "POST", "path": "/app/deep/echo?via=fetch&name=w",
               "body": "payload", "header": "through"})
    );
    // RPC: committed in the object before the worker answers.
    assert_eq!(
        server.get("/app/x?via=rpc&name=w&by=3").await,
        (200, json!({"result": 3}))
    );
    assert_eq!(
        server.get("/app/x?via=rpc&name=w&by=4").await,
        (200, json!({"result": 7}))
    );
    assert_eq!(stored(&server, "apps-a/w", "n").await, json!(7));
    // ctx.waitUntil's call has run when the answer arrives; vars are the worker's own.
    assert_eq!(
        server.get("/app/x?via=wait&name=w").await,
        (200, json!({"vars": "from the worker"}))
    );
    assert_eq!(stored(&server, "apps-a/w", "waited").await, json!(1));
    // A bad id is the host's message; other paths still reach the objects directly.
    let (status, answer) = server.get("/app/x?via=ids&id=abc").await;
    assert_eq!(status, 400);
    assert_eq!(
        answer,
        json!({"error": "Invalid Durable Object ID: must be 64 hex digits: \"abc\"",
               "code": "invalid-argument"})
    );
    let (status, who) = server.get("/apps-a/w/whoami").await;
    assert_eq!((status, &who["name"]), (200, &json!("w")));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_gateway_example_forwards_to_its_counter_and_calls_it_by_rpc() {
    let dist = guest_target_dir().join("gateway-example");
    let (object, worker) = (dist.join("gateway.wasm"), dist.join("gateway-worker.wasm"));
    let module = "examples/gateway/gateway.js";
    wdo_js_build(&["--class", "Counter"], module, &object);
    wdo_js_build(&["--worker"], module, &worker);
    let mut options = Options::with_namespaces(vec![("gateway-counter".to_string(), object)]);
    options.extra = format!(
        "[worker]\ncomponent = {worker:?}\nroutes = [\"/gateway/\"]\n\
         bindings = {{ COUNTER = \"gateway-counter\" }}\n"
    );
    let server = Server::start_with(options);
    let count = |n: i64| (200, json!({ "count": n }));
    assert_eq!(server.get("/gateway/increment").await, count(1));
    assert_eq!(server.get("/gateway/increment").await, count(2));
    assert_eq!(server.post_raw("/gateway/add?by=5", "").await, count(7));
    assert_eq!(server.get("/gateway/get").await, count(7));
    assert_eq!(
        server.get("/gateway-counter/global-counter/get").await,
        count(7),
        "the worker's counter is the object named global-counter"
    );
    assert_eq!(server.get("/gateway/count?name=other").await, count(0));
    let (status, _) = server.get("/gateway/nope").await;
    assert_eq!(status, 404);
    let (status, _) = server.post_raw("/gateway/add?by=1.5", "").await;
    assert_eq!(
        status, 500,
        "the counter's TypeError fails the worker's request"
    );
}

#[test]
fn wdo_build_runs_the_workers_build_command_after_the_namespaces() {
    let dir = tempfile::tempdir().unwrap();
    let root = repo_root();
    let object = apps_js().object.clone();
    let write_config = |build: &str| {
        let config = format!(
            "[[namespace]]\nname = \"apps-a\"\ncomponent = {object:?}\n\n\
             [worker]\ncomponent = \"w.wasm\"\nbuild = {build:?}\n"
        );
        std::fs::write(dir.path().join("wdo.toml"), config).unwrap();
    };
    let wdo_build = |only: &[&str]| {
        let output = Command::new(env!("CARGO_BIN_EXE_wdo"))
            .arg("build")
            .arg("--config")
            .arg(dir.path().join("wdo.toml"))
            .args(only)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr).to_string();
        (output.status.success(), stderr)
    };
    let sdk = root.join("guest-sdk/js/bin/wdo-js.mjs");
    let module = root.join("examples/gateway/gateway.js");
    write_config(&format!(
        "node {} build --worker {} --out w.wasm",
        sdk.display(),
        module.display()
    ));
    let (ok, stderr) = wdo_build(&["apps-a"]);
    assert!(ok, "{stderr}");
    assert!(
        !dir.path().join("w.wasm").exists(),
        "naming namespaces builds only those: {stderr}"
    );
    let (ok, stderr) = wdo_build(&[]);
    assert!(ok, "{stderr}");
    assert!(
        stderr.contains("wdo build: namespace apps-a: no build command")
            && stderr.contains("wdo build: worker worker: node "),
        "{stderr}"
    );
    assert!(dir.path().join("w.wasm").exists(), "{stderr}");
    std::fs::remove_file(dir.path().join("w.wasm")).unwrap();
    write_config("true");
    let (ok, stderr) = wdo_build(&[]);
    assert!(!ok);
    let expected = format!(
        "worker \"worker\": the build command succeeded but {} does not exist",
        dir.path().join("w.wasm").display()
    );
    assert!(stderr.contains(&expected), "{stderr}");
}

#[test]
fn the_sdks_node_unit_tests_pass() {
    let root = repo_root();
    let output = Command::new("node")
        .args(["--test", "test/unit/"])
        .current_dir(root.join("guest-sdk/js"))
        .output()
        .expect("run node --test");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        output.status.success(),
        "node --test test/unit/ failed:\n{text}"
    );
    assert!(
        text.contains("# fail 0") && !text.contains("# pass 0"),
        "{text}"
    );
}
