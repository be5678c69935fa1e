//! The public HTTP front: routes a request to its object and turns the object's answer
//! (or failure) into an HTTP response.

use std::sync::Arc;
use std::time::Instant;

use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use hyper::header::{HeaderName, HeaderValue, CONTENT_LENGTH, RETRY_AFTER};
use hyper::upgrade::OnUpgrade;
use hyper::{Request, Response, StatusCode};
use tokio::sync::oneshot;

use super::response::{error_response, full, json_response, Body};
use super::router::{route, Target};
use super::upgrade::{is_upgrade_request, switching_protocols};
use crate::guest::bindings;
use crate::host::Host;
use crate::ids::ObjectId;
use crate::metrics::{status_class, RequestLabels, StatusClassLabels};
use crate::objects::{DispatchError, Event, FetchReply, TurnError};
use crate::websocket::serve_upgrade;

pub async fn handle(host: Arc<Host>, request: Request<Incoming>) -> Response<Body> {
    let started = Instant::now();
    let (namespace, response) = answer(&host, request).await;
    if let Some(namespace) = namespace {
        let metrics = &host.metrics;
        let status = response.status().as_u16();
        metrics
            .request_duration
            .get_or_create(&StatusClassLabels {
                namespace: namespace.clone(),
                class: status_class(status),
            })
            .observe(started.elapsed().as_secs_f64());
        metrics
            .requests
            .get_or_create(&RequestLabels { namespace, status })
            .inc();
    }
    response
}

/// The response, and the namespace it belongs to (for metrics) if the path named one.
async fn answer(host: &Host, mut request: Request<Incoming>) -> (Option<String>, Response<Body>) {
    let upgrade = is_upgrade_request(request.headers()).then(|| hyper::upgrade::on(&mut request));
    let (parts, body) = request.into_parts();
    if parts.headers.contains_key(super::node_calls::CALL) {
        return (None, super::node_calls::serve(host, &parts, body).await);
    }
    if let Some(worker) = host.worker_for(parts.uri.path()) {
        let response = super::worker_front::answer(host, worker, parts, body, upgrade).await;
        return (Some(worker_label(&worker.config.name)), response);
    }
    let route = match route(parts.uri.path(), parts.uri.query()) {
        Ok(route) => route,
        Err(e) => return (None, error_response(StatusCode::BAD_REQUEST, e)),
    };
    let Some((index, namespace)) = host.namespace(route.namespace) else {
        let message = format!("unknown namespace {:?}", route.namespace);
        return (None, error_response(StatusCode::NOT_FOUND, message));
    };
    let label = Some(namespace.name.to_string());
    let (id, name): (ObjectId, Option<&str>) = match &route.target {
        Target::Name(name) => (namespace.id_key.id_from_name(name), Some(name.as_str())),
        Target::Id(text) => match namespace.id_key.parse(text) {
            Ok(id) => (id, None),
            Err(e) => return (label, error_response(StatusCode::BAD_REQUEST, e)),
        },
    };
    let body = match read_body(host, &parts, body).await {
        Ok(body) => body,
        Err(response) => return (label, response),
    };
    let guest_request = bindings::Request {
        method: parts.method.as_str().to_owned(),
        url: route.url,
        headers: guest_headers(&parts),
        body: body.to_vec(),
    };
    let cluster = host.registry.cluster();
    let Some(upgrade) = upgrade else {
        if let Some(cluster) = cluster {
            let target = super::forward::Target {
                namespace: &namespace,
                index,
                id,
                name,
            };
            let response =
                super::forward::serve(host, cluster, target, &parts, body, guest_request).await;
            return (label, response);
        }
        let response = match fetch(host, &namespace, index, id, name, guest_request, false) {
            Ok(answer) => answer_response(answer.await),
            Err(response) => response,
        };
        return (label, response);
    };
    let response = match cluster {
        Some(cluster) => {
            upgrade_in_cluster(
                host,
                cluster,
                &namespace,
                index,
                (id, name),
                &parts,
                body,
                guest_request,
                upgrade,
            )
            .await
        }
        None => {
            upgrade_here(
                host,
                &namespace,
                index,
                (id, name),
                &parts,
                guest_request,
                upgrade,
            )
            .await
        }
    };
    (label, response)
}

