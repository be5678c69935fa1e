//! Process-wide wasm machinery: the `Engine` (pooling allocator, epoch interruption), the
//! epoch ticker, and the on-disk cache of compiled components.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use sha2::{Digest, Sha256};
use wasmtime::component::Component;
use wasmtime::{Config, Enabled, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

/// How often the epoch advances: the granularity of the per-event time limit and of
/// yielding long-running guests back to the scheduler.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Bytes of a freed slot's tables kept resident for reuse (at most `keep-resident`).
const KEEP_RESIDENT_TABLE: usize = 64 << 10;

/// The engine for `max_live_objects` instances of at most `max_memory` bytes each; a freed
/// slot keeps up to `keep_resident` bytes of its memory resident (config `keep-resident`).
pub fn new_engine(
    max_live_objects: usize,
    max_memory: usize,
    keep_resident: usize,
) -> anyhow::Result<Engine> {
    let mut config = Config::new();
    config.wasm_component_model(true);
    config.epoch_interruption(true);
    // Headroom over the live cap: an evicted actor still holds its instance until its task
    // runs again and drops it, while its successor instantiates at once. Under heavy churn
    // (bench scenario 2: thousands of activations a second) 16 spare slots ran out and
    // activations failed with "maximum concurrent limit ... reached".
    let headroom = (max_live_objects / 4).max(64);
    let slots = u32::try_from(max_live_objects.saturating_add(headroom)).unwrap_or(u32::MAX);
    let mut pool = PoolingAllocationConfig::default();
    // A component instance holds a few core instances (the program, WASI adapters).
    pool.total_component_instances(slots)
        .total_core_instances(slots.saturating_mul(8))
        .total_memories(slots.saturating_mul(2))
        .total_tables(slots.saturating_mul(8))
        .total_stacks(slots)
        .max_memory_size(max_memory)
        .max_memories_per_component(8)
        .max_tables_per_component(16)
        .max_core_instances_per_component(64)
        .max_component_instance_size(4 << 20)
        .max_core_instance_size(4 << 20)
        .table_elements(100_000)
        // Resetting a slot for reuse with madvise drops its pages, which costs a TLB
        // shootdown on every core and page faults when the next instance touches them
        // again (bench scenario 2: ~7 % of an activation). Instead the pages an instance
        // dirtied in the low part of its memory and tables (found with Linux's PAGEMAP_SCAN,
        // 6.7+) are copied back to the image and stay resident for the next instance. The
        // cost is memory: up to these sizes per slot stay resident while the slot is free.
        .pagemap_scan(Enabled::Auto)
        .linear_memory_keep_resident(keep_resident)
        .table_keep_resident(KEEP_RESIDENT_TABLE.min(keep_resident));
    config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    Engine::new(&config).map_err(|e| anyhow::anyhow!("{e:#}").context("creating the wasm engine"))
}

/// Advances the engine's epoch every [`EPOCH_TICK`] until dropped.
pub struct EpochTicker {
    stop: Arc<AtomicBool>,
}

impl EpochTicker {
    pub fn start(engine: &Engine) -> EpochTicker {
        let stop = Arc::new(AtomicBool::new(false));
        let engine = engine.weak();
        let flag = stop.clone();
        std::thread::Builder::new()
            .name("wdo-epoch".into())
            .spawn(move || {
                while !flag.load(Ordering::Relaxed) {
                    std::thread::sleep(EPOCH_TICK);
                    match engine.upgrade() {
                        Some(engine) => engine.increment_epoch(),
                        None => break,
                    }
                }
            })
            .expect("spawn epoch thread");
        EpochTicker { stop }
    }
}

impl Drop for EpochTicker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Loads a component, compiling it only if the cache has no compiled copy for these exact
/// bytes and this exact engine configuration.
pub fn load_component(engine: &Engine, path: &Path, cache_dir: &Path) -> anyhow::Result<Component> {
    let bytes =
        std::fs::read(path).with_context(|| format!("cannot read component {}", path.display()))?;
    let cached = cache_path(engine, &bytes, cache_dir);
    if cached.exists() {
        // SAFETY: the file was written by `Component::serialize` of an engine with the same
        // compatibility hash (part of the file name), into a directory only wdo writes.
        match unsafe { Component::deserialize_file(engine, &cached) } {
            Ok(component) => return Ok(component),
            Err(e) => {
                tracing::warn!(path = %cached.display(), "ignoring unusable compiled cache entry: {e}")
            }
        }
    }
    let started = Instant::now();
    let component = Component::new(engine, &bytes)
        .map_err(|e| anyhow::anyhow!("{e:#}"))
        .with_context(|| format!("{} is not a valid WebAssembly component", path.display()))?;
    tracing::info!(component = %path.display(), elapsed = ?started.elapsed(), "compiled component");
    if let Err(e) = write_cache(&component, &cached) {
        tracing::warn!(path = %cached.display(), "cannot cache compiled component: {e:#}");
    }
    Ok(component)
}

fn cache_path(engine: &Engine, bytes: &[u8], cache_dir: &Path) -> PathBuf {
    let mut engine_hash = std::collections::hash_map::DefaultHasher::new();
    engine
        .precompile_compatibility_hash()
        .hash(&mut engine_hash);
    let content = hex::encode(&Sha256::digest(bytes)[..16]);
    cache_dir.join(format!("{content}-{:016x}.cwasm", engine_hash.finish()))
}

fn write_cache(component: &Component, path: &Path) -> anyhow::Result<()> {
    let dir = path.parent().context("cache path has a directory")?;
    std::fs::create_dir_all(dir)?;
    let serialized = component
        .serialize()
        .map_err(|e| anyhow::anyhow!("{e:#}"))?;
    // Write then rename, so a crash never leaves a truncated entry behind.
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&tmp, serialized)?;
    std::fs::rename(&tmp, path)?;
    Ok(())
}
