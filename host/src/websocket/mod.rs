//! The WebSocket layer: the host, not the instance, owns every socket, so an object with
//! open sockets can be evicted (hibernated) and woken by the next message with its sockets,
//! tags and attachments intact.
//!
//! Owns: the [`Hub`] (every socket's tags, attachment, state and outbound queue, and each
//! object's auto-response) and the connection tasks (`connection.rs`) that read and write
//! frames. Sends from a turn are collected by the guest layer and handed to the hub only
//! after the turn commits (output gate), in the order they were made.
//!
//! May import: `ids`, `metrics`, `alarms` (its clock). Must never import `objects`, `guest`,
//! `http` or `host`: a connection hands what its client did to an [`EventSink`] that the
//! objects layer passes down, and the guest layer calls the hub, not the other way round.

mod connection;
mod pending;
mod queue;
mod survivors;

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio_util::sync::CancellationToken;

pub use connection::{abnormal as abnormal_close, serve_upgrade, Owner};
pub use pending::PendingSocket;
pub use survivors::Survivor;

use crate::alarms::Clock;
use crate::ids::Key;

pub type SocketId = u64;

/// Something a client did on a socket, for its object.
#[derive(Debug, Clone)]
pub enum WsEvent {
    Message(WsMessage),
    Close {
        code: u16,
        reason: String,
        was_clean: bool,
    },
    Error(String),
}

/// Why a socket event was not taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// The object cannot take it now (its inbox is full): try again shortly.
    Busy,
    /// The host is shutting down: the socket is being closed anyway.
    ShuttingDown,
}

/// Where a socket's events go: the object that accepted it, activating it if it hibernates.
/// The objects layer implements it; a connection knows nothing else of objects.
pub trait EventSink: Send + Sync + 'static {
    fn deliver(&self, socket: SocketId, event: WsEvent) -> Result<(), Refused>;
}

/// A message in either direction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WsMessage {
    Text(String),
    Binary(Vec<u8>),
}

/// What a connection task is told to write. A message is kept as the frame payload that
/// tungstenite writes, whose clones share one buffer: a broadcast to 1,000 sockets copies
/// the message once, not 1,000 times.
#[derive(Debug, Clone)]
pub enum Outbound {
    Message(tokio_tungstenite::tungstenite::Message),
    Close(u16, String),
}

impl Outbound {
    pub fn message(message: WsMessage) -> Outbound {
        use tokio_tungstenite::tungstenite::Message;
        Outbound::Message(match message {
            WsMessage::Text(text) => Message::text(text),
            WsMessage::Binary(bytes) => Message::binary(bytes),
        })
    }
}

#[derive(Debug, Clone, Copy)]
pub struct WsLimits {
    pub max_sockets_per_object: usize,
    /// Sockets on the whole host (`max-websockets`).
    pub max_sockets_per_host: usize,
    pub max_tags: usize,
    pub max_tag_chars: usize,
    pub max_attachment_bytes: usize,
    pub max_auto_response_chars: usize,
    /// Largest message a client may send (configurable).
    pub max_message_bytes: usize,
    /// Largest message an object may send.
    pub max_send_bytes: usize,
    /// Most bytes queued for one socket whose client does not read (`max-websocket-queue`).
    pub max_queued_bytes: usize,
    /// Most bytes of messages one event may send (a broadcast counts its message once).
    pub max_turn_send_bytes: usize,
    /// Most messages and closes one event may queue (a broadcast counts one per socket).
    pub max_turn_frames: usize,
}

