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

pub use exports::wdo::object::fetch_handler;
pub use wdo::object::types::{Request, Response};
pub use wdo::object::{state, storage};
