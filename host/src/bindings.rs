//! The one place `bindgen!` runs over `wit/`.

wasmtime::component::bindgen!({
    path: "../wit",
    world: "object",
    imports: { default: trappable },
    exports: { default: async },
    with: {
        "wdo:object/storage.transaction": crate::host_api::Transaction,
    },
});

pub use self::wdo::object::types::{Request, Response};
pub use self::wdo::object::{sql, state, storage, turn};
pub use exports::wdo::object::fetch_handler;
