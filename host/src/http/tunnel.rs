//! Cluster mode: a WebSocket upgrade for an object another node owns goes to that node,
//! which accepts it (or not) as its own; once it has answered 101, this node answers the
//! client with the owner's handshake and joins the two connections byte for byte. The
//! socket is the owner's (its hub, its limits, its close events); this node only carries
//! it, and cuts the client off (1006) if the owner's side breaks.
//!
//! Bounded: at most `max-websockets` carried sockets on this node, besides its own.

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use hyper::header::{HeaderValue, RETRY_AFTER};
use hyper::upgrade::OnUpgrade;
use hyper::{Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::sync::Semaphore;

use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};
use tokio_tungstenite::tungstenite::handshake::client::generate_key;

use super::forward::{FORWARDED_BY, MOVED};
use super::response::{empty, error_response, Body};
use crate::cluster::Cluster;
use crate::guest::bindings::namespaces::{Error, ErrorCode};
use crate::guest::bindings::Response as GuestResponse;
use crate::guest::Carried;
use crate::host::Host;
use crate::ids::ObjectId;
use crate::objects::{CallKind, RemoteCall, RemoteError};

/// What one try at the owner gave.
enum Tried {
    /// The owner's answer (its 101 once the connections are joined, or its refusal).
    Answer(Response<Body>),
    /// Not handed to any owner: try again after a pause.
    NotRun(Response<Body>),
}

