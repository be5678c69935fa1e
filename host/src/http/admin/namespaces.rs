//! `GET /v1/namespaces`, `POST /v1/namespaces/<ns>/unique-id`, and reloading code:
//! `POST /v1/namespaces/<ns>/reload`, `POST /v1/reload` (every namespace and worker).

use hyper::{Response, StatusCode};
use serde_json::{json, Value};

use super::super::response::{json_response, Body};
use crate::host::Host;
use crate::objects::Namespace;

pub fn list(host: &Host) -> Response<Body> {
    let namespaces: Vec<Value> = host.namespaces().iter().map(|ns| describe(ns)).collect();
    json_response(StatusCode::OK, &json!({ "namespaces": namespaces }))
}

fn describe(namespace: &Namespace) -> Value {
    let version = namespace.version();
    json!({
        "name": &*namespace.name,
        "component": namespace.component_path,
        "version": { "hash": version.hash, "loadedMs": version.loaded_ms },
    })
}

pub fn unique_id(namespace: &Namespace) -> Response<Body> {
    json_response(
        StatusCode::OK,
        &json!({ "id": namespace.id_key.new_unique_id().to_string() }),
    )
}

/// Compiles the namespace's component file again; on failure the old code keeps serving
/// and the answer (422) says why.
pub async fn reload(host: &std::sync::Arc<Host>, index: usize) -> Response<Body> {
    let results = reload_indices(host, vec![index]).await;
    answer(results, Vec::new())
}

pub async fn reload_all(host: &std::sync::Arc<Host>) -> Response<Body> {
    let indices = (0..host.namespaces().len()).collect();
    let results = reload_indices(host, indices).await;
    let mut workers = Vec::new();
    for index in 0..host.workers().len() {
        let reloading = host.clone();
        let done = tokio::task::spawn_blocking(move || reloading.reload_worker(index)).await;
        let (error, ok) = outcome(done);
        let name = &host.workers()[index].config.name;
        workers.push((json!({ "name": name, "reloaded": ok, "error": error }), ok));
    }
    answer(results, workers)
}

fn outcome(done: Result<anyhow::Result<()>, tokio::task::JoinError>) -> (Value, bool) {
    match done {
        Ok(Ok(())) => (Value::Null, true),
        Ok(Err(e)) => (
            json!(format!("{e:#}; the previous code keeps serving")),
            false,
        ),
        Err(e) => (json!(e.to_string()), false),
    }
}

async fn reload_indices(host: &std::sync::Arc<Host>, indices: Vec<usize>) -> Vec<(Value, bool)> {
    let mut results = Vec::new();
    for index in indices {
        let reloading = host.clone();
        let done = tokio::task::spawn_blocking(move || reloading.reload(index)).await;
        let namespace = &host.namespaces()[index];
        let (error, ok) = outcome(done);
        let mut value = describe(namespace);
        value["reloaded"] = json!(ok);
        value["error"] = error;
        results.push((value, ok));
    }
    results
}

/// 200 with what was reloaded, or 422 naming what could not be.
fn answer(namespaces: Vec<(Value, bool)>, workers: Vec<(Value, bool)>) -> Response<Body> {
    let failed: Vec<String> = namespaces
        .iter()
        .chain(&workers)
        .filter(|(_, ok)| !ok)
        .map(|(v, _)| format!("{}: {}", v["name"], v["error"].as_str().unwrap_or("")))
        .collect();
    let mut body =
        json!({ "namespaces": namespaces.into_iter().map(|(v, _)| v).collect::<Vec<_>>() });
    if !workers.is_empty() {
        body["workers"] = workers.into_iter().map(|(v, _)| v).collect();
    }
    if failed.is_empty() {
        json_response(StatusCode::OK, &body)
    } else {
        body["error"] = json!(format!("cannot reload {}", failed.join("; ")));
        json_response(StatusCode::UNPROCESSABLE_ENTITY, &body)
    }
}
