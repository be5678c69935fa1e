//! An object's key-value entries: `GET .../kv?prefix=&cursor=&limit=` (in key order; the
//! cursor is the last key of the previous page), `GET|PUT|DELETE .../kv/<key>` (the value
//! is the raw body).

use hyper::body::Incoming;
use hyper::{Request, Response};

use super::super::response::Body;
use super::{body_bytes, limit, query, Object};
use crate::host::Host;
use crate::objects::AdminRequest;

pub async fn list(host: &Host, object: &Object, request: &Request<Incoming>) -> Response<Body> {
    let query = query(request);
    let limit = match limit(&query, 100, 1000) {
        Ok(limit) => limit as u32,
        Err(response) => return response,
    };
    let request = AdminRequest::KvList {
        prefix: query.get("prefix").filter(|p| !p.is_empty()).cloned(),
        start_after: query.get("cursor").filter(|c| !c.is_empty()).cloned(),
        limit,
    };
    object.answer(host, request).await
}

pub async fn get(host: &Host, object: &Object, key: &str) -> Response<Body> {
    let key = key.to_string();
    object.answer(host, AdminRequest::KvGet { key }).await
}

pub async fn put(
    host: &Host,
    object: &Object,
    key: &str,
    request: Request<Incoming>,
) -> Response<Body> {
    // The storage checks the value against the key-value API's own limit.
    let value = match body_bytes(request, 4 << 20).await {
        Ok(value) => value.to_vec(),
        Err(response) => return response,
    };
    let key = key.to_string();
    object
        .answer(host, AdminRequest::KvPut { key, value })
        .await
}

pub async fn delete(host: &Host, object: &Object, key: &str) -> Response<Body> {
    let key = key.to_string();
    object.answer(host, AdminRequest::KvDelete { key }).await
}
