//! An object's WebSockets: `GET .../sockets` (count, and each one's tags and attachment).
//! The hub owns sockets apart from the object, so this neither activates nor waits for it.

use hyper::{Response, StatusCode};
use serde_json::{json, Value};

use super::super::response::{json_response, Body};
use super::Object;
use crate::host::Host;

pub fn list(host: &Host, object: &Object) -> Response<Body> {
    let key = (object.index, object.id);
    let hub = &host.registry.hub;
    let sockets: Vec<Value> = hub
        .list(key, None)
        .into_iter()
        .map(|id| {
            let tags = hub.tags(key, id).unwrap_or_default();
            let attachment = match hub.attachment(key, id).ok().flatten() {
                None => Value::Null,
                Some(bytes) => match String::from_utf8(bytes) {
                    Ok(text) => json!({ "text": text }),
                    Err(e) => json!({ "hex": hex::encode(e.as_bytes()) }),
                },
            };
            json!({ "id": id, "tags": tags, "attachment": attachment })
        })
        .collect();
    json_response(
        StatusCode::OK,
        &json!({ "count": sockets.len(), "sockets": sockets }),
    )
}
