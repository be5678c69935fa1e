//! A Cloudflare Workers project served from its `wrangler.toml` as written for Cloudflare
//! (`tests/guests/wrangler-project`: the reference's Counter, RateLimiter and Worker in
//! TypeScript, importing from "cloudflare:workers"), from another working directory: the
//! host builds it, the Worker receives every request and reaches the Counter by name.

use std::path::Path;

use serde_json::json;

use crate::harness::{repo_root, Options, Server};

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wrangler_project_runs_unchanged_through_its_worker() {
    let project = tempfile::tempdir().unwrap();
    copy_dir(
        &repo_root().join("tests/guests/wrangler-project"),
        project.path(),
    );
    let mut server = Server::start_with(Options {
        config_file: Some(project.path().join("wrangler.toml")),
        ..Options::default()
    });
    // The Worker forwards every request to the Counter named "global-counter".
    for expected in 1..=3 {
        let (status, body) = server.get("/increment").await;
        assert_eq!((status, body), (200, json!({ "count": expected })));
    }
    let (status, body) = server.get("/get").await;
    assert_eq!((status, body), (200, json!({ "count": 3 })));
    let (status, _) = server.get("/nothing-here").await;
    assert_eq!(status, 404);
    // The objects live next to the project file, in the namespace of their class.
    let data = project.path().join(".wdo/data/counter");
    assert!(data.is_dir(), "no {}", data.display());
    // Fields wdo does not support are named in one warning.
    let log = server.log();
    let warnings: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("does not support"))
        .collect();
    assert_eq!(warnings.len(), 1, "{log}");
    assert!(warnings[0].contains("kv_namespaces"), "{log}");
    // A restart reuses the build and the data.
    server.restart();
    let (status, body) = server.get("/get").await;
    assert_eq!((status, body), (200, json!({ "count": 3 })));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wrangler_file_wdo_cannot_serve_is_refused_saying_why() {
    let project = tempfile::tempdir().unwrap();
    let path = project.path().join("wrangler.jsonc");
    std::fs::write(
        &path,
        r#"{
  // JSON with comments, as wrangler accepts it
  "name": "x",
  "main": "src/index.ts",
  "durable_objects": { "bindings": [
    { "name": "ROOMS", "class_name": "Room", "script_name": "other-worker" },
  ] },
}"#,
    )
    .unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_wdo"))
        .args(["serve", "--config"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("script_name"), "{stderr}");
    assert!(stderr.contains("wrangler.jsonc"), "{stderr}");
}
