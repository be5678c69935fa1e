//! The objects' life: which objects are live, and how each runs its events.
//!
//! Owns: the [`Registry`] (at most one actor per object, activation on demand, idle and LRU
//! eviction), the actor (one tokio task per live object: batches, group commit, the output
//! gate, the alarm event and the alarm index), a turn (one event in its own savepoint), the
//! [`Namespace`] (an object class: its code, id key, metadata and data directory), and the
//! objects' end of a socket (`socket_owner.rs`).
//!
//! Invariants: one actor per object key at a time, and a successor starts only once its
//! predecessor has closed its database and instance; events of one object run one at a time
//! in arrival order; nothing an event caused (response, socket send, accepted socket, alarm
//! bookkeeping) leaves the object before the event's writes are durable.
//!
//! May import: `guest`, `storage`, `commit_log`, `cluster`, `websocket`, `alarms`,
//! `metadata`, `config`, `ids`, `metrics`. Must never import `http` or `host`: requests
//! arrive as [`Event`]s, and calls for objects on other cluster nodes leave through a
//! [`Remote`] the edge hands in.

mod actor;
mod admin;
mod alarm_turn;
mod calls;
mod event;
mod namespace;
mod output_gate;
mod registry;
mod remote;
mod replica;
mod socket_owner;
mod turn;

pub use actor::new_error_id;
pub use admin::{AdminError, AdminRequest};
pub use calls::Kind as CallKind;
pub use event::{Event, FetchReply, TurnError};
pub use namespace::{CodeVersion, Namespace};
pub use registry::{DispatchError, Registry};
pub use remote::{Remote, RemoteAnswer, RemoteCall, RemoteError};
