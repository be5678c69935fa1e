//! wdo: a self-hostable runtime for WebAssembly Durable Objects.
//!
//! Each object is a WebAssembly component addressed by an id; one instance of it runs at a
//! time, its events run one at a time, and it owns a private SQLite database. Objects are
//! created on demand and evicted when idle; their storage outlives them.
//!
//! The folders are layers, from the edge down (each `mod.rs` opens with what it owns, what
//! it may import and what must never import it; `ARCHITECTURE.md` walks a request through
//! them):
//! - [`http`]: accept loops, the public front and router, the admin listener;
//! - [`host`]: the process, built from the config (engine, namespaces, registry, scheduler);
//! - [`migrations`]: the config's `[[migrations]]`, applied to the data directory at start;
//! - [`objects`]: the registry of live objects, the actor, turns and the output gate;
//! - [`guest`]: wasmtime, the WIT bindings, instances, and the host side of each interface;
//! - [`storage`] (an object's SQLite file), [`alarms`] (the scheduler), [`websocket`] (the
//!   hub that owns every socket);
//! - [`commit_log`]: the host-wide log that makes every object's commits durable;
//! - [`config`], [`ids`], [`metadata`], [`metrics`]: used by all of the above;
//! - [`cli`]: what the `wdo` command does besides serving.
//!
//! ```no_run
//! # async fn example() -> anyhow::Result<()> {
//! let config = wdo::config::Config::load("wdo.toml".as_ref())?;
//! let listener = tokio::net::TcpListener::bind(config.listen).await?;
//! let admin = tokio::net::TcpListener::bind(config.admin_listen).await?;
//! wdo::run(config, listener, admin, tokio_util::sync::CancellationToken::new()).await
//! # }
//! ```

pub mod alarms;
pub mod backup;
pub mod cli;
pub mod cluster;
pub mod commit_log;
pub mod config;
pub mod guest;
pub mod host;
pub mod http;
pub mod ids;
pub mod metadata;
pub mod metrics;
pub mod migrations;
pub mod objects;
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
    http::run(Arc::new(host), listener, admin, shutdown).await
}
