//! The one place `bindgen!` runs over `wit/`.
//!
//! The host links every import of the `object` world, but looks up the exported handler
//! interfaces one by one ([`Exports`]): only `fetch-handler` is required, so a component
//! built before a handler existed keeps working.

use wasmtime::component::{Instance, InstancePre};
use wasmtime::AsContextMut;

wasmtime::component::bindgen!({
    path: "../wit",
    world: "object",
    imports: {
        // A stub's fetch or call waits for another object: the instance's fiber suspends
        // and the thread serves other tasks meanwhile.
        "wdo:object/namespaces": async | trappable,
        default: trappable,
    },
    exports: { default: async },
    with: {
        "wdo:object/storage.transaction": super::storage::Transaction,
        "wdo:object/namespaces.stub": super::stubs::Stub,
    },
});

/// The `worker` world: its interfaces are the object world's (same Rust types).
pub mod worker {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "worker",
        imports: { default: async | trappable },
        exports: { default: async },
        with: {
            "wdo:object/types": super::wdo::object::types,
            "wdo:object/namespaces": super::wdo::object::namespaces,
        },
    });
}

pub use self::exports::wdo::object::{
    alarm_handler, fetch_handler, rpc_handler, websocket_handler,
};
pub use self::wdo::object::types::{Request, Response};
pub use self::wdo::object::{alarm, namespaces, sql, state, storage, turn, websocket};

/// Where a component's handlers are, found once per namespace.
pub struct ExportIndices {
    fetch: fetch_handler::GuestIndices,
    alarm: Option<alarm_handler::GuestIndices>,
    websocket: Option<websocket_handler::GuestIndices>,
    rpc: Option<rpc_handler::GuestIndices>,
}

/// One instance's handlers.
pub struct Exports {
    pub fetch: fetch_handler::Guest,
    pub alarm: Option<alarm_handler::Guest>,
    pub websocket: Option<websocket_handler::Guest>,
    pub rpc: Option<rpc_handler::Guest>,
}

impl ExportIndices {
    pub fn new<T>(pre: &InstancePre<T>) -> wasmtime::Result<ExportIndices> {
        Ok(ExportIndices {
            fetch: fetch_handler::GuestIndices::new(pre)?,
            alarm: alarm_handler::GuestIndices::new(pre).ok(),
            websocket: websocket_handler::GuestIndices::new(pre).ok(),
            rpc: rpc_handler::GuestIndices::new(pre).ok(),
        })
    }

    pub fn has_alarm_handler(&self) -> bool {
        self.alarm.is_some()
    }

    pub fn load(
        &self,
        mut store: impl AsContextMut,
        instance: &Instance,
    ) -> wasmtime::Result<Exports> {
        let fetch = self.fetch.load(&mut store, instance)?;
        let alarm = match &self.alarm {
            Some(indices) => Some(indices.load(&mut store, instance)?),
            None => None,
        };
        let websocket = match &self.websocket {
            Some(indices) => Some(indices.load(&mut store, instance)?),
            None => None,
        };
        let rpc = match &self.rpc {
            Some(indices) => Some(indices.load(&mut store, instance)?),
            None => None,
        };
        Ok(Exports {
            fetch,
            alarm,
            websocket,
            rpc,
        })
    }
}
