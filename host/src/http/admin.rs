//! The admin listener (loopback by default): `/metrics` in Prometheus text, `/healthz`,
//! and a small JSON API: list namespaces and objects, make unique ids. With an admin token
//! configured, every request needs it (`admin_auth.rs`).

use std::sync::Arc;

use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};

use super::admin_auth;
use super::response::{error_response, json_response, text_response, Body};
use crate::host::Host;

pub async fn handle(host: Arc<Host>, request: Request<Incoming>) -> Response<Body> {
    if let Err(refused) = admin_auth::check(host.config.admin_token.as_deref(), request.headers()) {
        return refused;
    }
    let path = request.uri().path().to_owned();
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    match (request.method(), segments.as_slice()) {
        (&Method::GET, ["metrics"]) => text_response(
            StatusCode::OK,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
            host.metrics.encode(),
        ),
        (&Method::GET, ["healthz"]) => {
            json_response(StatusCode::OK, &serde_json::json!({"ok": true}))
        }
        (&Method::GET, ["v1", "namespaces"]) => {
            let names: Vec<&str> = host.namespaces().iter().map(|ns| &*ns.name).collect();
            json_response(StatusCode::OK, &serde_json::json!({ "namespaces": names }))
        }
        (&Method::GET, ["v1", "namespaces", name, "objects"]) => {
            let Some((_, ns)) = host.namespace(name) else {
                return error_response(
                    StatusCode::NOT_FOUND,
                    format!("unknown namespace {name:?}"),
                );
            };
            match tokio::task::spawn_blocking(move || ns.metadata.objects()).await {
                Ok(Ok(objects)) => {
                    let objects: Vec<_> = objects
                        .into_iter()
                        .map(|(id, name)| serde_json::json!({"id": id, "name": name}))
                        .collect();
                    json_response(StatusCode::OK, &serde_json::json!({ "objects": objects }))
                }
                Ok(Err(e)) => error_response(StatusCode::INTERNAL_SERVER_ERROR, e),
                Err(e) => error_response(StatusCode::INTERNAL_SERVER_ERROR, e),
            }
        }
        (&Method::POST, ["v1", "namespaces", name, "unique-id"]) => match host.namespace(name) {
            Some((_, ns)) => json_response(
                StatusCode::OK,
                &serde_json::json!({ "id": ns.id_key.new_unique_id().to_string() }),
            ),
            None => error_response(StatusCode::NOT_FOUND, format!("unknown namespace {name:?}")),
        },
        _ => error_response(
            StatusCode::NOT_FOUND,
            format!("no admin endpoint {} {path}", request.method()),
        ),
    }
}
