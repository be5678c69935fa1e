//! The probe's RPC side: methods other objects call through a stub, and `/call` and
//! `/forward`, which make the probe itself call another object, answering what came back
//! (the result or the error's code and message) as JSON.

use serde_json::{json, Value};
use wdo_sdk::{binding, rpc_args, Error, Request, Response, RpcError, State};

/// An RPC method of the probe.
pub fn call(state: &State, events: u64, method: &str, args: Value) -> Result<Value, Error> {
    let storage = state.storage();
    match method {
        // What the callee saw.
        "echo" => Ok(json!({
            "args": args,
            "name": state.name(),
            "id": state.id(),
            "instanceEvents": events,
        })),
        // Adds `n` to the number at `key` and answers the sum.
        "add" => {
            let (key, n): (String, i64) = rpc_args(args)?;
            let sum = storage.get::<i64>(&key)?.unwrap_or(0) + n;
            storage.put(&key, &sum)?;
            Ok(json!(sum))
        }
        "get" => {
            let (key,): (String,) = rpc_args(args)?;
            Ok(storage.get::<Value>(&key)?.unwrap_or(Value::Null))
        }
        // Writes, then fails: the write must be rolled back.
        "fail" => {
            let (message,): (String,) = rpc_args(args)?;
            storage.put("failed-write", &true)?;
            Err(Error::internal(message))
        }
        "trap" => {
            storage.put("failed-write", &true)?;
            panic!("the probe traps on purpose");
        }
        "spin" => {
            let (ms,): (u64,) = rpc_args(args)?;
            let start = std::time::Instant::now();
            while start.elapsed().as_millis() < u128::from(ms) {
                std::hint::spin_loop();
            }
            Ok(json!(ms))
        }
        "loop" => loop {
            std::hint::spin_loop();
        },
        // Calls on: `relay(binding, name, method, args)`; the answer is the next call's.
        "relay" => {
            let (binding_name, name, method, args): (String, String, String, Value) =
                rpc_args(args)?;
            let stub = binding(&binding_name).get_by_name(&name)?;
            Ok(stub.call::<Value, Value>(&method, &args)?)
        }
        _ => Err(Error::not_found(format!("no RPC method {method:?}"))),
    }
}

fn answer(result: Result<Value, RpcError>) -> Response {
    Response::json(&match result {
        Ok(value) => json!({ "ok": value }),
        Err(e) => json!({ "error": { "code": e.code.as_str(), "message": e.message } }),
    })
}

/// `/call?binding=B&name=N&method=M&args=JSON[&id=HEX][&write=KEY][&rollback=1]`: writes
/// `KEY` = true first if asked, calls, and rolls its own event back afterwards if asked.
pub fn call_out(state: &State, request: &Request) -> Result<Response, Error> {
    let query = |name: &str| request.query(name);
    let binding_name = query("binding").unwrap_or_else(|| "PROBE".into());
    let method = query("method").ok_or_else(|| Error::bad_request("missing method"))?;
    let args: Value = match query("args") {
        Some(text) => serde_json::from_str(&text)
            .map_err(|e| Error::bad_request(format!("args is not JSON: {e}")))?,
        None => json!([]),
    };
    if let Some(key) = query("write") {
        state.storage().put(&key, &true)?;
    }
    let namespace = binding(&binding_name);
    let result = (|| {
        let stub = match (query("id"), query("name")) {
            (Some(id), _) => namespace.get(&namespace.id_from_string(&id)?)?,
            (None, Some(name)) => namespace.get_by_name(&name)?,
            (None, None) => namespace.get(&namespace.new_unique_id()?)?,
        };
        stub.call::<Value, Value>(&method, &args)
    })();
    let response = answer(result);
    if query("rollback").is_some() {
        return Err(Error::internal("rolled back on purpose").with_rollback(true));
    }
    Ok(response)
}

/// `/forward?binding=B&name=N&path=/echo`: the object's answer to a GET of `path`, as is.
pub fn forward(request: &Request) -> Result<Response, Error> {
    let binding_name = request.query("binding").unwrap_or_else(|| "PROBE".into());
    let name = request.query("name").unwrap_or_else(|| "target".into());
    let path = request.query("path").unwrap_or_else(|| "/echo".into());
    let stub = binding(&binding_name).get_by_name(&name)?;
    Ok(stub.fetch("GET", &path, &[("x-forwarded-by", "probe")], Vec::new())?)
}

/// `/call-many?name=N&n=COUNT[&method=M][&args=JSON][&binding=B]`: one call to wake the
/// callee, then `n` calls in a row, each timed in the guest (`Instant`, around `stub.call`).
/// Answers `{"nanos": [each call's duration]}`; the first failed call fails the request.
pub fn call_many(request: &Request) -> Result<Response, Error> {
    let binding_name = request.query("binding").unwrap_or_else(|| "PROBE".into());
    let name = request
        .query("name")
        .ok_or_else(|| Error::bad_request("missing query parameter name"))?;
    let count: usize = request
        .query("n")
        .ok_or_else(|| Error::bad_request("missing query parameter n"))?
        .parse()
        .map_err(|_| Error::bad_request("n must be a number"))?;
    if count > 1_000_000 {
        return Err(Error::bad_request("n must be at most 1,000,000"));
    }
    let method = request.query("method").unwrap_or_else(|| "echo".into());
    let args: Value = match request.query("args") {
        Some(text) => serde_json::from_str(&text)
            .map_err(|e| Error::bad_request(format!("args is not JSON: {e}")))?,
        None => json!([]),
    };
    let stub = binding(&binding_name).get_by_name(&name)?;
    let failed = |e: RpcError| Error::internal(format!("{}: {}", e.code.as_str(), e.message));
    stub.call::<Value, Value>(&method, &args).map_err(failed)?;
    let mut nanos = Vec::with_capacity(count);
    for _ in 0..count {
        let start = std::time::Instant::now();
        stub.call::<Value, Value>(&method, &args).map_err(failed)?;
        nanos.push(start.elapsed().as_nanos() as u64);
    }
    Ok(Response::json(&json!({ "nanos": nanos })))
}
