//! What the `wdo` command does besides serving: `wdo build` (each namespace's build
//! command), `wdo dev`'s watcher that reloads a changed component (`watch.rs`), reloading on
//! SIGHUP (`reload.rs`), command-line errors on one line (`usage.rs`), raising the process's open-file limit (`fd_limit.rs`), and the
//! operator's commands that speak to a running host through its admin API (`admin/`:
//! `wdo objects`, `kv`, `sql`, `alarm`, `namespaces`, `reload`, with their arguments). The
//! argument parsing of the other commands is in `main.rs`.
//!
//! May import: `host`, `config`. Nothing in the library imports it.

pub mod admin;
pub mod build;
pub mod fd_limit;
pub mod reload;
pub mod usage;
pub mod watch;
