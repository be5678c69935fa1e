//! Cluster mode: any node accepts any request, and a request for an object another node
//! owns is forwarded there (`x-wdo-forwarded-by` names the node that forwarded it; such a
//! request is never forwarded again). Owners are cached: a request does not ask etcd.
//!
//! Retried without the client seeing it, until a dead owner's lease has expired (twice the
//! lease, plus 5 s): a request this node could not hand to any owner yet (the owner refused
//! the connection, had moved, or no node could claim the object), since such a request never
//! ran. A request that may have run is never sent twice: its error goes to the client.

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use hyper::header::{HeaderName, HeaderValue};
use hyper::{Response, StatusCode};

use super::front::{fetch, guest_response, turn_error_response};
use super::response::{error_response, full, Body};
use crate::cluster::{Cluster, Owner};
use crate::guest::bindings;
use crate::host::Host;
use crate::ids::ObjectId;
use crate::objects::{FetchReply, Namespace, TurnError};

/// The node that forwarded a request.
pub(super) const FORWARDED_BY: &str = "x-wdo-forwarded-by";
/// On a forwarded request's answer: the object is not served here and the request did not
/// run; the forwarding node may send it elsewhere.
pub(super) const MOVED: &str = "x-wdo-moved";

/// The cluster's own headers, which guests do not see.
pub fn is_cluster_header(name: &str) -> bool {
    name == FORWARDED_BY || name == MOVED
}

/// The object a request is for.
pub struct Target<'a> {
    pub namespace: &'a Arc<Namespace>,
    pub index: usize,
    pub id: ObjectId,
    pub name: Option<&'a str>,
}

/// What one try gave.
enum Step {
    Done(Response<Body>),
    /// Owned elsewhere (now known), not run: try again at once.
    Moved(Response<Body>),
    /// Not run: try again after a pause.
    Retry(Response<Body>),
}

/// Answers a request in cluster mode: here if this node owns the object (or can claim it),
/// else from its owner.
pub async fn serve(
    host: &Host,
    cluster: &Arc<Cluster>,
    target: Target<'_>,
    parts: &hyper::http::request::Parts,
    body: Bytes,
    request: bindings::Request,
) -> Response<Body> {
    let forwarded = parts.headers.contains_key(FORWARDED_BY);
    let deadline = Instant::now() + cluster.lease_ttl * 2 + Duration::from_secs(5);
    let (namespace, id) = (&*target.namespace.name, target.id.as_bytes());
    loop {
        let owner = match forwarded {
            true => None,
            false => cluster.cached_owner(namespace, id),
        };
        let step = match &owner {
            Some(owner) => forward(host, cluster, owner, &target, parts, &body).await,
            None => local(host, &target, request.clone()).await,
        };
        let response = match step {
            Step::Done(response) => return response,
            Step::Moved(response) | Step::Retry(response) if forwarded => return moved(response),
            Step::Moved(response) => response,
            Step::Retry(response) => {
                tokio::time::sleep(Duration::from_millis(200)).await;
                response
            }
        };
        if Instant::now() >= deadline {
            return response;
        }
    }
}

/// The object on this node.
async fn local(host: &Host, target: &Target<'_>, request: bindings::Request) -> Step {
    let answer = match fetch(
        host,
        target.namespace,
        target.index,
        target.id,
        target.name,
        request,
        false,
    ) {
        Ok(answer) => answer,
        Err(response) => return Step::Done(response),
    };
    match answer.await {
        Ok(Ok(FetchReply { response, .. })) => Step::Done(guest_response(response)),
        Ok(Err(error @ TurnError::Moved { .. })) => Step::Moved(turn_error_response(&error)),
        Ok(Err(
            error @ TurnError::NotServing {
                may_have_run: false,
                ..
            },
        )) => Step::Retry(turn_error_response(&error)),
        Ok(Err(error)) => Step::Done(turn_error_response(&error)),
        Err(_) => Step::Done(error_response(
            StatusCode::SERVICE_UNAVAILABLE,
            "the object stopped before answering",
        )),
    }
}

