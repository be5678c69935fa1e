//! Cluster mode: stubs' requests and RPC calls between nodes. A node sends a call for an
//! object another node owns to that node's public listener (`POST /` with `x-wdo-call`,
//! carrying the nodes' secret agreed in etcd); the owner runs it on the object there and
//! answers. Only a node of the cluster can make an object answer an RPC call.
//!
//! A call and its answer travel as one frame: a big-endian u32 length, that many bytes of
//! JSON (names, ids, method, URL, headers, status, error), then the body or payload as it is.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use hyper::{Response, StatusCode};
use serde::{Deserialize, Serialize};

use super::admin_auth::same_secret;
use super::forward::FORWARDED_BY;
use super::response::{error_response, full, Body};
use crate::cluster::{Cluster, Owner};
use crate::guest::bindings::namespaces::{Error, ErrorCode};
use crate::guest::bindings::{Request, Response as GuestResponse};
use crate::guest::{Carried, MAX_PAYLOAD_BYTES};
use crate::host::Host;
use crate::ids::ObjectId;
use crate::objects::{CallKind, Remote, RemoteAnswer, RemoteCall, RemoteError};

/// Marks a request as a call from another node.
pub(super) const CALL: &str = "x-wdo-call";
/// The nodes' secret.
const SECRET: &str = "x-wdo-node-secret";
/// Most bytes of a call's names, URL and headers, besides its body or payload.
const MAX_META_BYTES: usize = 1 << 20;

#[derive(Serialize, Deserialize)]
struct CallMeta {
    namespace: String,
    id: String,
    name: Option<String>,
    chain: Vec<(String, String)>,
    /// A stub's request (its body is the frame's), or else an RPC call of `method`.
    request: Option<RequestMeta>,
    method: Option<String>,
}

#[derive(Serialize, Deserialize)]
struct RequestMeta {
    method: String,
    url: String,
    headers: Vec<(String, String)>,
}

#[derive(Serialize, Deserialize)]
struct ReplyMeta {
    status: u16,
    headers: Vec<(String, String)>,
    error: Option<ErrorMeta>,
}

#[derive(Serialize, Deserialize)]
struct ErrorMeta {
    code: String,
    message: String,
    /// The object did not receive the call: it may be sent again.
    not_run: bool,
}

/// Sends calls to the other nodes.
pub struct NodeCalls {
    pub cluster: Arc<Cluster>,
    pub call_timeout: Duration,
}

impl Remote for NodeCalls {
    fn send(&self, owner: &Owner, call: RemoteCall) -> RemoteAnswer {
        let (cluster, owner, timeout) = (self.cluster.clone(), owner.clone(), self.call_timeout);
        Box::pin(async move { send(&cluster, &owner, call, timeout).await })
    }

    fn upgrade(
        &self,
        owner: &Owner,
        call: RemoteCall,
    ) -> RemoteAnswer<(GuestResponse, Option<Box<dyn Carried>>)> {
        let (cluster, node, timeout) =
            (self.cluster.clone(), owner.node.clone(), self.call_timeout);
        Box::pin(
            async move { super::tunnel::upgrade_for_stub(&cluster, timeout, &node, call).await },
        )
    }
}

fn failed(code: ErrorCode, message: String) -> Error {
    Error { code, message }
}

async fn send(
    cluster: &Cluster,
    Owner { node, lease }: &Owner,
    call: RemoteCall,
    timeout: Duration,
) -> Result<GuestResponse, RemoteError> {
    let unavailable = |message: String| failed(ErrorCode::Unavailable, message);
    let address = owner_address(cluster, node).await?;
    let sent = client()
        .post(format!("http://{address}/"))
        .header(CALL, "1")
        .header(SECRET, cluster.node_secret())
        .header(FORWARDED_BY, &cluster.node)
        .timeout(timeout + Duration::from_secs(5))
        .body(encode_call(call))
        .send()
        .await;
    let answer = match sent {
        Ok(answer) => answer,
        Err(e) if e.is_connect() => {
            cluster.forget_address(node);
            let message = format!("node {node:?} at {address} cannot be reached: {e}");
            return Err(RemoteError::NotRun(unavailable(message)));
        }
        Err(e) if cluster.is_leaving(node, *lease).await => {
            let message = format!("node {node:?} is stopping: {e}");
            return Err(RemoteError::NotRun(unavailable(message)));
        }
        Err(e) => {
            let message = format!(
                "node {node:?} at {address}, which owns the object, did not answer the call: {e}"
            );
            return Err(RemoteError::Failed(unavailable(message)));
        }
    };
    let status = answer.status();
    let bytes = answer.bytes().await.map_err(|e| {
        let message = format!("node {node:?} at {address} broke off its answer: {e}");
        RemoteError::Failed(unavailable(message))
    })?;
    if status != StatusCode::OK {
        let message = format!(
            "node {node:?} refused the call ({status}): {}",
            String::from_utf8_lossy(&bytes)
        );
        return Err(RemoteError::Failed(unavailable(message)));
    }
    let (meta, body) = unframe::<ReplyMeta>(&bytes).map_err(|e| {
        let message = format!("node {node:?} answered a call with a malformed frame: {e}");
        RemoteError::Failed(unavailable(message))
    })?;
    match meta.error {
        Some(ErrorMeta {
            code,
            message,
            not_run,
        }) => {
            let error = failed(code_from_name(&code), message);
            Err(match not_run {
                true => RemoteError::NotRun(error),
                false => RemoteError::Failed(error),
            })
        }
        None => Ok(GuestResponse {
            status: meta.status,
            headers: meta.headers,
            body: body.to_vec(),
        }),
    }
}

