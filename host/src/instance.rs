//! A live instance of an object: its `Store` and handlers, and running one event in it.
//! Knows wasmtime; knows nothing of batches and commits (`actor.rs`).

use std::sync::{Arc, Mutex};

use anyhow::Context;
use wasmtime::{Store, StoreLimitsBuilder, UpdateDeadline};
use wasmtime_wasi::WasiCtxBuilder;

use crate::actor::WsEvent;
use crate::bindings::{alarm_handler, websocket, Exports, Request, Response};
use crate::engine::EPOCH_TICK;
use crate::guest_log::GuestLog;
use crate::host_api::{ObjectCtx, ObjectInfo};
use crate::host_websocket::TurnEffects;
use crate::namespace::Namespace;
use crate::storage::ObjectStorage;
use crate::websocket::{Hub, SocketId};

pub struct Instance {
    store: Store<ObjectCtx>,
    exports: Exports,
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
    pub async fn new(
        namespace: &Namespace,
        info: &Arc<ObjectInfo>,
        storage: &Arc<Mutex<ObjectStorage>>,
        hub: &Arc<Hub>,
    ) -> anyhow::Result<Instance> {
        let wasi = WasiCtxBuilder::new()
            .stdout(GuestLog::new(
                namespace.name.clone(),
                info.id_text.clone(),
                "stdout",
            ))
            .stderr(GuestLog::new(
                namespace.name.clone(),
                info.id_text.clone(),
                "stderr",
            ))
            .build();
        let limits = StoreLimitsBuilder::new()
            .memory_size(namespace.config.memory_limit)
            .trap_on_grow_failure(true)
            .build();
        let ctx = ObjectCtx {
            wasi,
            table: Default::default(),
            limits,
            info: info.clone(),
            storage: storage.clone(),
            ticks_used: 0,
            ticks_allowed: 1,
            storage_failed: None,
            hub: hub.clone(),
            effects: TurnEffects::default(),
            rollback_requested: None,
        };
        let code = namespace.code();
        let mut store = Store::new(code.pre.engine(), ctx);
        store.limiter(|ctx| &mut ctx.limits);
        store.epoch_deadline_callback(|mut store| {
            let ctx = store.data_mut();
            ctx.ticks_used += 1;
            if ctx.ticks_used > ctx.ticks_allowed {
                return Err(wasmtime::Error::msg(
                    "the event exceeded its CPU time limit",
                ));
            }
            Ok(UpdateDeadline::Yield(1))
        });
        // Instantiation runs guest start code: bound it like an event.
        store.data_mut().ticks_allowed = ticks_for(namespace);
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
        Ok(Instance { store, exports })
    }

    /// Gets the event's time budget going.
    fn start_event(&mut self, namespace: &Namespace) {
        let ctx = self.store.data_mut();
        ctx.ticks_used = 0;
        ctx.ticks_allowed = ticks_for(namespace);
        ctx.storage_failed = None;
        ctx.effects = TurnEffects::default();
        ctx.rollback_requested = None;
        self.store.set_epoch_deadline(1);
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

    /// Whether storage itself failed during the event (the turn must be rolled back).
    pub fn take_storage_failure(&mut self) -> Option<String> {
        self.store.data_mut().storage_failed.take()
    }

    /// `upgrade`: the request may be accepted as a WebSocket.
    pub async fn fetch(
        &mut self,
        namespace: &Namespace,
        request: &Request,
        upgrade: bool,
    ) -> anyhow::Result<Response> {
        self.start_event(namespace);
        self.store.data_mut().effects.upgrade_allowed = upgrade;
        Ok(self
            .exports
            .fetch
            .call_fetch(&mut self.store, request)
            .await?)
    }

    pub async fn alarm(
        &mut self,
        namespace: &Namespace,
        info: alarm_handler::AlarmInfo,
    ) -> anyhow::Result<AlarmResult> {
        self.start_event(namespace);
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
        namespace: &Namespace,
        socket: SocketId,
        event: &WsEvent,
    ) -> anyhow::Result<Option<Result<(), String>>> {
        self.start_event(namespace);
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

fn ticks_for(namespace: &Namespace) -> u64 {
    (namespace.config.cpu_limit.as_millis() / EPOCH_TICK.as_millis()).max(1) as u64
}
