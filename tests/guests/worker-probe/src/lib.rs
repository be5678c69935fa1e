//! The test Worker (routes `/w/`): each path does one thing a worker may do.
//!
//! - `/w/env`: its bindings and vars;
//! - `/w/call?name=N&method=M&args=JSON`: an RPC call to the probe object N, answered as
//!   `{"ok": result}` or `{"error": {"code", "message"}}`;
//! - `/w/forward/N/<path>`: the request (method, headers, body, and a WebSocket upgrade)
//!   forwarded with `stub.fetch` to the probe object N, whose answer is returned unchanged;
//! - `/w/outbound?url=U`: an outbound GET, answered as `{"status", "body"}` or 502
//!   `{"error", "refused"}`;
//! - `/w/instance`: `{"served": N}`, the requests this instance has served (it outlives a
//!   request, not a failure);
//! - `/w/spin?ms=`, `/w/trap`: burn CPU, trap.

use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::{json, Value};
use wdo_sdk::{binding, export_worker, vars, Error, Request, Response, Worker};

struct TestWorker;

/// Requests this instance has served.
static SERVED: AtomicU64 = AtomicU64::new(0);

impl Worker for TestWorker {
    fn fetch(request: Request) -> Result<Response, Error> {
        let served = SERVED.fetch_add(1, Ordering::Relaxed) + 1;
        match request.segments().as_slice() {
            ["w", "instance"] => Ok(Response::json(&json!({ "served": served }))),
            ["w", "env"] => Ok(Response::json(&json!({
                "vars": vars(),
                "url": request.url(),
            }))),
            ["w", "call"] => {
                let name = request.query("name").unwrap_or_else(|| "target".into());
                let method = request.query("method").unwrap_or_else(|| "echo".into());
                let args: Value = match request.query("args") {
                    Some(text) => serde_json::from_str(&text)
                        .map_err(|e| Error::bad_request(format!("args is not JSON: {e}")))?,
                    None => json!([]),
                };
                let binding_name = request.query("binding").unwrap_or_else(|| "PROBE".into());
                let result = binding(&binding_name)
                    .get_by_name(&name)
                    .and_then(|stub| stub.call::<Value, Value>(&method, &args));
                Ok(Response::json(&match result {
                    Ok(value) => json!({ "ok": value }),
                    Err(e) => json!({ "error": { "code": e.code.as_str(), "message": e.message } }),
                }))
            }
            ["w", "forward", name, ..] => {
                let prefix = format!("/w/forward/{name}");
                let rest = request.url()[prefix.len()..].to_owned();
                let rest = if rest.starts_with('/') {
                    rest
                } else {
                    format!("/{rest}")
                };
                let headers: Vec<(&str, &str)> = request
                    .headers()
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_str()))
                    .collect();
                let stub = binding("PROBE").get_by_name(name)?;
                Ok(stub.fetch(request.method(), &rest, &headers, request.body().to_vec())?)
            }
            ["w", "spin"] => {
                let ms: u64 = request
                    .query("ms")
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0);
                let start = std::time::Instant::now();
                while start.elapsed().as_millis() < u128::from(ms) {
                    std::hint::spin_loop();
                }
                Ok(Response::json(&json!({ "spun": ms })))
            }
            ["w", "outbound"] => {
                let url = request.query("url").unwrap_or_default();
                Ok(match wdo_sdk::http::get(&url) {
                    Ok(response) => Response::json(&json!({
                        "status": response.status(),
                        "body": String::from_utf8_lossy(response.body()),
                    })),
                    Err(e) => Response::json(&json!({
                        "error": e.to_string(),
                        "refused": e.is_refused(),
                    }))
                    .with_status(502),
                })
            }
            ["w", "trap"] => panic!("the worker traps on purpose"),
            _ => Ok(Response::not_found()),
        }
    }
}

export_worker!(TestWorker);
