//! The admin listener (loopback by default): the inspector page at `/` (`../inspector/`),
//! `/metrics` in Prometheus text, `/healthz`, and the JSON admin API, one file per resource: namespaces and reloads (`namespaces.rs`), the
//! objects of a namespace (`objects.rs`), an object's key-value entries (`kv.rs`), SQL
//! (`sql.rs`), alarm (`alarm.rs`), sockets (`sockets.rs`), export and import
//! (`transfer.rs`). What reads or writes an object's database goes to the object as an
//! admin event and runs in its serial order (`objects/admin.rs`).
//!
//! Errors are `{"error": "..."}`: 400 for bad input (a malformed id, paging parameter or
//! body), 404 for an unknown namespace, object, key or endpoint, 503 when the object cannot
//! take the request now, 500 when it failed.

mod alarm;
mod cluster;
mod kv;
mod namespaces;
mod objects;
mod sockets;
mod sql;
mod transfer;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use percent_encoding::percent_decode_str;
use serde_json::Value;

use super::response::{error_response, json_response, text_response, Body};
use crate::host::Host;
use crate::ids::ObjectId;
use crate::objects::{AdminError, AdminRequest, Event, Namespace};

/// The client's address, put on each request by the accept loop (for the audit log).
#[derive(Clone, Copy, Debug)]
pub struct PeerAddr(pub SocketAddr);

/// The largest JSON body the admin API reads.
const MAX_JSON_BODY: usize = 1 << 20;

pub async fn handle(host: Arc<Host>, request: Request<Incoming>) -> Response<Body> {
    // The inspector's page and files hold no data: served without the token, they ask for it.
    let path = request.uri().path();
    if super::inspector::owns(path) {
        return super::inspector::serve(request.method(), path, request.headers());
    }
    if let Err(refused) =
        super::admin_auth::check(host.config.admin_token.as_deref(), request.headers())
    {
        return refused;
    }
    let path = request.uri().path().to_owned();
    let segments: Vec<String> = match path
        .trim_matches('/')
        .split('/')
        .map(|s| percent_decode_str(s).decode_utf8().map(|s| s.into_owned()))
        .collect::<Result<_, _>>()
    {
        Ok(segments) => segments,
        Err(_) => return error_response(StatusCode::BAD_REQUEST, "the path is not UTF-8"),
    };
    let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
    let method = request.method().clone();
    let not_found = || {
        error_response(
            StatusCode::NOT_FOUND,
            format!("no admin endpoint {method} {path}"),
        )
    };
    match (&method, segments.as_slice()) {
        (&Method::GET, ["metrics"]) => text_response(
            StatusCode::OK,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
            host.metrics.encode(),
        ),
        (&Method::GET, ["healthz"]) => {
            json_response(StatusCode::OK, &serde_json::json!({"ok": true}))
        }
        (&Method::GET, ["v1", "namespaces"]) => namespaces::list(&host),
        (&Method::GET, ["v1", "cluster"]) => cluster::show(&host).await,
        (&Method::POST, ["v1", "reload"]) => namespaces::reload_all(&host).await,
        (_, ["v1", "namespaces", ns, rest @ ..]) => {
            let Some((index, namespace)) = host.namespace(ns) else {
                return error_response(StatusCode::NOT_FOUND, format!("unknown namespace {ns:?}"));
            };
            match (&method, rest) {
                (&Method::POST, ["reload"]) => namespaces::reload(&host, index).await,
                (&Method::POST, ["unique-id"]) => namespaces::unique_id(&namespace),
                (&Method::GET, ["objects"]) => {
                    objects::list(&host, index, &namespace, &request).await
                }
                (_, ["objects", target, rest @ ..]) => {
                    let object = match Object::resolve(index, namespace, target) {
                        Ok(object) => object,
                        Err(response) => return response,
                    };
                    let route = ObjectRoute {
                        host: &host,
                        object,
                        method: &method,
                        rest,
                    };
                    match route.serve(request).await {
                        Some(response) => response,
                        None => not_found(),
                    }
                }
                _ => not_found(),
            }
        }
        _ => not_found(),
    }
}

/// One object of a namespace, as a URL segment names it: `<name>` or `@<id>`, as on the
/// public listener.
pub(super) struct Object {
    pub index: usize,
    pub namespace: Arc<Namespace>,
    pub id: ObjectId,
    pub name: Option<String>,
}

impl Object {
    fn resolve(
        index: usize,
        namespace: Arc<Namespace>,
        target: &str,
    ) -> Result<Object, Response<Body>> {
        let (id, name) = match target.strip_prefix('@') {
            Some(text) => match namespace.id_key.parse(text) {
                Ok(id) => (id, None),
                Err(e) => {
                    return Err(error_response(
                        StatusCode::BAD_REQUEST,
                        format!("malformed object id {text:?}: {e}"),
                    ))
                }
            },
            None if target.is_empty() => {
                return Err(error_response(StatusCode::BAD_REQUEST, "empty object name"))
            }
            None => (
                namespace.id_key.id_from_name(target),
                Some(target.to_string()),
            ),
        };
        Ok(Object {
            index,
            namespace,
            id,
            name,
        })
    }

    /// Whether the object has a database (it ran at least once and was not deleted since).
    pub fn exists(&self, host: &Host) -> bool {
        host.registry.is_live((self.index, self.id))
            || self.namespace.object_path(&self.id).exists()
    }

    pub fn not_found(&self) -> Response<Body> {
        error_response(
            StatusCode::NOT_FOUND,
            format!(
                "no object {} in namespace {:?} (it never ran, or its data was deleted)",
                self.describe(),
                self.namespace.name
            ),
        )
    }

