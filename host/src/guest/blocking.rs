//! Host calls that may run long (a guest's SQL statement, a `list` scan, `deleteAll`) must
//! not stall the other tasks of the async runtime's worker thread they run on: the HTTP
//! front, sockets and other objects. [`may_block`] hands that worker's other tasks to a
//! new worker thread first (tokio's `block_in_place`), so a 30 s query holds one thread,
//! not a share of the runtime.

use tokio::runtime::{Handle, RuntimeFlavor};

/// Runs `work` on this thread after moving the runtime's other tasks off it (on a
/// multi-threaded runtime; elsewhere, as in unit tests, it just runs `work`).
pub fn may_block<T>(work: impl FnOnce() -> T) -> T {
    match Handle::try_current() {
        Ok(handle) if handle.runtime_flavor() == RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(work)
        }
        _ => work(),
    }
}
