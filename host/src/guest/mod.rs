//! The guest boundary: everything that knows wasmtime and the WIT world.
//!
//! Owns: the process's [`engine`] (pooling allocator, epoch ticker, compiled-component cache),
//! the one `bindgen!` over `wit/` ([`bindings`]), a namespace's linked [`Code`], an
//! [`Instance`] and running one event in it (with its CPU and memory limits, and a count of
//! the memory it holds: `memory_meter.rs`), and the host
//! side of each WIT interface, one file each: `state`, `storage` (key-value and
//! transactions), `sql`, `alarm`, `turn`, `websocket`, and `log` (guest stdout/stderr).
//! All of them work on one instance's store data, [`ObjectCtx`] (`ctx.rs`).
//!
//! Invariant: a guest reaches nothing but its own object's storage and sockets, and
//! everything a guest can get wrong comes back to it as a typed WIT error, never as a host
//! failure. What a turn did to sockets is collected ([`TurnEffects`]), not applied: the
//! objects layer applies it after the commit.
//!
//! May import: `storage`, `websocket` (the hub), `config`, `ids`. Must never import
//! `objects`, `http` or `host`: it knows nothing of batches, commits, the registry or HTTP.

mod alarm;
pub mod bindings;
mod blocking;
mod code;
mod cpu_limit;
mod ctx;
pub mod engine;
mod instance;
mod log;
mod memory_meter;
mod outbound;
mod sql;
mod state;
mod storage;
mod stubs;
mod turn;
mod websocket;
mod worker;

pub use code::{new_linker, Code};
pub use ctx::{ObjectCtx, ObjectInfo};
pub use instance::{AlarmResult, Instance};
pub use stubs::{
    Accepted, Answer, Binding, Carried, Chain, Directory, Env, StubCtx, Target, MAX_PAYLOAD_BYTES,
};
pub use websocket::TurnEffects;
pub use worker::{Worker, WorkerAnswer};
