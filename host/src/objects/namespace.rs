//! A namespace (object class): its compiled component, `InstancePre`, id key, metadata and
//! limits. Lives as long as the host; its code can be replaced (`wdo dev` reloads a changed
//! component), and new instances then use the new code.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use anyhow::Context;
use wasmtime::component::Linker;
use wasmtime::Engine;

use crate::config::{Config, NamespaceConfig, OutboundRule};
use crate::guest::{Code, ObjectCtx};
use crate::ids::IdKey;
use crate::metadata::Metadata;
use crate::storage::Limits;

/// Which code a namespace runs: a hash of its component file, and when it was loaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeVersion {
    /// SHA-256 of the component file, hex.
    pub hash: String,
    pub loaded_ms: u64,
}

impl CodeVersion {
    /// The version of the file at `path` as it is now.
    fn of(path: &Path) -> anyhow::Result<CodeVersion> {
        use sha2::Digest;
        let bytes =
            std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
        let loaded_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        Ok(CodeVersion {
            hash: hex::encode(sha2::Sha256::digest(&bytes)),
            loaded_ms,
        })
    }
}

pub struct Namespace {
    pub name: Arc<str>,
    pub config: NamespaceConfig,
    /// The component file.
    pub component_path: PathBuf,
    code: RwLock<Arc<Code>>,
    version: RwLock<CodeVersion>,
    pub id_key: IdKey,
    pub metadata: Metadata,
    /// `<data-dir>/<namespace>/`
    pub dir: PathBuf,
    pub limits: Limits,
    /// Where its objects may send HTTP requests.
    pub outbound: Arc<[OutboundRule]>,
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
        // After compiling, whose error names the namespace and the file.
        let version = CodeVersion::of(&component_path)?;
        let dir = config.data_dir.join(&ns.name);
        crate::storage::durable_fs::create_dir_all(&dir)
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
            version: RwLock::new(version),
            id_key,
            metadata,
            dir,
            limits: Limits {
                max_database_bytes: ns.max_database_size,
                checkpoint_pages: config.checkpoint_pages,
                ..Limits::default()
            },
            outbound: config.outbound_rules(&ns.allowed_outbound_hosts),
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
        // Hashed first: a file replaced while compiling then shows an old hash, never a
        // hash of code that is not running.
        let version = CodeVersion::of(&self.component_path)?;
        let code = Code::load(engine, linker, &self.name, &self.component_path, cache_dir)?;
        *self.code.write().expect("code lock") = Arc::new(code);
        *self.version.write().expect("version lock") = version;
        Ok(())
    }

    /// The code version new instances are made from.
    pub fn version(&self) -> CodeVersion {
        self.version.read().expect("version lock").clone()
    }
}
