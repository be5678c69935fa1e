//! Storage failures are fail-stop: the real binary runs under `strace`, which makes every
//! `fsync` and `fdatasync` of the process fail with EIO (as a failing disk would), and the
//! data directory is then read back by a normal run.

use std::time::Duration;

use serde_json::json;

use crate::harness::{eventually, Server};

/// `strace` making every fsync and fdatasync fail with EIO, or `None` if this machine has no
/// strace (`scripts/setup.sh` installs it).
fn failing_fsyncs() -> Option<Vec<String>> {
    let found = std::process::Command::new("strace")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        if std::env::var_os("CI").is_some() {
            panic!("strace is missing: scripts/setup.sh installs it");
        }
        eprintln!("skipping: strace is not installed");
        return None;
    }
    Some(
        [
            "strace",
            "-f",
            "--seccomp-bpf",
            "-o",
            "/dev/null",
            "-e",
            "trace=fsync,fdatasync",
            "-e",
            "inject=fsync,fdatasync:error=EIO",
        ]
        .map(String::from)
        .to_vec(),
    )
}

#[tokio::test]
async fn after_a_failed_fsync_the_object_is_quarantined_and_no_refused_write_is_ever_served() {
    let Some(wrapper) = failing_fsyncs() else {
        return;
    };
    let mut server = Server::start();
    for expected in 1..=5 {
        let (status, body) = server.get("/counter/alice/increment").await;
        assert_eq!((status, body), (200, json!({ "count": expected })));
    }
    // An object with no alarm (its one task ran), for the alarm index below.
    let (status, _) = server
        .post(
            "/queue/jobs/schedule",
            json!({"task": "a", "delaySeconds": 0}),
        )
        .await;
    assert_eq!(status, 200);
    let ran = eventually(Duration::from_secs(20), || async {
        let (_, status) = server.get("/queue/jobs/status").await;
        status["alarm"].is_null() && status["done"].as_array().is_some_and(|d| d.len() == 1)
    })
    .await;
    assert!(ran, "the first task ran: {}", server.log());
    server.stop();

    // The disk fails every fsync from now on.
    server.options.wrapper = wrapper;
    server.restart();
    // Setting an alarm writes the alarm index durably before the commit; that fails, so the
    // whole event fails and nothing of it is kept (the object itself keeps serving).
    let (status, body) = server
        .post(
            "/queue/jobs/schedule",
            json!({"task": "b", "delaySeconds": 3600}),
        )
        .await;
    assert_eq!(status, 500, "{body}");
    let (status, queue) = server.get("/queue/jobs/status").await;
    assert_eq!(status, 200, "{queue}");
    assert_eq!(queue["pending"], json!([]), "the failed event left nothing");
    assert!(queue["alarm"].is_null(), "{queue}");
    // The increment's commit reaches the WAL, but its fsync fails: it is answered with an
    // error, and the object stops instead of serving what it cannot know is durable.
    let (status, body) = server.get("/counter/alice/increment").await;
    assert_eq!(status, 500, "{body}");
    for path in ["/counter/alice/get", "/counter/alice/increment"] {
        let (status, body) = server.get(path).await;
        assert_eq!(status, 503, "{path}: {body}");
        let message = body["error"].as_str().unwrap_or_default();
        assert!(message.contains("storage failure"), "{message}");
    }
    assert!(
        server.log().contains("quarantined"),
        "the log says why: {}",
        server.log()
    );
    server.stop();

    // A healthy disk again: exactly the acknowledged writes are there.
    server.options.wrapper = Vec::new();
    server.restart();
    let (status, body) = server.get("/counter/alice/get").await;
    assert_eq!(
        (status, body),
        (200, json!({ "count": 5 })),
        "the refused increment must not be visible"
    );
    let (_, body) = server.get("/counter/alice/increment").await;
    assert_eq!(body, json!({ "count": 6 }));
    let (_, queue) = server.get("/queue/jobs/status").await;
    assert_eq!(queue["pending"], json!([]), "{queue}");
}
