//! The objects of a namespace: `GET .../objects?cursor=&limit=&name=` (paged by id; `name`
//! keeps those whose name contains it), and one object: `GET` (summary), `DELETE` (its
//! data), `POST .../evict`.

use std::path::Path;
use std::time::UNIX_EPOCH;

use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use serde_json::{json, Value};

use super::super::response::{error_response, json_response, Body};
use super::{limit, query, Object};
use crate::host::Host;
use crate::ids::ObjectId;
use crate::objects::{AdminRequest, Namespace};
use crate::storage::wal_path;

/// The longest `name` filter taken.
const MAX_NAME_FILTER: usize = 1024;

pub async fn list(
    host: &Host,
    index: usize,
    namespace: &std::sync::Arc<Namespace>,
    request: &Request<Incoming>,
) -> Response<Body> {
    let query = query(request);
    let limit = match limit(&query, 100, 1000) {
        Ok(limit) => limit,
        Err(response) => return response,
    };
    let cursor = query.get("cursor").filter(|c| !c.is_empty()).cloned();
    if let Some(cursor) = &cursor {
        if cursor.len() != 64 || !cursor.bytes().all(|b| b.is_ascii_hexdigit()) {
            return error_response(
                StatusCode::BAD_REQUEST,
                format!("cursor must be an object id (64 hex digits) from a previous page, not {cursor:?}"),
            );
        }
    }
    let name = query.get("name").filter(|n| !n.is_empty()).cloned();
    if let Some(name) = &name {
        if name.len() > MAX_NAME_FILTER {
            return error_response(
                StatusCode::BAD_REQUEST,
                format!(
                    "name must be at most {MAX_NAME_FILTER} bytes (a part of an object's name), \
                     not {} bytes",
                    name.len()
                ),
            );
        }
    }
    let ns = namespace.clone();
    let page = tokio::task::spawn_blocking(move || {
        ns.metadata
            .objects_page(cursor.as_deref(), name.as_deref(), limit + 1)
    })
    .await;
    let mut page = match page {
        Ok(Ok(page)) => page,
        Ok(Err(e)) => return error_response(StatusCode::INTERNAL_SERVER_ERROR, e),
        Err(e) => return error_response(StatusCode::INTERNAL_SERVER_ERROR, e),
    };
    let more = page.len() > limit;
    page.truncate(limit);
    let next = more
        .then(|| page.last().map(|(id, _, _)| id.clone()))
        .flatten();
    let objects: Vec<Value> = page
        .into_iter()
        .map(|(id_text, name, created_ms)| {
            let id = namespace.id_key.parse(&id_text).ok();
            let mut value = json!({ "id": id_text, "name": name, "createdMs": created_ms });
            if let Some(id) = id {
                merge(&mut value, status(host, index, namespace, &id));
            }
            value
        })
        .collect();
    json_response(
        StatusCode::OK,
        &json!({ "objects": objects, "cursor": next }),
    )
}

/// What can be known of an object without asking it: its files, whether it is live, its
/// alarm as the scheduler has it, its sockets.
fn status(host: &Host, index: usize, namespace: &Namespace, id: &ObjectId) -> Value {
    let path = namespace.object_path(id);
    let files = [path.clone(), wal_path(&path)];
    let size: u64 = files.iter().filter_map(|f| len(f)).sum();
    let last_write = files.iter().filter_map(|f| modified_ms(f)).max();
    let key = (index, *id);
    json!({
        "sizeBytes": size,
        "lastWriteMs": last_write,
        "live": host.registry.is_live(key),
        "alarmMs": host.registry.scheduler.get(key).map(|e| e.scheduled_ms),
        "sockets": host.registry.hub.count(key),
        "exists": path.exists(),
    })
}

fn len(path: &Path) -> Option<u64> {
    std::fs::metadata(path).ok().map(|m| m.len())
}

fn modified_ms(path: &Path) -> Option<u64> {
    let modified = std::fs::metadata(path).ok()?.modified().ok()?;
    Some(modified.duration_since(UNIX_EPOCH).ok()?.as_millis() as u64)
}

fn merge(into: &mut Value, from: Value) {
    if let (Value::Object(into), Value::Object(from)) = (into, from) {
        into.extend(from);
    }
}

pub async fn show(host: &Host, object: &Object) -> Response<Body> {
    if !object.exists(host) {
        return object.not_found();
    }
    let mut value = json!({ "id": object.id.to_string(), "name": object.name });
    merge(
        &mut value,
        status(host, object.index, &object.namespace, &object.id),
    );
    json_response(StatusCode::OK, &value)
}

/// Replaces the object's database by an empty one (inside its serial order).
pub async fn delete(host: &Host, object: &Object) -> Response<Body> {
    object.answer(host, AdminRequest::DeleteData).await
}

/// Retires the object now; busy, it first finishes what is queued for it.
pub fn evict(host: &Host, object: &Object) -> Response<Body> {
    let evicted = host.registry.evict((object.index, object.id));
    json_response(StatusCode::OK, &json!({ "evicted": evicted }))
}
