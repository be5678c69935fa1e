//! A Worker: a stateless component of the `worker` world. Each request gets a new instance
//! from the pooling allocator (an instance is cheap: no storage, nothing to keep), runs its
//! `fetch` with the worker's CPU and memory limits, and is dropped. At most
//! `max-concurrent` run at once; more wait for a place.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use tokio::sync::Semaphore;
use wasmtime::component::{HasSelf, InstancePre, Linker, ResourceTable};
use wasmtime::{Engine, Store};
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

use super::bindings::worker::exports::wdo::object::fetch_handler;
use super::bindings::{namespaces, Request, Response};
use super::cpu_limit::{limit_cpu, ticks_for, CpuMeter};
use super::engine::load_component;
use super::log::{GuestLog, LogBudget};
use super::memory_meter::MemoryMeter;
use super::stubs::{Accepted, StubCtx};
use crate::config::WorkerConfig;

/// The data of one worker instance's `Store`.
pub struct WorkerCtx {
    wasi: WasiCtx,
    table: ResourceTable,
    limits: MemoryMeter,
    stubs: StubCtx,
    ticks_used: u64,
    ticks_allowed: u64,
}

impl CpuMeter for WorkerCtx {
    fn ticks(&mut self) -> (&mut u64, u64) {
        (&mut self.ticks_used, self.ticks_allowed)
    }
}

impl WasiView for WorkerCtx {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

/// The worker's compiled code (replaced by a reload) and limits.
pub struct Worker {
    code: std::sync::RwLock<Arc<WorkerCode>>,
    pub config: WorkerConfig,
    places: Semaphore,
    log_budget: Arc<std::sync::Mutex<LogBudget>>,
}

/// What a worker's request came to: its response, and the WebSocket an object accepted
/// for it (when the worker forwarded an upgrade request and answers with that 101).
pub struct WorkerAnswer {
    pub response: Response,
    pub accepted: Option<Accepted>,
}

struct WorkerCode {
    pre: InstancePre<WorkerCtx>,
    fetch: fetch_handler::GuestIndices,
}

impl Worker {
    /// Compiles (or loads from `cache_dir`) the worker's component. Blocking.
    pub fn load(
        engine: &Engine,
        config: &WorkerConfig,
        path: &Path,
        cache_dir: &Path,
    ) -> anyhow::Result<Worker> {
        Ok(Worker {
            code: std::sync::RwLock::new(Arc::new(WorkerCode::load(engine, path, cache_dir)?)),
            places: Semaphore::new(config.max_concurrent),
            log_budget: LogBudget::new(100),
            config: config.clone(),
        })
    }

    /// Loads the component file again; the next requests run it. On error the old code
    /// stays. Blocking.
    pub fn reload(&self, engine: &Engine, path: &Path, cache_dir: &Path) -> anyhow::Result<()> {
        let code = WorkerCode::load(engine, path, cache_dir)?;
        *self.code.write().expect("worker code lock") = Arc::new(code);
        Ok(())
    }
}

impl WorkerCode {
    fn load(engine: &Engine, path: &Path, cache_dir: &Path) -> anyhow::Result<WorkerCode> {
        let component = load_component(engine, path, cache_dir).context("the worker")?;
        let mut linker = Linker::<WorkerCtx>::new(engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)
            .map_err(|e| anyhow::anyhow!("{e:#}"))?;
        namespaces::add_to_linker::<WorkerCtx, HasSelf<StubCtx>>(&mut linker, |ctx| &mut ctx.stubs)
            .map_err(|e| anyhow::anyhow!("{e:#}"))?;
        // A worker built with an SDK's object bindings names the WebSocket interface for
        // the types of its (unused) socket handler: an instance with no functions for it.
        linker
            .instance("wdo:object/websocket@0.1.0")
            .map_err(|e| anyhow::anyhow!("{e:#}"))?;
        let pre = linker
            .instantiate_pre(&component)
            .map_err(|e| anyhow::anyhow!("{e:#}"))
            .with_context(|| {
                format!(
                    "the worker {} imports something a worker does not have (workers have \
                     no storage, alarm or sockets of their own: only wdo:object/namespaces \
                     and WASI)",
                    path.display()
                )
            })?;
        let fetch = fetch_handler::GuestIndices::new(&pre)
            .map_err(|e| anyhow::anyhow!("{e:#}"))
            .with_context(|| {
                format!(
                    "the worker {} does not export wdo:object/fetch-handler",
                    path.display()
                )
            })?;
        Ok(WorkerCode { pre, fetch })
    }
}

impl Worker {
    /// Runs one request in a new instance. `upgrade`: the request is a WebSocket upgrade,
    /// which the worker may forward to an object with `stub.fetch`.
    pub async fn fetch(
        self: &Arc<Self>,
        request: &Request,
        mut stubs: StubCtx,
        upgrade: bool,
    ) -> anyhow::Result<WorkerAnswer> {
        let _place = self
            .places
            .acquire()
            .await
            .context("the host is stopping")?;
        let code = self.code.read().expect("worker code lock").clone();
        stubs.upgrade_allowed = upgrade;
        let log = |stream| {
            GuestLog::new(
                "worker".into(),
                "worker".into(),
                stream,
                self.log_budget.clone(),
            )
        };
        let ticks_allowed = ticks_for(self.config.cpu_limit);
        let ctx = WorkerCtx {
            wasi: WasiCtxBuilder::new()
                .stdout(log("stdout"))
                .stderr(log("stderr"))
                .build(),
            table: ResourceTable::new(),
            limits: MemoryMeter::limited(self.config.memory_limit),
            stubs,
            ticks_used: 0,
            ticks_allowed,
        };
        let mut store = Store::new(code.pre.engine(), ctx);
        store.limiter(|ctx| &mut ctx.limits);
        limit_cpu(&mut store, "the worker");
        let instance = code
            .pre
            .instantiate_async(&mut store)
            .await
            .map_err(anyhow::Error::from)
            .context("instantiating the worker")?;
        let fetch = code
            .fetch
            .load(&mut store, &instance)
            .map_err(anyhow::Error::from)?;
        let response = fetch
            .call_fetch(&mut store, request)
            .await
            .map_err(anyhow::Error::from)?;
        let accepted = store.data_mut().stubs.take_accepted();
        // An accepted socket goes to the client only with the object's own 101.
        let accepted = accepted.filter(|_| response.status == 101);
        Ok(WorkerAnswer { response, accepted })
    }
}
