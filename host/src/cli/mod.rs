//! What the `wdo` command does besides serving: `wdo build` (each namespace's build
//! command), `wdo dev`'s watcher that reloads a changed component (`watch.rs`), reloading on
//! SIGHUP (`reload.rs`), and raising the process's open-file limit (`fd_limit.rs`). The
//! argument parsing itself is in `main.rs`.
//!
//! May import: `host`, `config`. Nothing in the library imports it.

pub mod build;
pub mod fd_limit;
pub mod reload;
pub mod watch;
