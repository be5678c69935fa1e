//! A namespace's code: its compiled component linked against the host's imports
//! (`InstancePre`), and where its handlers are. Made once per namespace (and again when the
//! component is reloaded); every instance of the namespace is made from it.

use std::path::Path;

use anyhow::Context;
use wasmtime::component::{HasSelf, InstancePre, Linker};
use wasmtime::Engine;

use super::bindings::ExportIndices;
use super::ctx::ObjectCtx;
use super::engine::load_component;
use super::stubs::StubCtx;

/// A namespace's compiled component, ready to instantiate.
pub struct Code {
    pub pre: InstancePre<ObjectCtx>,
    pub exports: ExportIndices,
}

impl Code {
    /// Compiles (or loads from `cache_dir`) the component at `path` and links it. `name`
    /// (the namespace's) is for error messages. Blocking: compiling may take seconds.
    pub fn load(
        engine: &Engine,
        linker: &Linker<ObjectCtx>,
        name: &str,
        path: &Path,
        cache_dir: &Path,
    ) -> anyhow::Result<Code> {
        let component = load_component(engine, path, cache_dir)
            .with_context(|| format!("namespace {name:?}"))?;
        let pre = linker
            .instantiate_pre(&component)
            .map_err(|e| anyhow::anyhow!("{e:#}"))
            .with_context(|| {
                format!(
                    "namespace {name:?}: {} imports something wdo does not provide",
                    path.display()
                )
            })?;
        let exports = ExportIndices::new(&pre)
            .map_err(|e| anyhow::anyhow!("{e:#}"))
            .with_context(|| {
                format!(
                    "namespace {name:?}: {} does not export wdo:object/fetch-handler",
                    path.display()
                )
            })?;
        Ok(Code { pre, exports })
    }
}

/// The linker every namespace shares: WASI p2 (no files, no sockets), wasi:http's outgoing
/// handler (`outbound.rs`) and wdo's interfaces.
pub fn new_linker(engine: &Engine) -> anyhow::Result<Linker<ObjectCtx>> {
    let mut linker = Linker::new(engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker).map_err(|e| anyhow::anyhow!("{e:#}"))?;
    wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)
        .map_err(|e| anyhow::anyhow!("{e:#}"))?;
    link_object_interfaces(&mut linker).map_err(|e| anyhow::anyhow!("{e:#}"))?;
    Ok(linker)
}

fn link_object_interfaces(linker: &mut Linker<ObjectCtx>) -> wasmtime::Result<()> {
    use super::bindings::wdo::object::{
        alarm, namespaces, sql, state, storage, turn, types, websocket,
    };
    type Own = HasSelf<ObjectCtx>;
    types::add_to_linker::<ObjectCtx, Own>(linker, |ctx| ctx)?;
    state::add_to_linker::<ObjectCtx, Own>(linker, |ctx| ctx)?;
    storage::add_to_linker::<ObjectCtx, Own>(linker, |ctx| ctx)?;
    alarm::add_to_linker::<ObjectCtx, Own>(linker, |ctx| ctx)?;
    websocket::add_to_linker::<ObjectCtx, Own>(linker, |ctx| ctx)?;
    sql::add_to_linker::<ObjectCtx, Own>(linker, |ctx| ctx)?;
    turn::add_to_linker::<ObjectCtx, Own>(linker, |ctx| ctx)?;
    namespaces::add_to_linker::<ObjectCtx, HasSelf<StubCtx>>(linker, |ctx| &mut ctx.stubs)?;
    Ok(())
}
