//! `wdo dev` reloads a namespace whose component file changes.

use std::time::Duration;

use serde_json::json;

use crate::harness::{components, eventually, Options, Server};

#[tokio::test(flavor = "multi_thread")]
async fn dev_reloads_a_changed_component_and_objects_keep_their_storage() {
    let dir = tempfile::tempdir().unwrap();
    let wasm = dir.path().join("hot.wasm");
    std::fs::copy(&components().counter, &wasm).unwrap();
    let server = Server::start_with(Options {
        namespaces: vec![("hot".to_string(), wasm.clone())],
        dev: true,
        ..Options::default()
    });
    assert_eq!(
        server.get("/hot/x/increment").await,
        (200, json!({"count": 1}))
    );
    // The counter has no /echo.
    assert_eq!(server.get("/hot/x/echo").await.0, 404);

    // A build replaces the file: here with the probe, which answers /echo and /get?key=.
    let next = dir.path().join("hot.wasm.new");
    std::fs::copy(&components().probe, &next).unwrap();
    std::fs::rename(&next, &wasm).unwrap();
    let reloaded = eventually(Duration::from_secs(60), || async {
        server.get("/hot/x/echo").await.0 == 200
    })
    .await;
    assert!(
        reloaded,
        "the new component never served:\n{}",
        server.log()
    );
    // The live object restarted with the new code and kept what the old code stored.
    assert_eq!(
        server.get("/hot/x/get?key=count").await,
        (200, json!({"value": 1}))
    );

    // A broken file is refused and the code that works keeps serving.
    std::fs::write(&next, b"not a component").unwrap();
    std::fs::rename(&next, &wasm).unwrap();
    let refused = eventually(Duration::from_secs(30), || async {
        server.log().contains("cannot reload")
    })
    .await;
    assert!(
        refused,
        "the broken file was not reported:\n{}",
        server.log()
    );
    assert_eq!(server.get("/hot/y/echo").await.0, 200);
}
