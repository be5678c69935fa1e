//! The Rust SDK for wdo objects: WebAssembly Durable Objects.
//!
//! An object is a `cdylib` crate built for `wasm32-wasip2`. It implements
//! [`DurableObject`] and registers the implementation with [`export_object!`]; the result is
//! a component of the `wdo:object` world (`wit/object.wit`).
//!
//! ```no_run
//! use serde::Serialize;
//! use wdo_sdk::{export_object, DurableObject, Error, Request, Response, State};
//!
//! struct Counter {
//!     state: State,
//! }
//!
//! #[derive(Serialize)]
//! struct Count {
//!     count: u64,
//! }
//!
//! impl DurableObject for Counter {
//!     fn new(state: State) -> Self {
//!         Counter { state }
//!     }
//!
//!     fn fetch(&mut self, request: Request) -> Result<Response, Error> {
//!         let storage = self.state.storage();
//!         match request.path() {
//!             "/increment" => {
//!                 let count = storage.get::<u64>("count")?.unwrap_or(0) + 1;
//!                 storage.put("count", &count)?;
//!                 Ok(Response::json(&Count { count }))
//!             }
//!             _ => Ok(Response::not_found()),
//!         }
//!     }
//! }
//!
//! export_object!(Counter);
//! # fn main() {}
//! ```
//!
//! # The model
//!
//! - One instance serves one object id and handles one event at a time. It is created
//!   lazily by [`DurableObject::new`] at the start of its first event.
//! - Every event is a *turn* that runs inside an implicit storage transaction. The host
//!   commits it before the response is released; a trap (a panic) rolls it back and is
//!   answered 500. Panics are not caught.
//! - [`Storage`] stores JSON values under string keys;
//!   [`Storage::transaction`] nests explicit transactions inside the turn.
//! - [`Sql`] (from [`Storage::sql`]) runs SQL on the same database, in the same
//!   transactions; rows decode with serde.
//! - A handler's `Err(`[`Error`]`)` is answered with its status and `{"error": message}`.
//!   An error made by the handler ([`Error::bad_request`], ...) is an ordinary answer: the
//!   turn's writes are still committed. A storage or SQL error propagated with `?` also
//!   rolls the turn back (see [`Error`]), so a failed write never leaves the writes before
//!   it half-done.

#[doc(hidden)]
pub mod bindings;
mod env;
mod error;
pub mod http;
mod object;
mod request;
mod response;
mod sql;
mod sql_decode;
mod state;
mod storage;
mod websocket;
mod worker;

pub use env::{binding, rpc_args, var, vars, Namespace, ObjectId, RpcError, RpcErrorCode, Stub};
pub use error::{Error, SqlError, SqlErrorCode, StorageError, StorageErrorCode};
pub use object::{AlarmInfo, DurableObject};
pub use request::Request;
pub use response::Response;
pub use sql::{Cursor, Row, Sql, SqlValue};
pub use state::State;
pub use storage::{ListOptions, Storage};
pub use websocket::{Message, WebSocket};
pub use worker::Worker;

/// The current time in Unix milliseconds (the host's wall clock), as alarms take it.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Used by [`export_object!`]; not part of the public API.
#[doc(hidden)]
pub mod __private {
    pub use crate::bindings::export;
    pub use crate::bindings::exports::wdo::object::alarm_handler::{
        AlarmInfo as WitAlarmInfo, Guest as AlarmHandler,
    };
    pub use crate::bindings::exports::wdo::object::fetch_handler::Guest as FetchHandler;
    pub use crate::bindings::exports::wdo::object::rpc_handler::Guest as RpcHandler;
    pub use crate::bindings::exports::wdo::object::websocket_handler::Guest as WebSocketHandler;
    pub use crate::bindings::wdo::object::types::{Request as WitRequest, Response as WitResponse};
    pub use crate::bindings::wdo::object::websocket::Message as WitMessage;
    pub use crate::object::{
        alarm, call, fetch, websocket_close, websocket_error, websocket_message, Slot,
    };
    pub use crate::worker::fetch as worker_fetch;
}
