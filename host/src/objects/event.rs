//! What reaches an object's actor, and what comes back: events, fetch replies, turn errors.

use tokio::sync::oneshot;

use super::admin::{AdminReply, AdminRequest};
use crate::alarms::AlarmEntry;
use crate::guest::bindings::{Request, Response};
use crate::guest::Chain;
use crate::websocket::{PendingSocket, SocketId, WsEvent, WsMessage};

/// An event for an object.
pub enum Event {
    Fetch {
        request: Request,
        /// A WebSocket upgrade request, which the object may accept.
        upgrade: bool,
        /// The objects waiting for this request up a chain of stub calls (empty from HTTP).
        chain: Chain,
        reply: oneshot::Sender<Result<FetchReply, TurnError>>,
    },
    /// An RPC call through a stub. Its answer travels as a `FetchReply` whose response
    /// holds the JSON result as its body (status 200); the stub turns it back.
    Call {
        method: String,
        payload: String,
        chain: Chain,
        reply: oneshot::Sender<Result<FetchReply, TurnError>>,
    },
    /// The scheduler found the object's alarm due.
    Alarm {
        entry: AlarmEntry,
    },
    WebSocket {
        socket: SocketId,
        event: WsEvent,
    },
    /// An operator's request (`admin.rs`); runs alone, between batches.
    Admin {
        request: AdminRequest,
        reply: AdminReply,
    },
}

impl Event {
    /// The bytes the event holds while it waits in an inbox (`max-inbox-bytes`).
    pub fn bytes(&self) -> usize {
        match self {
            Event::Fetch { request, .. } => {
                let headers: usize = request.headers.iter().map(|(k, v)| k.len() + v.len()).sum();
                request.body.len() + request.url.len() + request.method.len() + headers
            }
            Event::WebSocket { event, .. } => match event {
                WsEvent::Message(WsMessage::Text(text)) => text.len(),
                WsEvent::Message(WsMessage::Binary(bytes)) => bytes.len(),
                WsEvent::Close { reason, .. } => reason.len(),
                WsEvent::Error(error) => error.len(),
            },
            Event::Call {
                method, payload, ..
            } => method.len() + payload.len(),
            Event::Alarm { .. } | Event::Admin { .. } => 0,
        }
    }
}

/// The answer to a fetch: the object's response, and the socket it accepted, if any (which
/// closes for the object if the front drops it without upgrading).
pub struct FetchReply {
    pub response: Response,
    pub accepted: Option<PendingSocket>,
}

/// Why an event produced no response of the guest's. Its writes were rolled back.
#[derive(Debug, Clone, thiserror::Error)]
pub enum TurnError {
    #[error("the object failed while handling the event (error id {error_id})")]
    GuestFailed {
        error_id: String,
        /// What failed, for a caller through a stub (an HTTP client sees only the id).
        cause: String,
    },
    #[error("the object's storage failed (error id {error_id})")]
    Storage { error_id: String },
    /// SQLite or the OS found no room for the event's writes (`SQLITE_FULL`, `ENOSPC`).
    #[error(
        "the disk is full (or the object reached its max-database-size): the event's writes \
         were not stored (error id {error_id})"
    )]
    Full { error_id: String },
    /// Cluster mode: another node owns the object (the request goes there).
    #[error("the object is served by node {owner:?}")]
    Moved { owner: String },
    /// Cluster mode: this node cannot serve the object now (it lost its lease, or etcd or
    /// the replicated log did not answer); the request may be tried again.
    #[error("this node cannot serve the object now: {reason} (error id {error_id})")]
    NotServing {
        reason: String,
        error_id: String,
        /// The event may have run (and its writes may be durable): it must not be sent
        /// again without the client's say.
        may_have_run: bool,
    },
}

/// What became of an alarm event, for the alarm bookkeeping after the commit.
#[derive(Debug, Clone, Copy)]
pub(super) enum AlarmOutcome {
    /// The handler ran and succeeded (or there was none).
    Ran { scheduled_ms: u64, retry_count: u32 },
    /// The handler failed; its turn was rolled back, so the alarm row is still there.
    Failed { scheduled_ms: u64, retry_count: u32 },
    /// The alarm was gone or not yet due by the time the event ran.
    Skipped,
}
