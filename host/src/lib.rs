//! wdo: a self-hostable runtime for WebAssembly Durable Objects.
//!
//! Each object is a WebAssembly component addressed by an id; one instance of it runs at a
//! time, its events run one at a time, and it owns a private SQLite database. Objects are
//! created on demand and evicted when idle; their storage outlives them.
//!
//! Layout, by lifetime:
//! - process: [`host`] (engine, linker, namespaces), [`engine`] (pooling allocator, epoch
//!   ticker, compiled-component cache), [`server`] (accept loops, graceful shutdown),
//!   [`front`] and [`router`] (public HTTP), [`admin`], [`metrics`];
//! - namespace: [`namespace`] (component, `InstancePre`, id key), [`metadata`], [`ids`];
//! - object: [`registry`] (one actor per object, eviction), [`actor`] (turns, group
//!   commit, output gate), [`instance`] (the wasm instance), [`storage`] (SQLite
//!   key-value, guest SQL, alarm row and transactions), [`alarms`] (the scheduler; index sync in
//!   `alarm_sync.rs`);
//! - sockets: [`websocket`] (the hub that owns every socket, connection tasks; the guest
//!   API in `host_websocket.rs`);
//! - event: [`host_api`] (the store data and the WIT imports), [`host_sql`] (the `sql`
//!   import), [`host_turn`] (the `turn` import), [`guest_log`].
//!
//! ```no_run
//! # async fn example() -> anyhow::Result<()> {
//! let config = wdo::config::Config::load("wdo.toml".as_ref())?;
//! let listener = tokio::net::TcpListener::bind(config.listen).await?;
//! let admin = tokio::net::TcpListener::bind(config.admin_listen).await?;
//! wdo::run(config, listener, admin, tokio_util::sync::CancellationToken::new()).await
//! # }
//! ```

pub mod actor;
pub mod admin;
mod alarm_sync;
pub mod alarms;
pub mod bindings;
pub mod build;
pub mod config;
pub mod engine;
pub mod fd_limit;
pub mod front;
pub mod guest_log;
pub mod host;
pub mod host_api;
pub mod host_sql;
pub mod host_turn;
mod host_websocket;
pub mod http_util;
pub mod ids;
pub mod instance;
pub mod metadata;
pub mod metrics;
pub mod namespace;
mod output_gate;
pub mod registry;
pub mod reload;
pub mod router;
pub mod server;
pub mod storage;
pub mod websocket;

use std::sync::Arc;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// Runs a host on bound listeners until `shutdown` is cancelled, then drains and returns.
pub async fn run(
    config: config::Config,
    listener: TcpListener,
    admin: TcpListener,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let host = tokio::task::spawn_blocking(move || host::Host::start(config)).await??;
    server::run(Arc::new(host), listener, admin, shutdown).await
}