/// The object on its owner.
async fn forward(
    host: &Host,
    cluster: &Cluster,
    Owner { node: owner, lease }: &Owner,
    target: &Target<'_>,
    parts: &hyper::http::request::Parts,
    body: &Bytes,
) -> Step {
    let (namespace, id) = (&*target.namespace.name, target.id.as_bytes());
    let unavailable = |message: String| {
        let mut response = error_response(StatusCode::SERVICE_UNAVAILABLE, message);
        response
            .headers_mut()
            .insert(hyper::header::RETRY_AFTER, HeaderValue::from_static("1"));
        response
    };
    let address = match cluster.address(owner).await {
        Ok(Some(address)) => address,
        Ok(None) => {
            // The node is gone (its lease expired, and its claims with it).
            cluster.forget_owner(namespace, id);
            return Step::Moved(unavailable(format!("node {owner:?} left the cluster")));
        }
        Err(e) => {
            return Step::Retry(unavailable(format!(
                "cannot ask etcd where node {owner:?} is: {e}"
            )))
        }
    };
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let mut outgoing =
        client(host).request(parts.method.clone(), format!("http://{address}{path}"));
    for (name, value) in &parts.headers {
        if !is_hop_by_hop(name) && name != hyper::header::HOST && name.as_str() != FORWARDED_BY {
            outgoing = outgoing.header(name, value);
        }
    }
    let sent = outgoing
        .header(FORWARDED_BY, &cluster.node)
        .body(body.clone())
        .send()
        .await;
    let answer = match sent {
        Ok(answer) => answer,
        Err(e) if e.is_connect() => {
            // Nothing was sent: the owner is down (or restarting). Its claim goes with its
            // lease; until then, this request waits.
            cluster.forget_owner(namespace, id);
            cluster.forget_address(owner);
            return Step::Retry(unavailable(format!(
                "node {owner:?} at {address} cannot be reached: {e}"
            )));
        }
        Err(e) if cluster.is_leaving(owner, *lease).await => {
            // It closed the connection while stopping gracefully, which it does only with no
            // request read: this one never ran.
            cluster.forget_owner(namespace, id);
            return Step::Retry(unavailable(format!("node {owner:?} is stopping: {e}")));
        }
        Err(e) => {
            let message = format!(
                "node {owner:?} at {address}, which owns the object, did not answer: {}",
                error_chain(&e)
            );
            tracing::warn!("{message}");
            return Step::Done(error_response(StatusCode::BAD_GATEWAY, message));
        }
    };
    if answer.headers().contains_key(MOVED) {
        cluster.forget_owner(namespace, id);
        let status = answer.status();
        let text = answer.text().await.unwrap_or_default();
        let mut response = Response::new(full(text));
        *response.status_mut() = status;
        return Step::Retry(response);
    }
    cluster.stats.forwarded.inc();
    let status = answer.status();
    let headers = answer.headers().clone();
    let bytes = match answer.bytes().await {
        Ok(bytes) => bytes,
        Err(e) => {
            let message = format!("node {owner:?} at {address} broke off its answer: {e}");
            return Step::Done(error_response(StatusCode::BAD_GATEWAY, message));
        }
    };
    let mut response = Response::new(full(bytes));
    *response.status_mut() = status;
    for (name, value) in &headers {
        if !is_hop_by_hop(name) {
            response.headers_mut().append(name, value.clone());
        }
    }
    Step::Done(response)
}

/// An error and its causes, for a message.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    text
}

/// A forwarded request's answer that tells the forwarding node to try elsewhere.
pub(super) fn moved(mut response: Response<Body>) -> Response<Body> {
    response.headers_mut().insert(
        HeaderName::from_static(MOVED),
        HeaderValue::from_static("1"),
    );
    response
}

/// A client for requests to other nodes: no redirects, a short connect timeout.
pub(super) fn node_client() -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(Duration::from_secs(2))
}

/// The client that forwards requests: keeps connections to the other nodes open.
fn client(host: &Host) -> &'static reqwest::Client {
    static CLIENT: OnceLock<reqwest::Client> = OnceLock::new();
    CLIENT.get_or_init(|| {
        node_client()
            .timeout(host.config.call_timeout + Duration::from_secs(5))
            .pool_max_idle_per_host(256)
            .build()
            .expect("a plain HTTP client")
    })
}

/// Headers of one connection, not copied across a forward: the front's list, and a
/// proxy's own.
fn is_hop_by_hop(name: &HeaderName) -> bool {
    super::front::is_hop_by_hop(name) || name.as_str() == "proxy-connection"
}
