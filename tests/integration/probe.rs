//! Misbehaving guests: traps, CPU and memory limits, bad answers, storage limits.

use serde_json::json;

use crate::harness::{Options, Server};

#[tokio::test(flavor = "multi_thread")]
async fn a_trap_rolls_back_the_events_writes_and_the_next_event_gets_a_fresh_instance() {
    let server = Server::start();
    let (_, first) = server.get("/probe/t/echo").await;
    let (_, second) = server.get("/probe/t/echo").await;
    assert_eq!(
        second["instanceEvents"].as_u64(),
        Some(first["instanceEvents"].as_u64().unwrap() + 1)
    );
    let (status, value) = server.get("/probe/t/put-then-trap").await;
    assert_eq!(status, 500);
    assert!(value["errorId"].is_string());
    assert_eq!(
        server.get("/probe/t/get?key=trap").await,
        (200, json!({"value": null}))
    );
    let (_, after) = server.get("/probe/t/echo").await;
    assert_eq!(
        after["instanceEvents"],
        json!(2),
        "a fresh instance (constructor, then get, then echo)"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_event_over_its_cpu_limit_is_stopped_and_rolled_back() {
    let server = Server::start_with(Options {
        namespace_extra: "cpu-limit = \"300ms\"".into(),
        ..Options::default()
    });
    let (status, value) = server.get("/probe/cpu/loop").await;
    assert_eq!(status, 500, "{value}");
    let error_id = value["errorId"].as_str().unwrap();
    let log = server.log();
    let line = log.lines().find(|l| l.contains(error_id)).unwrap();
    assert!(line.contains("CPU time limit"), "{line}");
    assert_eq!(
        server.get("/probe/cpu/get?key=loop").await,
        (200, json!({"value": null}))
    );
    assert_eq!(
        server.get("/probe/cpu/echo").await.0,
        200,
        "the object keeps serving"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_instance_over_its_memory_limit_traps_and_is_replaced() {
    let server = Server::start_with(Options {
        namespace_extra: "memory-limit = 33554432".into(),
        ..Options::default()
    });
    assert_eq!(server.get("/probe/mem/alloc?mb=4").await.0, 200);
    let (status, _) = server.get("/probe/mem/alloc?mb=64").await;
    assert_eq!(status, 500);
    assert_eq!(
        server.get("/probe/mem/get?key=alloc").await,
        (200, json!({"value": 4})),
        "the failed event's write was rolled back"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_invalid_status_from_the_object_is_a_500_not_a_crash() {
    let server = Server::start();
    let (status, value) = server.get("/probe/s/bad-status").await;
    assert_eq!(status, 500);
    assert!(value["error"]
        .as_str()
        .unwrap()
        .contains("invalid status 1000"));
    assert_eq!(server.get("/probe/s/echo").await.0, 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn storage_limits_reach_the_guest_as_clear_errors_at_and_over_each_bound() {
    let server = Server::start();
    let (status, at) = server
        .get(&format!(
            "/probe/l/sizes?key=2048&value={}&batch=128",
            2 << 20
        ))
        .await;
    assert_eq!(status, 200);
    assert_eq!(at["key"], json!("ok"));
    assert_eq!(at["value"], json!("ok"));
    assert_eq!(at["batch"], json!("ok"));
    assert!(
        at["listZero"].as_str().unwrap().contains("positive"),
        "{at}"
    );
    let (status, over) = server
        .get(&format!(
            "/probe/l/sizes?key=2049&value={}&batch=129",
            (2 << 20) + 1
        ))
        .await;
    assert_eq!(status, 200);
    assert!(over["key"].as_str().unwrap().contains("2049"), "{over}");
    assert!(
        over["value"]
            .as_str()
            .unwrap()
            .contains(&((2 << 20) + 1).to_string()),
        "{over}"
    );
    assert!(over["batch"].as_str().unwrap().contains("129"), "{over}");
}
