//! `/outbound?url=U[&method=M][&body=B][&key=K][&fail=1]`: an outbound HTTP request from an
//! object. With `key`, the object first writes `K` = "written before the request" (the
//! request carries it in its `x-written` header); with `fail`, the event then fails and is
//! rolled back. Answers `{"status", "body", "header"}` (the response's `x-echo` header) or,
//! when the request failed, 502 `{"error", "refused"}`.

use serde_json::json;
use wdo_sdk::{http, Error, Request, Response, Storage};

pub fn outbound(request: &Request, storage: &Storage) -> Result<Response, Error> {
    let url = request
        .query("url")
        .ok_or_else(|| Error::bad_request("missing query parameter url"))?;
    let mut outgoing = http::Request::new(
        &request.query("method").unwrap_or_else(|| "GET".into()),
        &url,
    );
    if let Some(key) = request.query("key") {
        let written = "written before the request";
        storage.put(&key, &written)?;
        outgoing = outgoing.header(
            "x-written",
            &storage.get::<String>(&key)?.unwrap_or_default(),
        );
    }
    if let Some(body) = request.query("body") {
        outgoing = outgoing.body(body.into_bytes());
    }
    let answer = match outgoing.send() {
        Ok(response) => Response::json(&json!({
            "status": response.status(),
            "body": String::from_utf8_lossy(response.body()),
            "header": response.header("x-echo"),
        })),
        Err(e) => Response::json(&json!({
            "error": e.to_string(),
            "refused": e.is_refused(),
        }))
        .with_status(502),
    };
    if request.query("fail").is_some() {
        return Err(Error::internal("failing after the request, on purpose").with_rollback(true));
    }
    Ok(answer)
}