    pub fn describe(&self) -> String {
        match &self.name {
            Some(name) => format!("{name:?}"),
            None => format!("@{}", self.id),
        }
    }

    /// Sends `request` to the object and waits for its answer.
    pub async fn ask(&self, host: &Host, request: AdminRequest) -> Result<Value, Response<Body>> {
        let (event, answer) = Event::admin(request);
        if let Err(e) = host.registry.dispatch(
            &self.namespace,
            self.index,
            self.id,
            self.name.as_deref(),
            event,
        ) {
            return Err(error_response(StatusCode::SERVICE_UNAVAILABLE, e));
        }
        match answer.await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(e)) => Err(admin_error(&e)),
            Err(_) => Err(error_response(
                StatusCode::SERVICE_UNAVAILABLE,
                "the object stopped before answering",
            )),
        }
    }

    /// [`ask`](Self::ask), answered as JSON, for an object that must exist.
    pub async fn answer(&self, host: &Host, request: AdminRequest) -> Response<Body> {
        if !self.exists(host) {
            return self.not_found();
        }
        match self.ask(host, request).await {
            Ok(value) => json_response(StatusCode::OK, &value),
            Err(response) => response,
        }
    }
}

struct ObjectRoute<'a> {
    host: &'a Arc<Host>,
    object: Object,
    method: &'a Method,
    rest: &'a [&'a str],
}

impl ObjectRoute<'_> {
    async fn serve(self, request: Request<Incoming>) -> Option<Response<Body>> {
        let (host, object) = (&**self.host, &self.object);
        Some(match (self.method, self.rest) {
            (&Method::GET, []) => objects::show(host, object).await,
            (&Method::DELETE, []) => objects::delete(host, object).await,
            (&Method::POST, ["evict"]) => objects::evict(host, object),
            (&Method::GET, ["kv"]) => kv::list(host, object, &request).await,
            (&Method::GET, ["kv", key]) => kv::get(host, object, key).await,
            (&Method::PUT, ["kv", key]) => kv::put(host, object, key, request).await,
            (&Method::DELETE, ["kv", key]) => kv::delete(host, object, key).await,
            (&Method::GET, ["sql", "tables"]) => sql::tables(host, object).await,
            (&Method::GET, ["sql", "tables", table, "rows"]) => {
                sql::rows(host, object, table, &request).await
            }
            (&Method::POST, ["sql"]) => sql::run(host, object, request).await,
            (&Method::GET, ["alarm"]) => object.answer(host, AdminRequest::GetAlarm).await,
            (&Method::PUT, ["alarm"]) => alarm::set(host, object, request).await,
            (&Method::DELETE, ["alarm"]) => object.answer(host, AdminRequest::DeleteAlarm).await,
            (&Method::POST, ["alarm", "run"]) => object.answer(host, AdminRequest::RunAlarm).await,
            (&Method::GET, ["sockets"]) => sockets::list(host, object),
            (&Method::GET, ["export"]) => transfer::export(host, object).await,
            (&Method::PUT | &Method::POST, ["import"]) => {
                transfer::import(host, object, request).await
            }
            _ => return None,
        })
    }
}

pub(super) fn admin_error(error: &AdminError) -> Response<Body> {
    let status = match error {
        AdminError::BadInput(_) => StatusCode::BAD_REQUEST,
        AdminError::NotFound(_) => StatusCode::NOT_FOUND,
        AdminError::Failed(_) | AdminError::Stopped(_) => StatusCode::INTERNAL_SERVER_ERROR,
    };
    error_response(status, error)
}

/// The query string's parameters, decoded (`+` is a space).
pub(super) fn query(request: &Request<Incoming>) -> HashMap<String, String> {
    let decode = |s: &str| {
        percent_decode_str(&s.replace('+', " "))
            .decode_utf8_lossy()
            .into_owned()
    };
    request
        .uri()
        .query()
        .unwrap_or("")
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (decode(k), decode(v))
        })
        .collect()
}

/// The `limit` parameter: `default` if absent, 1..=`max`.
pub(super) fn limit(
    query: &HashMap<String, String>,
    default: usize,
    max: usize,
) -> Result<usize, Response<Body>> {
    match query.get("limit") {
        None => Ok(default),
        Some(text) => match text.parse::<usize>() {
            Ok(n) if (1..=max).contains(&n) => Ok(n),
            _ => Err(error_response(
                StatusCode::BAD_REQUEST,
                format!("limit must be a whole number from 1 to {max}, not {text:?}"),
            )),
        },
    }
}

/// The request body as JSON (at most 1 MiB).
pub(super) async fn json_body(request: Request<Incoming>) -> Result<Value, Response<Body>> {
    let bytes = body_bytes(request, MAX_JSON_BODY).await?;
    serde_json::from_slice(&bytes).map_err(|e| {
        error_response(
            StatusCode::BAD_REQUEST,
            format!("the body is not valid JSON: {e}"),
        )
    })
}

/// The request body, refused beyond `max` bytes.
pub(super) async fn body_bytes(
    request: Request<Incoming>,
    max: usize,
) -> Result<bytes::Bytes, Response<Body>> {
    match Limited::new(request.into_body(), max).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => Err(error_response(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the body is larger than the limit of {max} bytes"),
        )),
        Err(e) => Err(error_response(
            StatusCode::BAD_REQUEST,
            format!("cannot read the body: {e}"),
        )),
    }
}

/// Who sent the request, for the log: the client's address and user agent.
pub(super) fn who(request: &Request<Incoming>) -> String {
    let peer = request
        .extensions()
        .get::<PeerAddr>()
        .map_or_else(|| "unknown".to_string(), |p| p.0.to_string());
    let agent = request
        .headers()
        .get(hyper::header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-");
    format!("{peer} ({agent})")
}
