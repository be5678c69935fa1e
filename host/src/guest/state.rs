//! The host side of the WIT `state` interface: who the object is.

use super::bindings::state;
use super::ctx::ObjectCtx;

impl state::Host for ObjectCtx {
    fn id(&mut self) -> wasmtime::Result<String> {
        Ok(self.info.id_text.to_string())
    }

    fn name(&mut self) -> wasmtime::Result<Option<String>> {
        Ok(self.info.name.clone())
    }

    fn namespace(&mut self) -> wasmtime::Result<String> {
        Ok(self.info.namespace.to_string())
    }
}

/// `types` declares records only.
impl super::bindings::wdo::object::types::Host for ObjectCtx {}
