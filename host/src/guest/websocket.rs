//! The host side of the WIT `websocket` interface, over the hub ([`crate::websocket::Hub`]).
//! Sends are collected in the turn's effects and released by the actor after the commit
//! (output gate).

use super::bindings::{storage, websocket};
use super::ctx::{GuestResult, ObjectCtx};
use crate::websocket::{Outbound, SocketId, WsError, WsMessage};

/// What a turn did to sockets, applied or discarded by the actor when the turn ends.
#[derive(Default)]
pub struct TurnEffects {
    /// Whether the event is a fetch of a WebSocket upgrade request.
    pub upgrade_allowed: bool,
    pub accepted: Option<SocketId>,
    /// The accepted socket keeps the object live while open (`accept-websocket-pinned`).
    pub pinned: bool,
    pub outbox: Vec<(SocketId, Outbound)>,
    /// Bytes of the messages this event sent so far (a broadcast's message counts once).
    pub sent_bytes: usize,
}

fn guest_error(error: WsError) -> storage::Error {
    let code = match error {
        WsError::Invalid(_) => storage::ErrorCode::InvalidArgument,
        WsError::Limit(_) => storage::ErrorCode::LimitExceeded,
    };
    storage::Error {
        code,
        message: error.to_string(),
    }
}

fn invalid(message: impl Into<String>) -> storage::Error {
    guest_error(WsError::Invalid(message.into()))
}

impl From<websocket::Message> for WsMessage {
    fn from(message: websocket::Message) -> WsMessage {
        match message {
            websocket::Message::Text(text) => WsMessage::Text(text),
            websocket::Message::Binary(bytes) => WsMessage::Binary(bytes),
        }
    }
}

impl From<WsMessage> for websocket::Message {
    fn from(message: WsMessage) -> websocket::Message {
        match message {
            WsMessage::Text(text) => websocket::Message::Text(text),
            WsMessage::Binary(bytes) => websocket::Message::Binary(bytes),
        }
    }
}

impl ObjectCtx {
    /// Checks one message that is about to be queued for `frames` sockets against the
    /// limits of a message and of one event's output, and charges it.
    fn charge_message(&mut self, message: &WsMessage, frames: usize) -> Result<(), storage::Error> {
        let len = match message {
            WsMessage::Text(text) => text.len(),
            WsMessage::Binary(bytes) => bytes.len(),
        };
        let limits = &self.hub.limits;
        let max = limits.max_send_bytes;
        if len > max {
            return Err(guest_error(WsError::Limit(format!(
                "a WebSocket message cannot be larger than {max} bytes; it was {len} bytes"
            ))));
        }
        let sent = self.effects.sent_bytes + len;
        if sent > limits.max_turn_send_bytes {
            return Err(guest_error(WsError::Limit(format!(
                "one event cannot send more than {} bytes of WebSocket messages; this one would reach {sent}",
                limits.max_turn_send_bytes
            ))));
        }
        self.charge_frames(frames)?;
        self.effects.sent_bytes = sent;
        Ok(())
    }

    /// Checks that `frames` more messages or closes fit in one event's output.
    fn charge_frames(&self, frames: usize) -> Result<(), storage::Error> {
        let queued = self.effects.outbox.len() + frames;
        let max = self.hub.limits.max_turn_frames;
        if queued > max {
            return Err(guest_error(WsError::Limit(format!(
                "one event cannot queue more than {max} WebSocket messages and closes; this one would reach {queued}"
            ))));
        }
        Ok(())
    }
}

impl websocket::Host for ObjectCtx {
    fn accept_websocket(&mut self, tags: Vec<String>) -> GuestResult<SocketId> {
        if !self.effects.upgrade_allowed {
            return Ok(Err(invalid(
                "accept-websocket: the request being handled is not a WebSocket upgrade request",
            )));
        }
        if self.effects.accepted.is_some() {
            return Ok(Err(invalid(
                "accept-websocket: this request's WebSocket was already accepted",
            )));
        }
        Ok(match self.hub.accept(self.info.key(), tags) {
            Ok(id) => {
                self.effects.accepted = Some(id);
                Ok(id)
            }
            Err(e) => Err(guest_error(e)),
        })
    }