impl Default for WsLimits {
    fn default() -> Self {
        WsLimits {
            max_sockets_per_object: 32_768,
            max_sockets_per_host: 32_768,
            max_tags: 10,
            max_tag_chars: 256,
            max_attachment_bytes: 16 * 1024,
            max_auto_response_chars: 2048,
            max_message_bytes: 32 << 20,
            max_send_bytes: 32 << 20,
            max_queued_bytes: 16 << 20,
            max_turn_send_bytes: 64 << 20,
            max_turn_frames: 131_072,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum WsError {
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Limit(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SocketState {
    /// Accepted by a turn; the upgrade completes after the commit.
    Pending,
    Open,
    /// The client closed or vanished; the object's close handler has yet to run.
    Closing,
}

struct Socket {
    key: Key,
    tags: Vec<String>,
    attachment: Option<Vec<u8>>,
    state: SocketState,
    outbound: queue::QueueSender,
    /// Held until the connection task starts.
    receiver: Option<queue::QueueReceiver>,
    last_auto_response_ms: Option<u64>,
}

#[derive(Default)]
struct ObjectSockets {
    ids: BTreeSet<SocketId>,
    auto_response: Option<(String, String)>,
    /// The object has a live instance (it accepted a socket or set the auto-response, and
    /// has not stopped since). The auto-response outlives the instance only while sockets
    /// remain to use it: a hibernated object with no sockets is forgotten.
    live: bool,
    /// A socket was accepted or forgotten, or an attachment set, since the object last
    /// recorded its sockets (cluster mode: `survivors.rs`).
    changed: bool,
}

#[derive(Default)]
struct Inner {
    sockets: HashMap<SocketId, Socket>,
    objects: HashMap<Key, ObjectSockets>,
}

pub struct Hub {
    inner: Mutex<Inner>,
    next_id: AtomicU64,
    pub limits: WsLimits,
    /// Cancelled at host shutdown: every connection closes with 1001.
    pub shutdown: CancellationToken,
    /// The time of auto-responses (the host's one clock).
    pub clock: Arc<dyn Clock>,
}

impl Hub {
    pub fn new(limits: WsLimits, clock: Arc<dyn Clock>) -> Hub {
        Hub {
            inner: Mutex::new(Inner::default()),
            next_id: AtomicU64::new(1),
            limits,
            shutdown: CancellationToken::new(),
            clock,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().expect("websocket hub lock")
    }

    /// Registers a socket accepted by the object `key`.
    pub fn accept(&self, key: Key, tags: Vec<String>) -> Result<SocketId, WsError> {
        let limits = &self.limits;
        if tags.len() > limits.max_tags {
            return Err(WsError::Limit(format!(
                "a WebSocket cannot have more than {} tags; {} were given",
                limits.max_tags,
                tags.len()
            )));
        }
        if let Some(tag) = tags
            .iter()
            .find(|t| t.chars().count() > limits.max_tag_chars)
        {
            return Err(WsError::Limit(format!(
                "tag {:?} is longer than the maximum of {} characters",
                truncate(tag),
                limits.max_tag_chars
            )));
        }
        let mut inner = self.lock();
        if inner.sockets.len() >= limits.max_sockets_per_host {
            return Err(WsError::Limit(format!(
                "too many WebSockets are open on this host (the limit is {})",
                limits.max_sockets_per_host
            )));
        }
        let object = inner.objects.entry(key).or_default();
        object.live = true;
        if object.ids.len() >= limits.max_sockets_per_object {
            return Err(WsError::Limit(format!(
                "only {} WebSockets can be accepted by one object",
                limits.max_sockets_per_object
            )));
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        object.ids.insert(id);
        object.changed = true;
        let (outbound, receiver) = queue::queue();
        inner.sockets.insert(
            id,
            Socket {
                key,
                tags,
                attachment: None,
                state: SocketState::Pending,
                outbound,
                receiver: Some(receiver),
                last_auto_response_ms: None,
            },
        );
        Ok(id)
    }

    /// The connection is up: its task takes the queue of messages sent so far.
    pub(crate) fn open(&self, id: SocketId) -> Option<queue::QueueReceiver> {
        let mut inner = self.lock();
        let socket = inner.sockets.get_mut(&id)?;
        socket.state = SocketState::Open;
        socket.receiver.take()
    }

    /// Forgets a socket: its turn failed, its close was handled, or it never connected.
    pub fn remove(&self, id: SocketId) {
        let mut inner = self.lock();
        if let Some(socket) = inner.sockets.remove(&id) {
            if let Some(object) = inner.objects.get_mut(&socket.key) {
                object.ids.remove(&id);
                object.changed = true;
                if object.ids.is_empty() && (object.auto_response.is_none() || !object.live) {
                    inner.objects.remove(&socket.key);
                }
            }
        }
    }

    /// The object's instance stopped (evicted, failed or shut down): its auto-response stays
    /// only for its remaining sockets, and with none it is forgotten.
    pub fn object_stopped(&self, key: Key) {
        let mut inner = self.lock();
        if let Some(object) = inner.objects.get_mut(&key) {
            object.live = false;
            if object.ids.is_empty() {
                inner.objects.remove(&key);
            }
        }
    }

    /// The client is gone; the socket stays readable (tags, attachment) for the object's
    /// close handler, but is no longer listed and takes no messages.
    pub(crate) fn mark_closing(&self, id: SocketId) {
        if let Some(socket) = self.lock().sockets.get_mut(&id) {
            socket.state = SocketState::Closing;
        }
    }

    /// The object's sockets (with `tag`), oldest first; closing ones excluded.
    pub fn list(&self, key: Key, tag: Option<&str>) -> Vec<SocketId> {
        let inner = self.lock();
        let Some(object) = inner.objects.get(&key) else {
            return Vec::new();
        };
        object
            .ids
            .iter()
            .copied()
            .filter(|id| {
                let socket = &inner.sockets[id];
                socket.state != SocketState::Closing
                    && tag.is_none_or(|tag| socket.tags.iter().any(|t| t == tag))
            })
            .collect()
    }

    /// Sockets on the whole host, pending and closing ones included.
    pub fn open_sockets(&self) -> usize {
        self.lock().sockets.len()
    }

    pub fn count(&self, key: Key) -> usize {
        self.lock().objects.get(&key).map_or(0, |o| o.ids.len())
    }

    /// Checks that `id` is an open socket of `key`, for a send or close.
    pub fn check_open(&self, key: Key, id: SocketId) -> Result<(), WsError> {
        self.with_socket(key, id, |socket| match socket.state {
            SocketState::Closing => Err(WsError::Invalid(format!("WebSocket {id} is closed"))),
            _ => Ok(()),
        })?
    }

    pub fn tags(&self, key: Key, id: SocketId) -> Result<Vec<String>, WsError> {
        self.with_socket(key, id, |socket| socket.tags.clone())
    }

    pub fn attachment(&self, key: Key, id: SocketId) -> Result<Option<Vec<u8>>, WsError> {
        self.with_socket(key, id, |socket| socket.attachment.clone())
    }

    pub fn set_attachment(&self, key: Key, id: SocketId, bytes: Vec<u8>) -> Result<(), WsError> {
        let max = self.limits.max_attachment_bytes;
        if bytes.len() > max {
            return Err(WsError::Limit(format!(
                "A WebSocket attachment cannot be larger than {max} bytes; it was {} bytes",
                bytes.len()
            )));
        }
        self.with_socket(key, id, |socket| socket.attachment = Some(bytes))?;
        if let Some(object) = self.lock().objects.get_mut(&key) {
            object.changed = true;
        }
        Ok(())
    }

    pub fn set_auto_response(
        &self,
        key: Key,
        pair: Option<(String, String)>,
    ) -> Result<(), WsError> {
        let max = self.limits.max_auto_response_chars;
        if let Some((request, response)) = &pair {
            for (what, text) in [("request", request), ("response", response)] {
                let chars = text.chars().count();
                if chars > max {
                    return Err(WsError::Limit(format!(
                        "the auto-response {what} cannot be longer than {max} characters; it was {chars}"
                    )));
                }
            }
        }
        let mut inner = self.lock();
        let object = inner.objects.entry(key).or_default();
        object.live = true;
        object.auto_response = pair;
        Ok(())
    }

    /// The answer to a text message, if it is the object's auto-response request; records
    /// the time on the socket.
    pub(crate) fn auto_response(&self, id: SocketId, text: &str, now_ms: u64) -> Option<String> {
        let mut inner = self.lock();
        let key = inner.sockets.get(&id)?.key;
        let (request, response) = inner.objects.get(&key)?.auto_response.as_ref()?;
        if request != text {
            return None;
        }
        let response = response.clone();
        inner.sockets.get_mut(&id)?.last_auto_response_ms = Some(now_ms);
        Some(response)
    }

    pub fn auto_response_timestamp(&self, key: Key, id: SocketId) -> Result<Option<u64>, WsError> {
        self.with_socket(key, id, |socket| socket.last_auto_response_ms)
    }

    /// Releases a committed turn's sends, in order. A close also stops further sends.
    pub fn flush(&self, outbox: Vec<(SocketId, Outbound)>) {
        let mut inner = self.lock();
        for (id, message) in outbox {
            let Some(socket) = inner.sockets.get_mut(&id) else {
                continue;
            };
            if socket.state == SocketState::Closing {
                continue;
            }
            if matches!(message, Outbound::Close(..)) {
                socket.state = SocketState::Closing;
            }
            if !socket.outbound.push(message, self.limits.max_queued_bytes) {
                // Its client does not read: the connection closes it (1008) and the object
                // gets the close event.
                socket.state = SocketState::Closing;
                tracing::warn!(socket = id, "closing a WebSocket whose client did not read: over {} bytes were queued for it", self.limits.max_queued_bytes);
            }
        }
    }

    fn with_socket<T>(
        &self,
        key: Key,
        id: SocketId,
        f: impl FnOnce(&mut Socket) -> T,
    ) -> Result<T, WsError> {
        let mut inner = self.lock();
        match inner.sockets.get_mut(&id) {
            Some(socket) if socket.key == key => Ok(f(socket)),
            _ => Err(WsError::Invalid(format!(
                "no WebSocket {id} belongs to this object"
            ))),
        }
    }
}

fn truncate(text: &str) -> String {
    text.chars().take(32).collect::<String>() + "…"
}

#[cfg(test)]
mod tests;