/// A WebSocket upgrade for an object on this host.
async fn upgrade_here(
    host: &Host,
    namespace: &Arc<crate::objects::Namespace>,
    index: usize,
    (id, name): (ObjectId, Option<&str>),
    parts: &hyper::http::request::Parts,
    request: bindings::Request,
    upgrade: OnUpgrade,
) -> Response<Body> {
    let outcome = match fetch(host, namespace, index, id, name, request, true) {
        Ok(answer) => answer.await,
        Err(response) => return response,
    };
    match outcome {
        Ok(Ok(FetchReply {
            accepted: Some(socket),
            ..
        })) => {
            let target = (namespace, index, id, name);
            serve_accepted(host, target, socket, parts, upgrade)
        }
        outcome => answer_response(outcome),
    }
}

/// Cluster mode: a WebSocket upgrade goes to the object's owner if another node owns it,
/// else to the object here (which claims it).
#[allow(clippy::too_many_arguments)]
async fn upgrade_in_cluster(
    host: &Host,
    cluster: &Arc<crate::cluster::Cluster>,
    namespace: &Arc<crate::objects::Namespace>,
    index: usize,
    (id, name): (ObjectId, Option<&str>),
    parts: &hyper::http::request::Parts,
    body: hyper::body::Bytes,
    request: bindings::Request,
    upgrade: OnUpgrade,
) -> Response<Body> {
    let forwarded = parts.headers.contains_key(super::forward::FORWARDED_BY);
    let deadline = Instant::now() + cluster.lease_ttl * 2 + std::time::Duration::from_secs(5);
    let mut upgrade = upgrade;
    loop {
        let key = (&*namespace.name, &id);
        upgrade =
            match super::tunnel::serve(host, cluster, key, parts, &body, upgrade, deadline).await {
                Ok(response) => return response,
                Err(upgrade) => upgrade,
            };
        let outcome = match fetch(host, namespace, index, id, name, request.clone(), true) {
            Ok(answer) => answer.await,
            Err(response) => return response,
        };
        let not_run = match outcome {
            Ok(Ok(FetchReply {
                accepted: Some(socket),
                ..
            })) => {
                let target = (namespace, index, id, name);
                return serve_accepted(host, target, socket, parts, upgrade);
            }
            Ok(Err(
                error @ (TurnError::Moved { .. }
                | TurnError::NotServing {
                    may_have_run: false,
                    ..
                }),
            )) => error,
            outcome => return answer_response(outcome),
        };
        if forwarded {
            return super::forward::moved(turn_error_response(&not_run));
        }
        if Instant::now() >= deadline {
            return turn_error_response(&not_run);
        }
        if !matches!(not_run, TurnError::Moved { .. }) {
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
    }
}

/// The object here accepted the upgrade: its socket is served, and the client gets its 101.
fn serve_accepted(
    host: &Host,
    (namespace, index, id, name): (
        &Arc<crate::objects::Namespace>,
        usize,
        ObjectId,
        Option<&str>,
    ),
    socket: crate::websocket::PendingSocket,
    parts: &hyper::http::request::Parts,
    upgrade: OnUpgrade,
) -> Response<Body> {
    let owner = host.registry.socket_owner(namespace, index, id, name);
    let hub = host.registry.hub.clone();
    host.registry
        .tasks
        .spawn(serve_upgrade(hub, owner, socket.upgrade(), upgrade));
    switching_protocols(&parts.headers)
}

/// The response to an object's answer to a request that opened no socket.
fn answer_response(
    outcome: Result<Result<FetchReply, TurnError>, oneshot::error::RecvError>,
) -> Response<Body> {
    match outcome {
        Ok(Ok(FetchReply { response, .. })) => guest_response(response),
        Ok(Err(e)) => turn_error_response(&e),
        Err(_) => error_response(
            StatusCode::SERVICE_UNAVAILABLE,
            "the object stopped before answering",
        ),
    }
}

/// The object's answer to come, or the response that says why it was not dispatched.
pub(super) type Answer = oneshot::Receiver<Result<FetchReply, TurnError>>;

/// Dispatches a request to the object on this host.
pub(super) fn fetch(
    host: &Host,
    namespace: &std::sync::Arc<crate::objects::Namespace>,
    index: usize,
    id: ObjectId,
    name: Option<&str>,
    request: bindings::Request,
    upgrade: bool,
) -> Result<Answer, Response<Body>> {
    let hub = &host.registry.hub;
    if upgrade && hub.open_sockets() >= host.config.max_websockets {
        let message = format!(
            "too many WebSockets are open on this host (the limit is {})",
            host.config.max_websockets
        );
        let mut response = error_response(StatusCode::SERVICE_UNAVAILABLE, message);
        response
            .headers_mut()
            .insert(RETRY_AFTER, HeaderValue::from_static("1"));
        return Err(response);
    }
    let (reply, answer) = oneshot::channel();
    let event = Event::Fetch {
        request,
        upgrade,
        chain: Default::default(),
        reply,
    };
    if let Err(e) = host.registry.dispatch(namespace, index, id, name, event) {
        let mut response = error_response(StatusCode::SERVICE_UNAVAILABLE, &e);
        if matches!(
            e,
            DispatchError::Overloaded | DispatchError::HostFull(_) | DispatchError::MemoryFull(_)
        ) {
            response
                .headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from_static("1"));
        }
        return Err(response);
    }
    Ok(answer)
}