    fn accept_websocket_pinned(&mut self, tags: Vec<String>) -> GuestResult<SocketId> {
        let accepted = self.accept_websocket(tags)?;
        if accepted.is_ok() {
            self.effects.pinned = true;
        }
        Ok(accepted)
    }

    fn send(&mut self, socket: SocketId, message: websocket::Message) -> GuestResult<()> {
        let message = WsMessage::from(message);
        if let Err(e) = self.hub.check_open(self.info.key(), socket) {
            return Ok(Err(guest_error(e)));
        }
        if let Err(e) = self.charge_message(&message, 1) {
            return Ok(Err(e));
        }
        self.effects
            .outbox
            .push((socket, Outbound::message(message)));
        Ok(Ok(()))
    }

    fn broadcast(
        &mut self,
        message: websocket::Message,
        tag: Option<String>,
        except: Option<SocketId>,
    ) -> GuestResult<u32> {
        let message = WsMessage::from(message);
        let mut targets = self.hub.list(self.info.key(), tag.as_deref());
        targets.retain(|s| Some(*s) != except);
        if let Err(e) = self.charge_message(&message, targets.len()) {
            return Ok(Err(e));
        }
        let frame = Outbound::message(message);
        let count = targets.len() as u32;
        for socket in targets {
            self.effects.outbox.push((socket, frame.clone()));
        }
        Ok(Ok(count))
    }

    fn close(&mut self, socket: SocketId, code: u16, reason: String) -> GuestResult<()> {
        if code != 1000 && !(3000..=4999).contains(&code) {
            return Ok(Err(invalid(format!(
                "close code {code} is not allowed: use 1000 or 3000-4999"
            ))));
        }
        if reason.len() > 123 {
            return Ok(Err(guest_error(WsError::Limit(format!(
                "a close reason cannot be longer than 123 bytes; it was {}",
                reason.len()
            )))));
        }
        if let Err(e) = self.hub.check_open(self.info.key(), socket) {
            return Ok(Err(guest_error(e)));
        }
        if let Err(e) = self.charge_frames(1) {
            return Ok(Err(e));
        }
        self.effects
            .outbox
            .push((socket, Outbound::Close(code, reason)));
        Ok(Ok(()))
    }

    fn get_websockets(&mut self, tag: Option<String>) -> wasmtime::Result<Vec<SocketId>> {
        Ok(self.hub.list(self.info.key(), tag.as_deref()))
    }

    fn get_tags(&mut self, socket: SocketId) -> GuestResult<Vec<String>> {
        Ok(self.hub.tags(self.info.key(), socket).map_err(guest_error))
    }

    fn serialize_attachment(&mut self, socket: SocketId, attachment: Vec<u8>) -> GuestResult<()> {
        Ok(self
            .hub
            .set_attachment(self.info.key(), socket, attachment)
            .map_err(guest_error))
    }

    fn deserialize_attachment(&mut self, socket: SocketId) -> GuestResult<Option<Vec<u8>>> {
        Ok(self
            .hub
            .attachment(self.info.key(), socket)
            .map_err(guest_error))
    }

    fn set_auto_response(&mut self, pair: Option<(String, String)>) -> GuestResult<()> {
        Ok(self
            .hub
            .set_auto_response(self.info.key(), pair)
            .map_err(guest_error))
    }

    fn get_auto_response_timestamp(&mut self, socket: SocketId) -> GuestResult<Option<u64>> {
        Ok(self
            .hub
            .auto_response_timestamp(self.info.key(), socket)
            .map_err(guest_error))
    }
}
