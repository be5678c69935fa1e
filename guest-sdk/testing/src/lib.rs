//! Test hooks for wdo objects, for Rust integration tests: start a real `wdo serve` on free
//! loopback ports with a fresh data directory, speak HTTP to its objects, and through its
//! admin API evict an object, run its alarm now, and read its storage.
//!
//! ```no_run
//! # async fn demo() -> Result<(), wdo_testing::Error> {
//! let wdo = wdo_testing::Wdo::builder()
//!     .namespace("counter", "dist/counter.wasm")
//!     .start()?;
//! let answer = wdo.client().post(wdo.url("/counter/a/increment")).send().await?;
//! assert!(answer.status().is_success());
//! let counter = wdo.object("counter", "a");
//! counter.evict().await?;                     // the next event meets a new instance
//! assert_eq!(counter.storage().await?["count"], 1);
//! # Ok(()) }
//! ```
//!
//! The `wdo` binary is `$WDO_BIN`, or `wdo` on the `PATH`. Each server gets a random admin
//! token, so the hooks go through the same authentication as an operator's tools.

mod error;
mod object;
mod server;

pub use error::Error;
pub use object::ObjectRef;
pub use server::{Builder, Wdo};
