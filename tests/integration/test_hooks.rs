//! The SDKs' test hooks, used as object authors use them: the Rust crate `wdo-testing` here,
//! and the JavaScript (`@wdo/sdk/testing`, run with `node --test`) and Python
//! (`wdo_testing`, run with `unittest`) ones through their own test files, each against the
//! real `wdo` binary: evict an object, run its alarm now, list its storage.

use std::process::Command;

use serde_json::{json, Value};
use wdo_testing::Wdo;

use crate::harness::{components, guest_target_dir, repo_root, test_cache_dir};

fn start(namespaces: &[(&str, &std::path::Path)]) -> Wdo {
    let mut builder = Wdo::builder()
        .binary(env!("CARGO_BIN_EXE_wdo"))
        .cache_dir(test_cache_dir());
    for (name, component) in namespaces {
        builder = builder.namespace(name, component);
    }
    builder.start().expect("start wdo")
}

#[tokio::test(flavor = "multi_thread")]
async fn rust_hooks_evict_an_object_and_list_its_storage() {
    let components = components();
    let wdo = start(&[("counter", components.counter.as_path())]);
    let increment = || async {
        let response = wdo
            .client()
            .post(wdo.url("/counter/hooked/increment"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        response.json::<Value>().await.unwrap()["count"].clone()
    };
    assert_eq!(increment().await, json!(1));
    let object = wdo.object("counter", "hooked");
    assert_eq!(object.info().await.unwrap()["live"], json!(true));
    object.evict().await.unwrap();
    assert_eq!(object.info().await.unwrap()["live"], json!(false));
    // The next event meets a new instance, built from what was stored.
    assert_eq!(increment().await, json!(2));
    let storage = object.storage().await.unwrap();
    assert_eq!(storage.len(), 1, "{storage:?}");
    assert_eq!(storage["count"], json!(2));
    // An object that never ran is an error that says so, not an empty answer.
    let error = wdo.object("counter", "never").storage().await.unwrap_err();
    assert!(error.to_string().contains("404"), "{error}");
}

#[tokio::test(flavor = "multi_thread")]
async fn rust_hooks_run_an_alarm_now() {
    let components = components();
    let wdo = start(&[("queue", components.queue.as_path())]);
    // An hour from now: only the hook can make it run within the test.
    let response = wdo
        .client()
        .post(wdo.url("/queue/q/schedule"))
        .json(&json!({"task": "report", "delaySeconds": 3600}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let object = wdo.object("queue", "q");
    let scheduled = object.alarm().await.unwrap().expect("an alarm is set");
    assert!(scheduled > now_ms() + 3_000_000, "{scheduled}");
    assert!(object.run_alarm().await.unwrap());
    let status: Value = wdo
        .client()
        .get(wdo.url("/queue/q/status"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(status["pending"], json!([]), "{status}");
    assert_eq!(status["done"][0]["task"], json!("report"), "{status}");
    assert_eq!(object.alarm().await.unwrap(), None);
    let storage = object.storage().await.unwrap();
    assert_eq!(storage["done"][0]["task"], json!("report"), "{storage:?}");
    // Without an alarm there is nothing to run.
    assert!(!object.run_alarm().await.unwrap());
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// Runs a test command of an SDK with the binary, the shared compile cache and an output
/// directory for the components it builds; fails with its output.
fn run_sdk_tests(command: &mut Command) {
    components(); // the toolchains are installed and the examples built
    let out = guest_target_dir().join("sdk-hooks");
    std::fs::create_dir_all(&out).unwrap();
    let output = command
        .env("WDO_BIN", env!("CARGO_BIN_EXE_wdo"))
        .env("WDO_TEST_CACHE_DIR", test_cache_dir())
        .env("WDO_TEST_OUT_DIR", &out)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "{command:?} failed:\n{text}");
    assert!(text.contains("evict") && text.contains("alarm"), "{text}");
}

#[test]
fn javascript_hooks_pass_their_node_tests() {
    let root = repo_root();
    run_sdk_tests(
        Command::new("node")
            .arg("--test")
            .arg(root.join("guest-sdk/js/test/testing.test.js"))
            .current_dir(root.join("guest-sdk/js")),
    );
}

#[test]
fn python_hooks_pass_their_unittests() {
    let root = repo_root();
    run_sdk_tests(
        Command::new(root.join("guest-sdk/python/.venv/bin/python"))
            .args(["-m", "unittest", "-v", "test_testing"])
            .current_dir(root.join("guest-sdk/python/tests")),
    );
}
