//! A namespace (object class): its compiled component, `InstancePre`, id key, metadata and
//! limits. Lives as long as the host.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use wasmtime::component::{HasSelf, InstancePre, Linker};
use wasmtime::Engine;

use crate::bindings::ExportIndices;
use crate::config::{Config, NamespaceConfig};
use crate::engine::load_component;
use crate::host_api::ObjectCtx;
use crate::ids::IdKey;
use crate::metadata::Metadata;
use crate::storage::Limits;

pub struct Namespace {
    pub name: Arc<str>,
    pub config: NamespaceConfig,
    pub pre: InstancePre<ObjectCtx>,
    pub exports: ExportIndices,
    pub id_key: IdKey,
    pub metadata: Metadata,
    /// `<data-dir>/<namespace>/`
    pub dir: PathBuf,
    pub limits: Limits,
}

impl Namespace {
    pub fn load(
        engine: &Engine,
        linker: &Linker<ObjectCtx>,
        config: &Config,
        ns: &NamespaceConfig,
    ) -> anyhow::Result<Namespace> {
        let component_path = config.resolve(&ns.component);
        let component = load_component(engine, &component_path, &config.cache_dir())
            .with_context(|| format!("namespace {:?}", ns.name))?;
        let instance_pre = linker
            .instantiate_pre(&component)
            .map_err(|e| anyhow::anyhow!("{e:#}"))
            .with_context(|| {
                format!(
                    "namespace {:?}: {} imports something wdo does not provide",
                    ns.name,
                    component_path.display()
                )
            })?;
        let exports = ExportIndices::new(&instance_pre)
            .map_err(|e| anyhow::anyhow!("{e:#}"))
            .with_context(|| {
                format!(
                    "namespace {:?}: {} does not export wdo:object/fetch-handler",
                    ns.name,
                    component_path.display()
                )
            })?;
        let dir = config.data_dir.join(&ns.name);
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
        let metadata = Metadata::open(&dir)
            .with_context(|| format!("cannot open metadata of namespace {:?}", ns.name))?;
        let id_key = metadata
            .id_key()
            .context("cannot read or create the namespace's id key")?;
        Ok(Namespace {
            name: ns.name.as_str().into(),
            config: ns.clone(),
            pre: instance_pre,
            exports,
            id_key,
            metadata,
            dir,
            limits: Limits {
                max_database_bytes: ns.max_database_size,
                ..Limits::default()
            },
        })
    }
}

/// The linker every namespace shares: WASI p2 (no files, no sockets) and wdo's interfaces.
pub fn new_linker(engine: &Engine) -> anyhow::Result<Linker<ObjectCtx>> {
    let mut linker = Linker::new(engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker).map_err(|e| anyhow::anyhow!("{e:#}"))?;
    crate::bindings::Object::add_to_linker::<ObjectCtx, HasSelf<ObjectCtx>>(&mut linker, |ctx| ctx)
        .map_err(|e| anyhow::anyhow!("{e:#}"))?;
    Ok(linker)
}
