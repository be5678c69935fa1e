//! Bindings generated from `wit/object.wit`. This is the only place `generate!` runs.
//!
//! Not part of the public API: the [`export_object!`](crate::export_object) macro reaches the
//! generated `export!` macro through here.

wit_bindgen::generate!({
    path: "../wit",
    world: "object",
    // `export!` is invoked from the object's crate (by `export_object!`), so it has to be
    // `#[macro_export]`ed. With `pub_export_macro` the component-type custom section is also
    // emitted at the `export!` site, which keeps it in the final component.
    pub_export_macro: true,
    default_bindings_module: "wdo_sdk::bindings",
});