/// The namespace label of the requests a worker answers, in the metrics: `[worker]`, or
/// `[worker api]` for a worker named `api`.
fn worker_label(name: &str) -> String {
    match name {
        "worker" => "[worker]".into(),
        name => format!("[worker {name}]"),
    }
}

/// The request body, read within `body-read-timeout` and at most `max-body-size` bytes;
/// else the response that says which bound it broke.
pub(super) async fn read_body(
    host: &Host,
    parts: &hyper::http::request::Parts,
    body: Incoming,
) -> Result<hyper::body::Bytes, Response<Body>> {
    let max = host.config.max_body_size;
    let too_large = || {
        error_response(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("request body is larger than the limit of {max} bytes"),
        )
    };
    let declared = parts
        .headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > max as u64) {
        return Err(too_large());
    }
    let deadline = host.config.body_read_timeout;
    let Ok(body) = tokio::time::timeout(deadline, Limited::new(body, max).collect()).await else {
        let message = format!("the request body did not arrive within {deadline:?}");
        return Err(error_response(StatusCode::REQUEST_TIMEOUT, message));
    };
    match body {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => Err(too_large()),
        Err(e) => Err(error_response(
            StatusCode::BAD_REQUEST,
            format!("cannot read the request body: {e}"),
        )),
    }
}

/// The request's headers as the guest sees them (not the cluster's own).
pub(super) fn guest_headers(parts: &hyper::http::request::Parts) -> Vec<(String, String)> {
    parts
        .headers
        .iter()
        .filter(|(k, _)| !super::forward::is_cluster_header(k.as_str()))
        .map(|(k, v)| {
            (
                k.as_str().to_owned(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect()
}

/// 500 with the error id, 507 (Insufficient Storage) when the disk is full, 503 with
/// `Retry-After` when this cluster node cannot serve the object now.
pub(super) fn turn_error_response(error: &TurnError) -> Response<Body> {
    let (status, error_id) = match error {
        TurnError::GuestFailed { error_id, .. } | TurnError::Storage { error_id } => {
            (StatusCode::INTERNAL_SERVER_ERROR, error_id.as_str())
        }
        TurnError::Full { error_id } => (StatusCode::INSUFFICIENT_STORAGE, error_id.as_str()),
        TurnError::Moved { .. } => (StatusCode::SERVICE_UNAVAILABLE, ""),
        TurnError::NotServing { error_id, .. } => {
            (StatusCode::SERVICE_UNAVAILABLE, error_id.as_str())
        }
    };
    let mut response = json_response(
        status,
        &serde_json::json!({ "error": error.to_string(), "errorId": error_id }),
    );
    if status == StatusCode::SERVICE_UNAVAILABLE {
        response
            .headers_mut()
            .insert(RETRY_AFTER, HeaderValue::from_static("1"));
    }
    response
}

/// The guest's response, checked: a bad status or header is the guest's bug, answered 500.
pub(super) fn guest_response(response: bindings::Response) -> Response<Body> {
    let Ok(status) = StatusCode::from_u16(response.status) else {
        return error_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!(
                "the object answered with an invalid status {}",
                response.status
            ),
        );
    };
    let mut out = Response::new(full(response.body));
    *out.status_mut() = status;
    for (name, value) in response.headers {
        let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(&value),
        ) else {
            return error_response(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("the object answered with an invalid header {name:?}"),
            );
        };
        // Framing is the host's business: the body's real length wins.
        if is_hop_by_hop(&name) {
            continue;
        }
        out.headers_mut().append(name, value);
    }
    out
}

pub(super) fn is_hop_by_hop(name: &HeaderName) -> bool {
    matches!(
        name.as_str(),
        "content-length"
            | "transfer-encoding"
            | "connection"
            | "keep-alive"
            | "upgrade"
            | "te"
            | "trailer"
    )
}
