//! The second build path: `cargo component build` (wasip1 + adapter) makes a component the
//! host serves exactly like the wasm32-wasip2 one.

use std::process::Command;

use serde_json::json;

use crate::harness::{components, repo_root, Options, Server};

#[tokio::test(flavor = "multi_thread")]
async fn the_counter_built_with_cargo_component_serves_the_same_contract() {
    let wasip2 = components().counter.clone();
    let target = match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => std::path::PathBuf::from(dir).join("guests-cargo-component"),
        None => repo_root().join("target/guests-cargo-component"),
    };
    let output = Command::new("cargo")
        .args([
            "component",
            "build",
            "--release",
            "-p",
            "wdo-example-counter",
            "--target-dir",
        ])
        .arg(&target)
        .current_dir(repo_root())
        .output()
        .expect("run cargo");
    assert!(
        output.status.success(),
        "`cargo component build` failed; install it with `cargo install cargo-component --version 0.21.1 --locked` \
         (scripts/test.sh does this)\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let component = target.join("wasm32-wasip1/release/wdo_example_counter.wasm");
    let bytes = std::fs::read(&component).expect("cargo component produced the counter");
    assert_eq!(
        &bytes[4..8],
        &[0x0d, 0x00, 0x01, 0x00],
        "a component, not a core module"
    );

    let mut options = Options::default();
    options.namespaces = vec![("counter".into(), wasip2), ("counter-cc".into(), component)];
    let server = Server::start_with(options);
    assert_eq!(
        server.get("/counter-cc/a/get").await,
        (200, json!({"count": 0}))
    );
    assert_eq!(
        server.get("/counter-cc/a/increment").await,
        (200, json!({"count": 1}))
    );
    assert_eq!(
        server.post("/counter-cc/a/increment", json!(null)).await,
        (200, json!({"count": 2}))
    );
    assert_eq!(server.get("/counter-cc/a/nope").await.0, 404);
    // Same contract as the wasip2 build, with separate storage.
    assert_eq!(
        server.get("/counter/a/get").await,
        (200, json!({"count": 0}))
    );
}
