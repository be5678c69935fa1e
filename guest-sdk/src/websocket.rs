//! WebSockets with hibernation: the host holds the sockets, so the object can be evicted
//! while they stay open; the next message re-creates it (constructor first).
//!
//! Accept in `fetch` with [`State::accept_websocket`](crate::State::accept_websocket), then
//! handle [`DurableObject::websocket_message`](crate::DurableObject::websocket_message) and
//! [`websocket_close`](crate::DurableObject::websocket_close). Keep per-socket data in its
//! [attachment](WebSocket::set_attachment): memory is lost when the object hibernates.

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::bindings::wdo::object::websocket as wit;
use crate::StorageError;

type Result<T, E = StorageError> = std::result::Result<T, E>;

/// A message received or sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    Text(String),
    Binary(Vec<u8>),
}

impl From<wit::Message> for Message {
    fn from(message: wit::Message) -> Self {
        match message {
            wit::Message::Text(text) => Message::Text(text),
            wit::Message::Binary(bytes) => Message::Binary(bytes),
        }
    }
}

impl From<Message> for wit::Message {
    fn from(message: Message) -> Self {
        match message {
            Message::Text(text) => wit::Message::Text(text),
            Message::Binary(bytes) => wit::Message::Binary(bytes),
        }
    }
}

impl From<&str> for Message {
    fn from(text: &str) -> Self {
        Message::Text(text.to_owned())
    }
}

impl From<String> for Message {
    fn from(text: String) -> Self {
        Message::Text(text)
    }
}

/// A socket of this object. Its id stays valid across hibernation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct WebSocket {
    id: u64,
}

impl WebSocket {
    pub(crate) fn from_id(id: u64) -> Self {
        WebSocket { id }
    }

    pub fn id(&self) -> u64 {
        self.id
    }

    /// Sends once the current event commits (sends keep their order).
    pub fn send(&self, message: impl Into<Message>) -> Result<()> {
        Ok(wit::send(self.id, &message.into().into())?)
    }

    /// Sends `value` as a JSON text message.
    pub fn send_json<T: Serialize + ?Sized>(&self, value: &T) -> Result<()> {
        self.send(to_json(value)?)
    }

    /// Closes with `code` (1000 or 3000-4999) and a reason of at most 123 bytes.
    pub fn close(&self, code: u16, reason: &str) -> Result<()> {
        Ok(wit::close(self.id, code, reason)?)
    }

    pub fn tags(&self) -> Result<Vec<String>> {
        Ok(wit::get_tags(self.id)?)
    }

    /// The value kept with the socket (as JSON), if any.
    pub fn attachment<T: DeserializeOwned>(&self) -> Result<Option<T>> {
        wit::deserialize_attachment(self.id)?
            .map(|bytes| {
                serde_json::from_slice(&bytes).map_err(|e| {
                    StorageError::serialization(format!(
                        "cannot decode the attachment of WebSocket {}: {e}",
                        self.id
                    ))
                })
            })
            .transpose()
    }

    /// Keeps `value` (at most 16 KiB of JSON) with the socket until it closes; it survives
    /// hibernation.
    pub fn set_attachment<T: Serialize + ?Sized>(&self, value: &T) -> Result<()> {
        let bytes = serde_json::to_vec(value).map_err(|e| {
            StorageError::serialization(format!("cannot encode the attachment: {e}"))
        })?;
        Ok(wit::serialize_attachment(self.id, &bytes)?)
    }

    /// When the host last answered this socket with the auto-response, Unix ms.
    pub fn auto_response_timestamp(&self) -> Result<Option<u64>> {
        Ok(wit::get_auto_response_timestamp(self.id)?)
    }
}

pub(crate) fn to_json<T: Serialize + ?Sized>(value: &T) -> Result<String> {
    serde_json::to_string(value)
        .map_err(|e| StorageError::serialization(format!("cannot encode a message: {e}")))
}

/// Used by [`State`](crate::State).
pub(crate) fn accept(tags: &[&str]) -> Result<WebSocket> {
    let tags: Vec<String> = tags.iter().map(|t| (*t).to_owned()).collect();
    Ok(WebSocket::from_id(wit::accept_websocket(&tags)?))
}

pub(crate) fn list(tag: Option<&str>) -> Vec<WebSocket> {
    wit::get_websockets(tag)
        .into_iter()
        .map(WebSocket::from_id)
        .collect()
}

pub(crate) fn broadcast(
    message: Message,
    tag: Option<&str>,
    except: Option<WebSocket>,
) -> Result<u32> {
    Ok(wit::broadcast(&message.into(), tag, except.map(|s| s.id))?)
}

pub(crate) fn set_auto_response(pair: Option<(&str, &str)>) -> Result<()> {
    let pair = pair.map(|(request, response)| (request.to_owned(), response.to_owned()));
    Ok(wit::set_auto_response(
        pair.as_ref().map(|(a, b)| (a.as_str(), b.as_str())),
    )?)
}
