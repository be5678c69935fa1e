//! Requests on the routes the Worker owns: the whole path and query reach the worker's
//! `fetch`; its answer (or failure) becomes the HTTP response. A WebSocket upgrade the worker
//! forwarded to an object, which accepted it, is completed here when the worker returns the
//! object's 101.

use std::sync::Arc;

use hyper::body::Incoming;
use hyper::upgrade::OnUpgrade;
use hyper::{Response, StatusCode};

use super::front::{guest_headers, guest_response, read_body};
use super::response::{error_response, Body};
use super::upgrade::switching_protocols;
use crate::guest::{bindings, Accepted, Worker, WorkerAnswer};
use crate::host::Host;
use crate::websocket::serve_upgrade;

pub(super) async fn answer(
    host: &Host,
    worker: &Arc<Worker>,
    parts: hyper::http::request::Parts,
    body: Incoming,
    upgrade: Option<OnUpgrade>,
) -> Response<Body> {
    let body = match read_body(host, &parts, body).await {
        Ok(body) => body,
        Err(response) => return response,
    };
    let url = parts
        .uri
        .path_and_query()
        .map_or_else(|| parts.uri.path().to_owned(), |pq| pq.as_str().to_owned());
    let request = bindings::Request {
        method: parts.method.as_str().to_owned(),
        url,
        headers: guest_headers(&parts),
        body: body.to_vec(),
    };
    let stubs = || host.registry.worker_stub_ctx(worker.env.clone());
    match worker.fetch(&request, stubs, upgrade.is_some()).await {
        Ok(WorkerAnswer {
            accepted: Some(accepted),
            ..
        }) => {
            let upgrade = upgrade.expect("a socket is accepted only for an upgrade request");
            match accepted {
                Accepted::Here { socket, owner } => {
                    let hub = host.registry.hub.clone();
                    host.registry
                        .tasks
                        .spawn(serve_upgrade(hub, owner, socket.upgrade(), upgrade));
                    switching_protocols(&parts.headers)
                }
                Accepted::Elsewhere(owner_side) => {
                    super::tunnel::carry_for_worker(host, &parts, upgrade, owner_side)
                }
            }
        }
        Ok(WorkerAnswer { response, .. }) if response.status == 101 => error_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the worker answered 101 but no object accepted a WebSocket for this request",
        ),
        Ok(WorkerAnswer { response, .. }) => guest_response(response),
        Err(e) => {
            let error_id = crate::objects::new_error_id();
            tracing::error!(error_id, "the worker failed: {e:#}");
            super::response::json_response(
                StatusCode::INTERNAL_SERVER_ERROR,
                &serde_json::json!({
                    "error": format!("the worker failed while handling the request (error id {error_id})"),
                    "errorId": error_id,
                }),
            )
        }
    }
}
