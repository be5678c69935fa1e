//! Who this object is, and its storage.

use crate::bindings::wdo::object::{state as wit, turn};
use crate::websocket::{self, Message, WebSocket};
use crate::{Error, Request, Storage, StorageError};

/// The object's identity and storage, handed to [`DurableObject::new`](crate::DurableObject::new).
///
/// Cheap to clone; keep it (or just its [`Storage`]) in the object.
#[derive(Debug, Clone, Copy)]
pub struct State {
    _private: (),
}

impl State {
    pub(crate) fn new() -> Self {
        Self { _private: () }
    }

    /// The object's id: 64 lower-case hex characters.
    pub fn id(&self) -> String {
        wit::id()
    }

    /// The name the object was addressed by, if it was addressed by name.
    pub fn name(&self) -> Option<String> {
        wit::name()
    }

    /// The namespace (object class) this object belongs to.
    pub fn namespace(&self) -> String {
        wit::namespace()
    }

    /// The object's private, transactional key-value store (and its SQL).
    pub fn storage(&self) -> Storage {
        Storage::new()
    }

    /// Accepts the WebSocket upgrade `request` (call it in `fetch`); the host answers 101
    /// once the event commits, whatever `fetch` returns. At most 10 tags of 256 characters.
    /// Fails with 426 if the request is not an upgrade.
    pub fn accept_websocket(&self, request: &Request, tags: &[&str]) -> Result<WebSocket, Error> {
        if !request.is_websocket_upgrade() {
            return Err(Error::new(426, "Expected WebSocket"));
        }
        Ok(websocket::accept(tags)?)
    }

    /// The object's open sockets, or those with `tag`, oldest first.
    pub fn websockets(&self, tag: Option<&str>) -> Vec<WebSocket> {
        websocket::list(tag)
    }

    /// Sends `message` to every open socket (with `tag`) except `except`, once the event
    /// commits. Returns how many sockets it goes to.
    pub fn broadcast(
        &self,
        message: impl Into<Message>,
        tag: Option<&str>,
        except: Option<WebSocket>,
    ) -> Result<u32, StorageError> {
        websocket::broadcast(message.into(), tag, except)
    }

    /// Broadcasts `value` as JSON text.
    pub fn broadcast_json<T: serde::Serialize + ?Sized>(
        &self,
        value: &T,
        tag: Option<&str>,
        except: Option<WebSocket>,
    ) -> Result<u32, StorageError> {
        self.broadcast(websocket::to_json(value)?, tag, except)
    }

    /// The host answers the text message `request` with `response` on any of this
    /// object's sockets without waking the object (each at most 2048 characters).
    pub fn set_auto_response(&self, request: &str, response: &str) -> Result<(), StorageError> {
        websocket::set_auto_response(Some((request, response)))
    }

    pub fn clear_auto_response(&self) -> Result<(), StorageError> {
        websocket::set_auto_response(None)
    }

    /// Rolls back every write of the current event when its handler returns, as a trap
    /// would, while still sending the handler's response. The instance is then replaced by
    /// a fresh one for the next event. Returning an `Err` that came from a storage or SQL
    /// call does this by itself. `reason` goes to the host's log.
    pub fn roll_back_turn(&self, reason: &str) {
        turn::rollback(reason);
    }
}
