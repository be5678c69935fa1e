//! A live instance of an object: its `Store` and handlers, and running one event in it.
//! Knows wasmtime; knows nothing of batches and commits (the objects layer's actor).

use std::sync::{Arc, Mutex};

use anyhow::Context;
use wasmtime::Store;
use wasmtime_wasi::WasiCtxBuilder;
use wasmtime_wasi_http::WasiHttpCtx;

use super::bindings::{alarm_handler, websocket, Exports, Request, Response};
use super::code::Code;
use super::cpu_limit::{limit_cpu, ticks_for};
use super::ctx::{ObjectCtx, ObjectInfo};
use super::log::{GuestLog, LogBudget};
use super::memory_meter::MemoryMeter;
use super::outbound::Outbound;
use super::stubs::{Chain, StubCtx};
use super::websocket::TurnEffects;
use crate::config::{NamespaceConfig, OutboundRule};
use crate::storage::ObjectStorage;
use crate::websocket::{Hub, SocketId, WsEvent};

pub struct Instance {
    store: Store<ObjectCtx>,
    exports: Exports,
    /// Epoch ticks each event may use (the namespace's `cpu-limit`).
    ticks_per_event: u64,
}

/// What an alarm handler did.
pub enum AlarmResult {
    Done,
    /// The handler returned an error (no trap: the instance stays usable).
    Failed(String),
    /// The object exports no alarm handler.
    NoHandler,
}

impl Instance {
    /// An instance of `code` with the limits of the namespace `config`.
    pub async fn new(
        code: &Code,
        config: &NamespaceConfig,
        outbound: Arc<[OutboundRule]>,
        info: &Arc<ObjectInfo>,
        storage: &Arc<Mutex<ObjectStorage>>,
        hub: &Arc<Hub>,
        stubs: StubCtx,
    ) -> anyhow::Result<Instance> {
        let budget = LogBudget::new(config.log_lines_per_second);
        let log = |stream| {
            GuestLog::new(
                info.namespace.clone(),
                info.id_text.clone(),
                stream,
                budget.clone(),
            )
        };
        let wasi = WasiCtxBuilder::new()
            .stdout(log("stdout"))
            .stderr(log("stderr"))
            .build();
        let limits = MemoryMeter::limited(config.memory_limit);
        let ctx = ObjectCtx {
            wasi,
            table: Default::default(),
            limits,
            info: info.clone(),
            storage: storage.clone(),
            ticks_used: 0,
            ticks_allowed: 1,
            storage_failed: None,
            storage_full: false,
            hub: hub.clone(),
            effects: TurnEffects::default(),
            rollback_requested: None,
            stubs,
            http: WasiHttpCtx::new(),
            outbound: Outbound::new(
                outbound,
                format!("namespace {} object {}", info.namespace, info.id_text).into(),
            ),
        };
        let mut store = Store::new(code.pre.engine(), ctx);
        store.limiter(|ctx| &mut ctx.limits);
        limit_cpu(&mut store, "the event");
        // Instantiation runs guest start code: bound it like an event.
        let ticks_per_event = ticks_for(config.cpu_limit);
        store.data_mut().ticks_allowed = ticks_per_event;
        store.set_epoch_deadline(1);
        let instance = code
            .pre
            .instantiate_async(&mut store)
            .await
            .map_err(anyhow::Error::from)
            .context("instantiating the component")?;
        let exports = code
            .exports
            .load(&mut store, &instance)
            .map_err(anyhow::Error::from)?;
        Ok(Instance {
            store,
            exports,
            ticks_per_event,
        })
    }

    /// Gets the event's time budget going. `chain`: the objects waiting for this event, up
    /// the chain of calls, this one last.
    fn start_event(&mut self, chain: Chain) {
        let ctx = self.store.data_mut();
        ctx.stubs.chain = chain;
        ctx.ticks_used = 0;
        ctx.ticks_allowed = self.ticks_per_event;
        ctx.storage_failed = None;
        ctx.storage_full = false;
        ctx.effects = TurnEffects::default();
        ctx.rollback_requested = None;
        self.store.set_epoch_deadline(1);
    }

    /// Bytes of linear memory and tables the instance holds (what it grew to; wasmtime
    /// never shrinks them).
    pub fn memory_bytes(&self) -> usize {
        self.store.data().limits.bytes()
    }

    /// Why the guest asked (`turn.rollback`) to roll the event's writes back, if it did.
    pub fn take_rollback_request(&mut self) -> Option<String> {
        self.store.data_mut().rollback_requested.take()
    }

    /// The event's WebSocket accept and sends, to apply or discard.
    pub fn take_effects(&mut self) -> TurnEffects {
        std::mem::take(&mut self.store.data_mut().effects)
    }

    /// The socket the current fetch accepted, if any.
    pub fn accepted(&self) -> Option<SocketId> {
        self.store.data().effects.accepted
    }

    /// Whether a storage failure during the event was a full disk or database.
    pub fn storage_was_full(&self) -> bool {
        self.store.data().storage_full
    }

    /// Whether storage itself failed during the event (the turn must be rolled back).
    pub fn take_storage_failure(&mut self) -> Option<String> {
        self.store.data_mut().storage_failed.take()
    }

    /// `upgrade`: the request may be accepted as a WebSocket.
    pub async fn fetch(
        &mut self,
        request: &Request,
        upgrade: bool,
        chain: Chain,
    ) -> anyhow::Result<Response> {
        self.start_event(chain);
        self.store.data_mut().effects.upgrade_allowed = upgrade;
        Ok(self
            .exports
            .fetch
            .call_fetch(&mut self.store, request)
            .await?)
    }

    /// Runs an RPC call: the guest's JSON result or its error message; `None` if the object
    /// exports no RPC handler.
    pub async fn call(
        &mut self,
        method: &str,
        payload: &str,
        chain: Chain,
    ) -> anyhow::Result<Option<Result<String, String>>> {
        self.start_event(chain);
        let Some(handler) = &self.exports.rpc else {
            return Ok(None);
        };
        Ok(Some(
            handler.call_call(&mut self.store, method, payload).await?,
        ))
    }

    pub async fn alarm(
        &mut self,
        info: alarm_handler::AlarmInfo,
        chain: Chain,
    ) -> anyhow::Result<AlarmResult> {
        self.start_event(chain);
        let Some(handler) = &self.exports.alarm else {
            return Ok(AlarmResult::NoHandler);
        };
        Ok(match handler.call_alarm(&mut self.store, info).await? {
            Ok(()) => AlarmResult::Done,
            Err(message) => AlarmResult::Failed(message),
        })
    }
}

impl Instance {
    /// Runs a socket event; `None` if the object has no WebSocket handler.
    pub async fn websocket(
        &mut self,
        socket: SocketId,
        event: &WsEvent,
        chain: Chain,
    ) -> anyhow::Result<Option<Result<(), String>>> {
        self.start_event(chain);
        let Some(handler) = &self.exports.websocket else {
            return Ok(None);
        };
        let result = match event {
            WsEvent::Message(message) => {
                let message = websocket::Message::from(message.clone());
                handler
                    .call_websocket_message(&mut self.store, socket, &message)
                    .await?
            }
            WsEvent::Close {
                code,
                reason,
                was_clean,
            } => {
                handler
                    .call_websocket_close(&mut self.store, socket, *code, reason, *was_clean)
                    .await?
            }
            WsEvent::Error(error) => {
                handler
                    .call_websocket_error(&mut self.store, socket, error)
                    .await?
            }
        };
        Ok(Some(result))
    }
}