/// Carries the upgrade to the object's owner if another node owns it (as far as this node
/// knows); gives `pending` back when this node should try the object itself.
pub(super) async fn serve(
    host: &Host,
    cluster: &Arc<Cluster>,
    (namespace, id): (&str, &ObjectId),
    parts: &hyper::http::request::Parts,
    body: &Bytes,
    pending: OnUpgrade,
    deadline: Instant,
) -> Result<Response<Body>, OnUpgrade> {
    if parts.headers.contains_key(FORWARDED_BY) {
        return Err(pending);
    }
    let mut pending = Some(pending);
    loop {
        let Some(owner) = cluster.cached_owner(namespace, id.as_bytes()) else {
            return Err(pending.take().expect("given back once"));
        };
        match try_owner(
            host,
            cluster,
            &owner.node,
            (namespace, id),
            parts,
            body,
            &mut pending,
        )
        .await
        {
            Tried::Answer(response) => return Ok(response),
            Tried::NotRun(response) if Instant::now() >= deadline => return Ok(response),
            Tried::NotRun(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
}

async fn try_owner(
    host: &Host,
    cluster: &Cluster,
    owner: &str,
    (namespace, id): (&str, &ObjectId),
    parts: &hyper::http::request::Parts,
    body: &Bytes,
    pending: &mut Option<OnUpgrade>,
) -> Tried {
    let unavailable = |message: String| {
        let mut response = error_response(StatusCode::SERVICE_UNAVAILABLE, message);
        response
            .headers_mut()
            .insert(RETRY_AFTER, HeaderValue::from_static("1"));
        response
    };
    let Ok(permit) = carried(host).clone().try_acquire_owned() else {
        return Tried::Answer(unavailable(format!(
            "this node carries too many WebSockets to other nodes (the limit is {})",
            host.config.max_websockets
        )));
    };
    let address = match cluster.address(owner).await {
        Ok(Some(address)) => address,
        Ok(None) => {
            cluster.forget_owner(namespace, id.as_bytes());
            return Tried::NotRun(unavailable(format!("node {owner:?} left the cluster")));
        }
        Err(e) => {
            return Tried::NotRun(unavailable(format!(
                "cannot ask etcd where node {owner:?} is: {e}"
            )))
        }
    };
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let mut outgoing = client().request(parts.method.clone(), format!("http://{address}{path}"));
    for (name, value) in &parts.headers {
        if name != hyper::header::HOST && name.as_str() != FORWARDED_BY {
            outgoing = outgoing.header(name, value);
        }
    }
    let handshake = host.config.call_timeout + Duration::from_secs(5);
    let sent = outgoing
        .header(FORWARDED_BY, &cluster.node)
        .body(body.clone())
        .send();
    let answer = match tokio::time::timeout(handshake, sent).await {
        Err(_) => {
            let message = format!("node {owner:?} at {address}, which owns the object, did not answer the upgrade within {handshake:?}");
            return Tried::Answer(error_response(StatusCode::GATEWAY_TIMEOUT, message));
        }
        Ok(Ok(answer)) => answer,
        Ok(Err(e)) if e.is_connect() => {
            cluster.forget_owner(namespace, id.as_bytes());
            cluster.forget_address(owner);
            return Tried::NotRun(unavailable(format!(
                "node {owner:?} at {address} cannot be reached: {e}"
            )));
        }
        Ok(Err(e)) => {
            let message = format!("node {owner:?} at {address}, which owns the object, did not answer the upgrade: {e}");
            return Tried::Answer(error_response(StatusCode::BAD_GATEWAY, message));
        }
    };
    if answer.headers().contains_key(MOVED) {
        cluster.forget_owner(namespace, id.as_bytes());
        return Tried::NotRun(unavailable(format!(
            "node {owner:?} no longer owns the object"
        )));
    }
    let status = answer.status();
    let headers = answer.headers().clone();
    if status != StatusCode::SWITCHING_PROTOCOLS {
        // The object refused the upgrade: its answer goes to the client as it is.
        let bytes = answer.bytes().await.unwrap_or_default();
        let mut response = Response::new(super::response::full(bytes));
        *response.status_mut() = status;
        for (name, value) in &headers {
            if !super::front::is_hop_by_hop(name) {
                response.headers_mut().append(name, value.clone());
            }
        }
        return Tried::Answer(response);
    }
    let owner_side = match answer.upgrade().await {
        Ok(upgraded) => upgraded,
        Err(e) => {
            let message =
                format!("node {owner:?} accepted the WebSocket but its connection broke: {e}");
            return Tried::Answer(error_response(StatusCode::BAD_GATEWAY, message));
        }
    };
    cluster.stats.forwarded.inc();
    let client_side = pending.take().expect("one 101 per request");
    splice(permit, client_side, owner_side);
    let mut response = Response::new(empty());
    *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    for (name, value) in &headers {
        if !matches!(name.as_str(), "content-length" | "transfer-encoding") {
            response.headers_mut().append(name, value.clone());
        }
    }
    Tried::Answer(response)
}

/// Joins the client's connection, once upgraded, to the owner's, byte for byte, until
/// either ends.
fn splice(
    permit: tokio::sync::OwnedSemaphorePermit,
    client_side: OnUpgrade,
    mut owner_side: impl Carried + 'static,
) {
    tokio::spawn(async move {
        let _permit = permit;
        let Ok(client_side) = client_side.await else {
            return;
        };
        let mut client_side = TokioIo::new(client_side);
        let _ = tokio::io::copy_bidirectional(&mut client_side, &mut owner_side).await;
    });
}

/// A worker forwarded the client's upgrade with `stub.fetch` to an object on another node,
/// which accepted it: the client's connection is joined to `owner_side`, and the client
/// gets its 101.
pub(super) fn carry_for_worker(
    host: &Host,
    parts: &hyper::http::request::Parts,
    client_side: OnUpgrade,
    owner_side: Box<dyn Carried>,
) -> Response<Body> {
    let Ok(permit) = carried(host).clone().try_acquire_owned() else {
        let mut response = error_response(
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "this node carries too many WebSockets to other nodes (the limit is {})",
                host.config.max_websockets
            ),
        );
        response
            .headers_mut()
            .insert(RETRY_AFTER, HeaderValue::from_static("1"));
        return response;
    };
    splice(permit, client_side, owner_side);
    super::upgrade::switching_protocols(&parts.headers)
}

/// A stub's WebSocket upgrade request (`call`, a fetch) for an object that `owner` owns,
/// sent to that node's public URL of the object as an upgrade of its own: the object's
/// answer, and if it accepted, the connection to that node.
pub(super) async fn upgrade_for_stub(
    cluster: &Cluster,
    handshake: Duration,
    owner: &str,
    call: RemoteCall,
) -> Result<(GuestResponse, Option<Box<dyn Carried>>), RemoteError> {
    let unavailable = |message: String| Error {
        code: ErrorCode::Unavailable,
        message,
    };
    let address = super::node_calls::owner_address(cluster, owner).await?;
    let CallKind::Fetch { request, .. } = call.kind else {
        let message = "an RPC call is no WebSocket upgrade".to_owned();
        return Err(RemoteError::Failed(unavailable(message)));
    };
    let object = match &call.name {
        Some(name) => utf8_percent_encode(name, NON_ALPHANUMERIC).to_string(),
        None => format!("@{}", call.id),
    };
    let url = format!(
        "http://{address}/{}/{object}{}",
        call.namespace, request.url
    );
    let mut outgoing = client().get(url);
    for (name, value) in &request.headers {
        let name = name.to_ascii_lowercase();
        let own = name.starts_with("sec-websocket-key") || name == "sec-websocket-version";
        if !own && name != "host" && !super::forward::is_cluster_header(&name) {
            if let Ok(name) = hyper::header::HeaderName::from_bytes(name.as_bytes()) {
                if !super::front::is_hop_by_hop(&name) {
                    outgoing = outgoing.header(name, value);
                }
            }
        }
    }
    let sent = outgoing
        .header(hyper::header::CONNECTION, "Upgrade")
        .header(hyper::header::UPGRADE, "websocket")
        .header(hyper::header::SEC_WEBSOCKET_VERSION, "13")
        .header(hyper::header::SEC_WEBSOCKET_KEY, generate_key())
        .header(FORWARDED_BY, &cluster.node)
        .send();
    let answer = match tokio::time::timeout(handshake, sent).await {
        Err(_) => {
            let message = format!("node {owner:?} did not answer the upgrade within {handshake:?}");
            return Err(RemoteError::Failed(unavailable(message)));
        }
        Ok(Ok(answer)) => answer,
        Ok(Err(e)) if e.is_connect() => {
            cluster.forget_address(owner);
            let message = format!("node {owner:?} at {address} cannot be reached: {e}");
            return Err(RemoteError::NotRun(unavailable(message)));
        }
        Ok(Err(e)) => {
            let message = format!("node {owner:?} at {address} did not answer the upgrade: {e}");
            return Err(RemoteError::Failed(unavailable(message)));
        }
    };
    if answer.headers().contains_key(MOVED) {
        let message = format!("node {owner:?} no longer owns the object");
        return Err(RemoteError::NotRun(unavailable(message)));
    }
    let status = answer.status();
    let headers: Vec<(String, String)> = answer
        .headers()
        .iter()
        .filter(|(name, _)| !super::front::is_hop_by_hop(name))
        .map(|(name, value)| {
            let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
            (name.as_str().to_owned(), value)
        })
        .collect();
    if status != StatusCode::SWITCHING_PROTOCOLS {
        let body = answer.bytes().await.unwrap_or_default().to_vec();
        let response = GuestResponse {
            status: status.as_u16(),
            headers,
            body,
        };
        return Ok((response, None));
    }
    let owner_side = answer.upgrade().await.map_err(|e| {
        let message =
            format!("node {owner:?} accepted the WebSocket but its connection broke: {e}");
        RemoteError::Failed(unavailable(message))
    })?;
    cluster.stats.forwarded.inc();
    let response = GuestResponse {
        status: 101,
        headers: vec![("upgrade".into(), "websocket".into())],
        body: Vec::new(),
    };
    Ok((response, Some(Box::new(owner_side))))
}

/// The sockets this node carries to other nodes.
fn carried(host: &Host) -> &'static Arc<Semaphore> {
    static CARRIED: OnceLock<Arc<Semaphore>> = OnceLock::new();
    CARRIED.get_or_init(|| Arc::new(Semaphore::new(host.config.max_websockets)))
}

/// The client that carries upgrades: no overall timeout (a socket lives as long as its
/// two ends), and each upgrade on a connection of its own.
fn client() -> &'static reqwest::Client {
    static CLIENT: OnceLock<reqwest::Client> = OnceLock::new();
    CLIENT.get_or_init(|| {
        super::forward::node_client()
            .http1_only()
            .pool_max_idle_per_host(0)
            .build()
            .expect("a plain HTTP client")
    })
}