/// Where the node that owns an object listens; a call that cannot learn it did not run.
pub(super) async fn owner_address(cluster: &Cluster, node: &str) -> Result<String, RemoteError> {
    let message = match cluster.address(node).await {
        Ok(Some(address)) => return Ok(address),
        Ok(None) => format!("node {node:?} left the cluster"),
        Err(e) => format!("cannot ask etcd where node {node:?} is: {e}"),
    };
    Err(RemoteError::NotRun(failed(ErrorCode::Unavailable, message)))
}

/// Answers a call another node sent (a request with `x-wdo-call`).
pub(super) async fn serve(
    host: &Host,
    parts: &hyper::http::request::Parts,
    body: Incoming,
) -> Response<Body> {
    let Some(cluster) = host.registry.cluster() else {
        let message = "x-wdo-call: this host is not a node of a cluster";
        return error_response(StatusCode::BAD_REQUEST, message);
    };
    let given = parts.headers.get(SECRET).map_or(&b""[..], |v| v.as_bytes());
    if !same_secret(given, cluster.node_secret().as_bytes()) {
        let message = "x-wdo-call: the nodes' secret is missing or wrong (only another node of this cluster may call)";
        return error_response(StatusCode::FORBIDDEN, message);
    }
    let max = MAX_PAYLOAD_BYTES + MAX_META_BYTES;
    let deadline = host.config.body_read_timeout;
    let bytes = match tokio::time::timeout(deadline, Limited::new(body, max).collect()).await {
        Err(_) => {
            let message = format!("the call did not arrive within {deadline:?}");
            return error_response(StatusCode::REQUEST_TIMEOUT, message);
        }
        Ok(Err(e)) => {
            let message = format!("cannot read the call (at most {max} bytes): {e}");
            return error_response(StatusCode::BAD_REQUEST, message);
        }
        Ok(Ok(collected)) => collected.to_bytes(),
    };
    let call = match decode_call(host, &bytes) {
        Ok(call) => call,
        Err(message) => {
            return error_response(
                StatusCode::BAD_REQUEST,
                format!("a malformed call: {message}"),
            )
        }
    };
    let reply = match host.registry.serve_remote(call).await {
        Ok(response) => frame(
            &ReplyMeta {
                status: response.status,
                headers: response.headers,
                error: None,
            },
            &response.body,
        ),
        Err(error) => {
            let (error, not_run) = match error {
                RemoteError::NotRun(error) => (error, true),
                RemoteError::Failed(error) => (error, false),
            };
            let meta = ReplyMeta {
                status: 0,
                headers: Vec::new(),
                error: Some(ErrorMeta {
                    code: code_name(error.code).into(),
                    message: error.message,
                    not_run,
                }),
            };
            frame(&meta, b"")
        }
    };
    Response::new(full(Bytes::from(reply)))
}

fn encode_call(call: RemoteCall) -> Vec<u8> {
    let (request, method, raw) = match call.kind {
        CallKind::Fetch { request, .. } => {
            let meta = RequestMeta {
                method: request.method,
                url: request.url,
                headers: request.headers,
            };
            (Some(meta), None, request.body)
        }
        CallKind::Call { method, payload } => (None, Some(method), payload.into_bytes()),
    };
    let meta = CallMeta {
        namespace: call.namespace,
        id: call.id.to_string(),
        name: call.name,
        chain: call
            .chain
            .into_iter()
            .map(|(ns, id)| (ns, id.to_string()))
            .collect(),
        request,
        method,
    };
    frame(&meta, &raw)
}

