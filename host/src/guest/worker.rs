//! A Worker: a stateless component of the `worker` world. A request runs in an idle
//! instance of the worker's current code, or in a new one from the pooling allocator; an
//! instance that answered goes back to the idle ones for the next request (as an isolate
//! does on Cloudflare: its globals may outlive a request, and nothing may rely on them),
//! one that failed is dropped. At most `max-concurrent` requests run at once; more wait for
//! a place.

use std::path::Path;
use std::sync::{Arc, Mutex};

use anyhow::Context;
use tokio::sync::Semaphore;
use wasmtime::component::{HasSelf, InstancePre, Linker, ResourceTable};
use wasmtime::{Engine, Store};
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use super::bindings::worker::exports::wdo::object::fetch_handler;
use super::bindings::{namespaces, Request, Response};
use super::cpu_limit::{limit_cpu, ticks_for, CpuMeter};
use super::engine::load_component;
use super::log::{GuestLog, LogBudget};
use super::memory_meter::MemoryMeter;
use super::outbound::Outbound;
use super::stubs::{Accepted, Env, StubCtx, MAX_STUBS};
use crate::config::{OutboundRule, WorkerConfig};

/// Requests an instance serves before it is replaced (bounds what a guest that leaks
/// resources can hold).
const REQUESTS_PER_INSTANCE: u32 = 10_000;

/// The data of one worker instance's `Store`.
pub struct WorkerCtx {
    wasi: WasiCtx,
    table: ResourceTable,
    limits: MemoryMeter,
    stubs: StubCtx,
    http: WasiHttpCtx,
    outbound: Outbound,
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

impl WasiHttpView for WorkerCtx {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.outbound,
        }
    }
}

/// The worker's compiled code (replaced by a reload), limits, `env` and idle instances.
pub struct Worker {
    code: std::sync::RwLock<Arc<WorkerCode>>,
    pub config: WorkerConfig,
    /// Its bindings and vars.
    pub env: Arc<Env>,
    outbound: Arc<[OutboundRule]>,
    places: Semaphore,
    idle: Mutex<Vec<Idle>>,
    log_budget: Arc<std::sync::Mutex<LogBudget>>,
}

/// An instance between requests.
struct Idle {
    code: Arc<WorkerCode>,
    store: Store<WorkerCtx>,
    fetch: fetch_handler::Guest,
    served: u32,
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
        env: Arc<Env>,
        outbound: Arc<[OutboundRule]>,
    ) -> anyhow::Result<Worker> {
        let code = WorkerCode::load(engine, path, cache_dir)
            .with_context(|| format!("worker {:?}", config.name))?;
        Ok(Worker {
            code: std::sync::RwLock::new(Arc::new(code)),
            places: Semaphore::new(config.max_concurrent),
            idle: Mutex::new(Vec::new()),
            log_budget: LogBudget::new(100),
            config: config.clone(),
            env,
            outbound,
        })
    }

    /// Loads the component file again; the next requests run it (idle instances of the
    /// old code are dropped). On error the old code stays. Blocking.
    pub fn reload(&self, engine: &Engine, path: &Path, cache_dir: &Path) -> anyhow::Result<()> {
        let code = WorkerCode::load(engine, path, cache_dir)
            .with_context(|| format!("worker {:?}", self.config.name))?;
        *self.code.write().expect("worker code lock") = Arc::new(code);
        self.idle.lock().expect("idle workers lock").clear();
        Ok(())
    }
}

impl WorkerCode {
    fn load(engine: &Engine, path: &Path, cache_dir: &Path) -> anyhow::Result<WorkerCode> {
        let component = load_component(engine, path, cache_dir)?;
        let mut linker = Linker::<WorkerCtx>::new(engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)
            .map_err(|e| anyhow::anyhow!("{e:#}"))?;
        wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)
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
                    "{} imports something a worker does not have (workers have no storage, \
                     alarm or sockets of their own: only wdo:object/namespaces, wasi:http's \
                     outgoing handler and WASI)",
                    path.display()
                )
            })?;
        let fetch = fetch_handler::GuestIndices::new(&pre)
            .map_err(|e| anyhow::anyhow!("{e:#}"))
            .with_context(|| {
                format!(
                    "{} does not export wdo:object/fetch-handler",
                    path.display()
                )
            })?;
        Ok(WorkerCode { pre, fetch })
    }
}

impl Worker {
    /// Runs one request. `upgrade`: the request is a WebSocket upgrade, which the worker
    /// may forward to an object with `stub.fetch`. `stubs`: a new instance's stub context.
    pub async fn fetch(
        self: &Arc<Self>,
        request: &Request,
        stubs: impl FnOnce() -> StubCtx,
        upgrade: bool,
    ) -> anyhow::Result<WorkerAnswer> {
        let _place = self
            .places
            .acquire()
            .await
            .context("the host is stopping")?;
        let mut instance = match self.take_idle() {
            Some(idle) => idle,
            None => self.instantiate(stubs()).await?,
        };
        let ctx = instance.store.data_mut();
        ctx.ticks_used = 0;
        ctx.stubs.upgrade_allowed = upgrade;
        ctx.stubs.take_accepted();
        instance.store.set_epoch_deadline(1);
        // A failure (trap, CPU or memory limit) drops the instance with the error.
        let response = instance
            .fetch
            .call_fetch(&mut instance.store, request)
            .await
            .map_err(anyhow::Error::from)?;
        let ctx = instance.store.data_mut();
        ctx.stubs.upgrade_allowed = false;
        // An accepted socket goes to the client only with the object's own 101.
        let accepted = ctx.stubs.take_accepted().filter(|_| response.status == 101);
        instance.served += 1;
        self.put_idle(instance);
        Ok(WorkerAnswer { response, accepted })
    }

    /// An idle instance of the current code, if there is one.
    fn take_idle(&self) -> Option<Idle> {
        let code = self.code.read().expect("worker code lock").clone();
        let mut idle = self.idle.lock().expect("idle workers lock");
        while let Some(instance) = idle.pop() {
            if Arc::ptr_eq(&instance.code, &code) {
                return Some(instance);
            }
        }
        None
    }

    fn put_idle(&self, instance: Idle) {
        let current = self.code.read().expect("worker code lock").clone();
        let reusable = Arc::ptr_eq(&instance.code, &current)
            && instance.served < REQUESTS_PER_INSTANCE
            && instance.store.data().stubs.held() <= MAX_STUBS / 10;
        let mut idle = self.idle.lock().expect("idle workers lock");
        if reusable && idle.len() < self.config.max_concurrent {
            idle.push(instance);
        }
    }

    async fn instantiate(&self, stubs: StubCtx) -> anyhow::Result<Idle> {
        let code = self.code.read().expect("worker code lock").clone();
        let name: Arc<str> = self.config.name.as_str().into();
        let log = |stream| {
            GuestLog::new(
                "worker".into(),
                name.clone(),
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
            http: WasiHttpCtx::new(),
            outbound: Outbound::new(self.outbound.clone(), format!("worker {name}").into()),
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
        Ok(Idle {
            code,
            store,
            fetch,
            served: 0,
        })
    }
}
