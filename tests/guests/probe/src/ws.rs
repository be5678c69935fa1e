//! The probe's sockets: what the tests need to see from inside an object (tags and lists
//! after a wake, every close event it was given) and turns that roll back their socket
//! effects.

use serde_json::{json, Value};
use wdo_sdk::{Error, Message, Request, Response, State, WebSocket};

/// `GET /ws/closes`: every close event the object handled, how many sockets `/ws` accepted
/// (in committed turns), and how many it lists.
pub fn closes(state: &State) -> Result<Response, Error> {
    let storage = state.storage();
    let closes: Vec<Value> = storage.get("ws-closes")?.unwrap_or_default();
    Ok(Response::json(&json!({
        "accepts": storage.get::<u64>("ws-accepts")?.unwrap_or(0),
        "closes": closes,
        "closeTags": storage.get::<Vec<Value>>("ws-close-tags")?.unwrap_or_default(),
        "open": state.websockets(None).len(),
    })))
}

/// `GET /ws/roll-back`: accepts, sends to the new socket and to every other one, then rolls
/// the turn back: none of it may happen.
pub fn accept_then_roll_back(state: &State, request: &Request) -> Result<Response, Error> {
    let socket = state.accept_websocket(request, &["rolled-back"])?;
    socket.send("from a rolled-back accept")?;
    state.broadcast("from a rolled-back fetch", None, Some(socket))?;
    Err(Error::internal("rolled back on purpose").with_rollback(true))
}

/// A text message: `tags` answers what the object sees of this socket and its lists;
/// `send-then-fail` broadcasts and then fails (the broadcast must not happen); anything else
/// is echoed.
pub fn message(state: &State, socket: WebSocket, message: Message) -> Result<(), Error> {
    let Message::Text(text) = message else {
        return Ok(());
    };
    match text.as_str() {
        "tags" => {
            let tags = socket.tags()?;
            let with_tag: serde_json::Map<String, Value> = tags
                .iter()
                .map(|tag| (tag.clone(), json!(state.websockets(Some(tag)).len())))
                .collect();
            socket.send_json(&json!({
                "tags": tags,
                "withTag": with_tag,
                "all": state.websockets(None).len(),
            }))?;
        }
        flood if flood.starts_with("flood ") || flood.starts_with("broadcast-flood ") => {
            return self::flood(state, &socket, flood);
        }
        "send-then-fail" => {
            state.broadcast("from a failed message", None, None)?;
            socket.send("from a failed message")?;
            return Err(Error::internal("failing on purpose"));
        }
        _ => socket.send(format!("echo {text}"))?,
    }
    Ok(())
}

/// `flood N SIZE` sends N messages of SIZE bytes to this socket, `broadcast-flood N SIZE`
/// broadcasts them, stopping at the first refusal; what happened is stored for
/// `GET /ws/flood` (a message could not carry it past a refusal).
fn flood(state: &State, socket: &WebSocket, command: &str) -> Result<(), Error> {
    let words: Vec<&str> = command.split(' ').collect();
    let parse = |i: usize| words.get(i).and_then(|w| w.parse::<usize>().ok());
    let (Some(count), Some(size)) = (parse(1), parse(2)) else {
        return Err(Error::bad_request("usage: flood N SIZE"));
    };
    let message = "x".repeat(size);
    let mut sent = 0;
    let mut error = None;
    for _ in 0..count {
        let outcome = if words[0] == "flood" {
            socket
                .send(message.as_str())
                .map_err(|e| e.message().to_string())
        } else {
            state
                .broadcast(message.as_str(), None, None)
                .map(|_| ())
                .map_err(|e| format!("{:?}: {}", e.code(), e.message()))
        };
        match outcome {
            Ok(()) => sent += 1,
            Err(e) => {
                error = Some(e);
                break;
            }
        }
    }
    state
        .storage()
        .put("flood", &json!({"sent": sent, "error": error}))?;
    Ok(())
}

/// `GET /ws/flood`: what the last flood did.
pub fn flood_report(state: &State) -> Result<Response, Error> {
    let report: Value = state.storage().get("flood")?.unwrap_or(Value::Null);
    Ok(Response::json(&report))
}

/// Records the close event as the object saw it, and the closed socket's tags.
pub fn close(
    state: &State,
    socket: &WebSocket,
    code: u16,
    reason: String,
    was_clean: bool,
) -> Result<(), Error> {
    let storage = state.storage();
    let mut closes: Vec<Value> = storage.get("ws-closes")?.unwrap_or_default();
    closes.push(json!({"code": code, "reason": reason, "wasClean": was_clean}));
    storage.put("ws-closes", &closes)?;
    let mut tags: Vec<Value> = storage.get("ws-close-tags")?.unwrap_or_default();
    tags.push(json!(socket.tags()?));
    storage.put("ws-close-tags", &tags)?;
    Ok(())
}
