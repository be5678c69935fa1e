//! `chat`: WebSockets with hibernation. One object per room.
//!
//! - `GET /websocket?name=N` with `Upgrade: websocket` → 101 (without it: 426 `Expected
//!   WebSocket`). The new socket receives `{"type":"history","messages":[...]}` (the last
//!   50, oldest first); every other socket receives `{"type":"join","name":N}`.
//! - A client's `{"type":"message","text":X}` goes to every socket as
//!   `{"type":"message","name":N,"text":X,"timestamp":ms}`; the room keeps the last 1000.
//! - The text frame `ping` is answered `pong` by the host, without waking the room.
//! - When a socket closes, every other socket receives `{"type":"leave","name":N}`.
//! - `GET /stats` → `{"connections":C,"messages":M,"wakeups":W}`: W counts the instances
//!   this room has had, which shows hibernation at work.
//!
//! N lives in the socket's attachment, so it survives hibernation.

use serde::{Deserialize, Serialize};
use serde_json::json;
use wdo_sdk::{
    export_object, now_ms, DurableObject, Error, ListOptions, Message, Request, Response, State,
    WebSocket,
};

const HISTORY: u32 = 50;
const KEEP: u64 = 1000;

struct Chat {
    state: State,
}

#[derive(Serialize, Deserialize, Clone)]
struct Stored {
    name: String,
    text: String,
    timestamp: u64,
}

#[derive(Serialize, Deserialize)]
struct Attachment {
    name: String,
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
enum Incoming {
    Message { text: String },
}

fn message_key(seq: u64) -> String {
    format!("msg:{seq:016}")
}

impl Chat {
    fn history(&self) -> Result<Vec<Stored>, Error> {
        let options = ListOptions::new()
            .prefix("msg:")
            .reverse(true)
            .limit(HISTORY);
        let mut messages: Vec<Stored> = self
            .state
            .storage()
            .list(options)?
            .into_iter()
            .map(|(_, m)| m)
            .collect();
        messages.reverse();
        Ok(messages)
    }

    fn join(&self, request: &Request) -> Result<Response, Error> {
        if !request.is_websocket_upgrade() {
            return Ok(Response::text("Expected WebSocket").with_status(426));
        }
        let name = request
            .query("name")
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| "anonymous".into());
        let socket = self.state.accept_websocket(request, &["room"])?;
        socket.set_attachment(&Attachment { name: name.clone() })?;
        socket.send_json(&json!({"type": "history", "messages": self.history()?}))?;
        self.state
            .broadcast_json(&json!({"type": "join", "name": name}), None, Some(socket))?;
        Ok(Response::new(101))
    }

    fn stats(&self) -> Result<Response, Error> {
        let storage = self.state.storage();
        Ok(Response::json(&json!({
            "connections": self.state.websockets(None).len(),
            "messages": storage.get::<u64>("count")?.unwrap_or(0).min(KEEP),
            "wakeups": storage.get::<u64>("wakeups")?.unwrap_or(0),
        })))
    }

    fn name_of(socket: WebSocket) -> Result<String, Error> {
        Ok(socket
            .attachment::<Attachment>()?
            .map_or_else(|| "anonymous".into(), |a| a.name))
    }
}

impl DurableObject for Chat {
    fn new(state: State) -> Self {
        // Counts instances: each wake-up from hibernation creates a new one. The constructor
        // runs inside the first event's turn, so this write commits with it. Panicking here
        // would trap that event, which is what a storage failure this early deserves.
        let storage = state.storage();
        let wakeups = storage.get::<u64>("wakeups").ok().flatten().unwrap_or(0) + 1;
        storage
            .put("wakeups", &wakeups)
            .expect("storage is available");
        state
            .set_auto_response("ping", "pong")
            .expect("a short auto-response is valid");
        Chat { state }
    }

    fn fetch(&mut self, request: Request) -> Result<Response, Error> {
        match (request.method(), request.path()) {
            ("GET", "/websocket") => self.join(&request),
            ("GET", "/stats") => self.stats(),
            _ => Ok(Response::not_found()),
        }
    }

    fn websocket_message(&mut self, socket: WebSocket, message: Message) -> Result<(), Error> {
        let Message::Text(text) = message else {
            return socket
                .send_json(&json!({"type": "error", "error": "binary messages are not supported"}))
                .map_err(Error::from);
        };
        let Ok(Incoming::Message { text }) = serde_json::from_str::<Incoming>(&text) else {
            socket.send_json(
                &json!({"type": "error", "error": "expected {\"type\":\"message\",\"text\":...}"}),
            )?;
            return Ok(());
        };
        let storage = self.state.storage();
        let stored = Stored {
            name: Self::name_of(socket)?,
            text,
            timestamp: now_ms(),
        };
        let seq = storage.get::<u64>("count")?.unwrap_or(0) + 1;
        storage.put(&message_key(seq), &stored)?;
        storage.put("count", &seq)?;
        if seq > KEEP {
            storage.delete(&message_key(seq - KEEP))?;
        }
        self.state.broadcast_json(
            &json!({"type": "message", "name": stored.name, "text": stored.text, "timestamp": stored.timestamp}),
            None,
            None,
        )?;
        Ok(())
    }

    fn websocket_close(
        &mut self,
        socket: WebSocket,
        _code: u16,
        _reason: String,
        _was_clean: bool,
    ) -> Result<(), Error> {
        let name = Self::name_of(socket)?;
        self.state
            .broadcast_json(&json!({"type": "leave", "name": name}), None, Some(socket))?;
        Ok(())
    }
}

export_object!(Chat);
