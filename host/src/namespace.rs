//! A namespace (object class): its compiled component, `InstancePre`, id key, metadata and
//! limits. Lives as long as the host; its code can be replaced (`wdo dev` reloads a changed
//! component), and new instances then use the new code.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

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
    /// The component file.
    pub component_path: PathBuf,
    code: RwLock<Arc<Code>>,
    pub id_key: IdKey,
    pub metadata: Metadata,
    /// `<data-dir>/<namespace>/`
    pub dir: PathBuf,
    pub limits: Limits,
}

/// A namespace's compiled component, ready to instantiate.
pub struct Code {
    pub pre: InstancePre<ObjectCtx>,
    pub exports: ExportIndices,
}

impl Code {
    /// Compiles (or loads from `cache_dir`) the component at `path` and links it.
    fn load(
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

impl Namespace {
    pub fn load(
        engine: &Engine,
        linker: &Linker<ObjectCtx>,
        config: &Config,
        ns: &NamespaceConfig,
    ) -> anyhow::Result<Namespace> {
        let component_path = config.resolve(&ns.component);
        let code = Code::load(
            engine,
            linker,
            &ns.name,
            &component_path,
            &config.cache_dir(),
        )?;
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
            component_path,
            code: RwLock::new(Arc::new(code)),
            id_key,
            metadata,
            dir,
            limits: Limits {
                max_database_bytes: ns.max_database_size,
                ..Limits::default()
            },
        })
    }

    /// The code new instances are made from.
    pub fn code(&self) -> Arc<Code> {
        self.code.read().expect("code lock").clone()
    }

    /// Loads the component file again; new instances use it. On error the old code stays.
    /// Blocking (compiling may take seconds).
    pub fn reload(
        &self,
        engine: &Engine,
        linker: &Linker<ObjectCtx>,
        cache_dir: &Path,
    ) -> anyhow::Result<()> {
        let code = Code::load(engine, linker, &self.name, &self.component_path, cache_dir)?;
        *self.code.write().expect("code lock") = Arc::new(code);
        Ok(())
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