fn decode_call(host: &Host, bytes: &[u8]) -> Result<RemoteCall, String> {
    let (meta, raw) = unframe::<CallMeta>(bytes)?;
    let parse = |namespace: &str, id: &str| -> Result<ObjectId, String> {
        let (_, ns) = host
            .namespace(namespace)
            .ok_or_else(|| format!("this node serves no namespace {namespace:?}"))?;
        ns.id_key
            .parse(id)
            .map_err(|e| format!("id {id:?} of namespace {namespace:?}: {e}"))
    };
    let id = parse(&meta.namespace, &meta.id)?;
    let chain = meta
        .chain
        .iter()
        .map(|(ns, id)| Ok((ns.clone(), parse(ns, id)?)))
        .collect::<Result<Vec<_>, String>>()?;
    let kind = match (meta.request, meta.method) {
        (Some(request), None) => CallKind::Fetch {
            request: Request {
                method: request.method,
                url: request.url,
                headers: request.headers,
                body: raw.to_vec(),
            },
            upgrade: false,
        },
        (None, Some(method)) => CallKind::Call {
            method,
            payload: String::from_utf8(raw.to_vec())
                .map_err(|_| "the RPC payload is not UTF-8".to_owned())?,
        },
        _ => return Err("a call is either a request or an RPC method, not both or neither".into()),
    };
    Ok(RemoteCall {
        namespace: meta.namespace,
        id,
        name: meta.name,
        chain,
        kind,
    })
}

fn frame(meta: &impl Serialize, raw: &[u8]) -> Vec<u8> {
    let meta = serde_json::to_vec(meta).expect("plain data serializes");
    let mut out = Vec::with_capacity(4 + meta.len() + raw.len());
    out.extend_from_slice(&(meta.len() as u32).to_be_bytes());
    out.extend_from_slice(&meta);
    out.extend_from_slice(raw);
    out
}

fn unframe<'a, T: Deserialize<'a>>(bytes: &'a [u8]) -> Result<(T, &'a [u8]), String> {
    let (len, rest) = bytes
        .split_first_chunk::<4>()
        .ok_or("shorter than its length prefix")?;
    let len = u32::from_be_bytes(*len) as usize;
    if len > MAX_META_BYTES || len > rest.len() {
        return Err(format!("its JSON part of {len} bytes is too long"));
    }
    let (meta, raw) = rest.split_at(len);
    let meta = serde_json::from_slice(meta).map_err(|e| format!("its JSON part: {e}"))?;
    Ok((meta, raw))
}

fn code_name(code: ErrorCode) -> &'static str {
    match code {
        ErrorCode::InvalidArgument => "invalid-argument",
        ErrorCode::Failed => "failed",
        ErrorCode::Cycle => "cycle",
        ErrorCode::Timeout => "timeout",
        ErrorCode::Unavailable => "unavailable",
    }
}

fn code_from_name(name: &str) -> ErrorCode {
    match name {
        "invalid-argument" => ErrorCode::InvalidArgument,
        "cycle" => ErrorCode::Cycle,
        "timeout" => ErrorCode::Timeout,
        "unavailable" => ErrorCode::Unavailable,
        _ => ErrorCode::Failed,
    }
}

/// The client that sends calls: keeps connections to the other nodes open.
fn client() -> &'static reqwest::Client {
    static CLIENT: OnceLock<reqwest::Client> = OnceLock::new();
    CLIENT.get_or_init(|| {
        super::forward::node_client()
            .pool_max_idle_per_host(256)
            .build()
            .expect("a plain HTTP client")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_frame_gives_back_its_json_and_body_and_a_broken_one_is_refused() {
        let meta = ErrorMeta {
            code: "cycle".into(),
            message: "m".into(),
            not_run: true,
        };
        let bytes = frame(&meta, b"\x00body");
        let (back, raw) = unframe::<ErrorMeta>(&bytes).unwrap();
        assert_eq!(
            (back.code.as_str(), back.not_run, raw),
            ("cycle", true, &b"\x00body"[..])
        );
        assert!(unframe::<ErrorMeta>(&bytes[..3]).is_err());
        assert!(
            unframe::<ErrorMeta>(&bytes[..10]).is_err(),
            "cut inside its JSON"
        );
        let mut long = bytes.clone();
        long[..4].copy_from_slice(&u32::MAX.to_be_bytes());
        assert!(unframe::<ErrorMeta>(&long).is_err());
        for code in [
            "invalid-argument",
            "failed",
            "cycle",
            "timeout",
            "unavailable",
        ] {
            assert_eq!(code_name(code_from_name(code)), code);
        }
    }
}
