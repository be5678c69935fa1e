//! The host side of the WIT `turn` interface: a guest may ask for its event's writes to be
//! rolled back while its response is still sent (the SDK does so when a handler propagates
//! a storage or SQL error). The objects layer acts on the request when the event ends.

use super::bindings::turn;
use super::ctx::ObjectCtx;

impl turn::Host for ObjectCtx {
    fn rollback(&mut self, reason: String) -> wasmtime::Result<()> {
        // The first reason is the cause; later ones are its consequences.
        self.rollback_requested.get_or_insert(reason);
        Ok(())
    }
}
