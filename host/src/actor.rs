//! The object actor: one tokio task per live object. It owns the object's storage and its
//! instance, takes events from a bounded inbox one at a time, and runs each as a turn.
//!
//! Queued events are run back to back inside one SQLite transaction (group commit), each in
//! its own savepoint so that a failed event rolls back only its own writes. Their responses
//! are released only after the commit (output gate).

use std::sync::{Arc, Mutex};
use std::time::Instant;

use anyhow::Context;
use tokio::sync::{mpsc, oneshot};
use wasmtime::{Store, StoreLimitsBuilder, UpdateDeadline};
use wasmtime_wasi::WasiCtxBuilder;

use crate::bindings::{Object, Request, Response};
use crate::engine::EPOCH_TICK;
use crate::guest_log::GuestLog;
use crate::host_api::{ObjectCtx, ObjectInfo};
use crate::metrics::ns;
use crate::namespace::Namespace;
use crate::registry::{Key, Registry};
use crate::storage::ObjectStorage;

/// An event for an object.
pub enum Event {
    Fetch {
        request: Request,
        reply: oneshot::Sender<Result<Response, TurnError>>,
    },
}

/// Why an event produced no response of the guest's. Its writes were rolled back.
#[derive(Debug, Clone, thiserror::Error)]
pub enum TurnError {
    #[error("the object failed while handling the event (error id {error_id})")]
    GuestFailed { error_id: String },
    #[error("the object's storage failed (error id {error_id})")]
    Storage { error_id: String },
}

struct Live {
    store: Store<ObjectCtx>,
    bindings: Object,
}

pub struct Actor {
    pub(crate) key: Key,
    pub(crate) generation: u64,
    pub(crate) namespace: Arc<Namespace>,
    pub(crate) info: Arc<ObjectInfo>,
    pub(crate) registry: Arc<Registry>,
    pub(crate) inbox: mpsc::Receiver<Event>,
    /// Resolves when the previous actor of this object has fully closed.
    pub(crate) previous: Option<oneshot::Receiver<()>>,
    /// Dropped when this actor has closed its instance and database.
    pub(crate) _alive: oneshot::Sender<()>,
}

impl Actor {
    pub async fn run(mut self) {
        if let Some(previous) = self.previous.take() {
            let _ = previous.await;
        }
        let label = ns(&self.namespace.name);
        let metrics = self.registry.metrics.clone();
        metrics.activations.get_or_create(&label).inc();
        metrics.live_objects.get_or_create(&label).inc();
        let (evicted, storage) = match self.open_storage().await {
            Ok(storage) => (self.serve(storage.clone()).await, Some(storage)),
            Err(e) => {
                let error_id = new_error_id();
                tracing::error!(namespace = %self.namespace.name, object = %self.info.id_text, error_id, "cannot open object storage: {e:#}");
                self.refuse_all(TurnError::Storage { error_id }).await;
                (false, None)
            }
        };
        metrics.live_objects.get_or_create(&label).dec();
        if evicted {
            metrics.evictions.get_or_create(&label).inc();
        }
        // Closing may checkpoint the WAL (fsyncs): keep it off the async workers, and finish
        // it before this actor counts as closed (`_alive`), which a successor waits for.
        if let Some(storage) = storage {
            let _ = tokio::task::spawn_blocking(move || drop(storage)).await;
        }
    }

    async fn open_storage(&self) -> anyhow::Result<Arc<Mutex<ObjectStorage>>> {
        let path = self
            .namespace
            .dir
            .join(format!("{}.sqlite", self.info.id_text));
        let durability = self.namespace.config.durability;
        let limits = self.namespace.limits;
        let namespace = self.namespace.clone();
        let info = self.info.clone();
        let storage = tokio::task::spawn_blocking(move || -> anyhow::Result<ObjectStorage> {
            let is_new = !path.exists();
            let storage = ObjectStorage::open(&path, durability, limits)
                .with_context(|| format!("opening {}", path.display()))?;
            if is_new {
                namespace
                    .metadata
                    .record_object(&info.id, info.name.as_deref())?;
            }
            Ok(storage)
        })
        .await??;
        Ok(Arc::new(Mutex::new(storage)))
    }

    /// Serves events until the registry drops this object's inbox sender (eviction or
    /// shutdown). Returns whether it ended by eviction.
    async fn serve(&mut self, storage: Arc<Mutex<ObjectStorage>>) -> bool {
        let idle_timeout = self.registry.config.idle_timeout;
        let max_batch = self.registry.config.max_group_commit;
        let mut live: Option<Live> = None;
        let mut batch = Vec::with_capacity(max_batch);
        loop {
            let first = tokio::select! {
                event = self.inbox.recv() => match event {
                    Some(event) => event,
                    None => return !self.registry.is_shutting_down(),
                },
                _ = tokio::time::sleep(idle_timeout) => {
                    self.registry.retire_if_idle(self.key, self.generation, &self.inbox);
                    continue;
                }
            };
            batch.push(first);
            while batch.len() < max_batch {
                match self.inbox.try_recv() {
                    Ok(event) => batch.push(event),
                    Err(_) => break,
                }
            }
            self.run_batch(&storage, &mut live, &mut batch).await;
        }
    }

    async fn run_batch(
        &self,
        storage: &Arc<Mutex<ObjectStorage>>,
        live: &mut Option<Live>,
        batch: &mut Vec<Event>,
    ) {
        let count = batch.len();
        let mut replies = Vec::with_capacity(count);
        if let Err(e) = storage.lock().expect("storage lock").begin_batch() {
            let error_id = new_error_id();
            tracing::error!(namespace = %self.namespace.name, object = %self.info.id_text, error_id, "cannot begin a transaction: {e}");
            for Event::Fetch { reply, .. } in batch.drain(..) {
                let _ = reply.send(Err(TurnError::Storage {
                    error_id: error_id.clone(),
                }));
            }
            self.registry.events_done(self.key, count);
            return;
        }
        for Event::Fetch { request, reply } in batch.drain(..) {
            let outcome = self.run_turn(storage, live, request).await;
            replies.push((reply, outcome));
        }
        let started = Instant::now();
        let wrote = storage.lock().expect("storage lock").batch_wrote();
        let committed = if wrote {
            let commit_storage = storage.clone();
            tokio::task::spawn_blocking(move || {
                commit_storage.lock().expect("storage lock").commit_batch()
            })
            .await
            .map_err(anyhow::Error::from)
            .and_then(|r| r.map_err(anyhow::Error::from))
        } else {
            // Nothing written: the commit only ends the read transaction, no disk I/O.
            let result = storage.lock().expect("storage lock").commit_batch();
            result.map_err(anyhow::Error::from)
        };
        let label = ns(&self.namespace.name);
        let metrics = &self.registry.metrics;
        metrics
            .commit_duration
            .get_or_create(&label)
            .observe(started.elapsed().as_secs_f64());
        metrics
            .events_per_commit
            .get_or_create(&label)
            .observe(count as f64);
        if let Err(e) = committed {
            // Nothing of this batch is durable: no response may claim otherwise, and the
            // instance's memory may reflect writes that are gone.
            storage.lock().expect("storage lock").rollback_batch();
            *live = None;
            let error_id = new_error_id();
            tracing::error!(namespace = %self.namespace.name, object = %self.info.id_text, error_id, "commit failed, batch rolled back: {e:#}");
            for (reply, _) in replies {
                let _ = reply.send(Err(TurnError::Storage {
                    error_id: error_id.clone(),
                }));
            }
        } else {
            for (reply, outcome) in replies {
                let _ = reply.send(outcome);
            }
        }
        self.registry.events_done(self.key, count);
    }

    /// One event in its own savepoint. On any failure the savepoint is rolled back and the
    /// instance discarded, so the next event starts from committed state.
    async fn run_turn(
        &self,
        storage: &Arc<Mutex<ObjectStorage>>,
        live: &mut Option<Live>,
        request: Request,
    ) -> Result<Response, TurnError> {
        if let Err(e) = storage.lock().expect("storage lock").begin_turn() {
            let error_id = new_error_id();
            tracing::error!(namespace = %self.namespace.name, object = %self.info.id_text, error_id, "cannot begin a turn: {e}");
            *live = None;
            return Err(TurnError::Storage { error_id });
        }
        let result = self.call_fetch(storage, live, request).await;
        let storage_failed = live
            .as_mut()
            .and_then(|l| l.store.data_mut().storage_failed.take());
        let outcome = match (result, storage_failed) {
            (Ok(response), None) => Ok(response),
            (Ok(_), Some(failure)) => Err(anyhow::anyhow!(
                "storage failed during the event: {failure}"
            )),
            (Err(e), _) => Err(e),
        };
        let keep = outcome.is_ok();
        if let Err(e) = storage.lock().expect("storage lock").end_turn(keep) {
            let error_id = new_error_id();
            tracing::error!(namespace = %self.namespace.name, object = %self.info.id_text, error_id, "cannot end a turn: {e}");
            *live = None;
            return Err(TurnError::Storage { error_id });
        }
        outcome.map_err(|e| {
            *live = None;
            let error_id = new_error_id();
            self.registry.metrics.traps.get_or_create(&ns(&self.namespace.name)).inc();
            // One line with the cause; the wasm backtrace, if any, at debug level.
            tracing::error!(namespace = %self.namespace.name, object = %self.info.id_text, error_id, "event failed and was rolled back: {}", e.root_cause());
            tracing::debug!(namespace = %self.namespace.name, object = %self.info.id_text, error_id, "failure in detail: {e:?}");
            TurnError::GuestFailed { error_id }
        })
    }

    async fn call_fetch(
        &self,
        storage: &Arc<Mutex<ObjectStorage>>,
        live: &mut Option<Live>,
        request: Request,
    ) -> anyhow::Result<Response> {
        if live.is_none() {
            *live = Some(self.instantiate(storage).await?);
        }
        let live = live.as_mut().expect("instance just created");
        let cpu_limit = self.namespace.config.cpu_limit;
        let ctx = live.store.data_mut();
        ctx.ticks_used = 0;
        ctx.ticks_allowed = (cpu_limit.as_millis() / EPOCH_TICK.as_millis()).max(1) as u64;
        live.store.set_epoch_deadline(1);
        let response = live
            .bindings
            .wdo_object_fetch_handler()
            .call_fetch(&mut live.store, &request)
            .await?;
        Ok(response)
    }

    async fn instantiate(&self, storage: &Arc<Mutex<ObjectStorage>>) -> anyhow::Result<Live> {
        let ns_name = &self.namespace.name;
        let wasi = WasiCtxBuilder::new()
            .stdout(GuestLog::new(
                ns_name.clone(),
                self.info.id_text.clone(),
                "stdout",
            ))
            .stderr(GuestLog::new(
                ns_name.clone(),
                self.info.id_text.clone(),
                "stderr",
            ))
            .build();
        let limits = StoreLimitsBuilder::new()
            .memory_size(self.namespace.config.memory_limit)
            .trap_on_grow_failure(true)
            .build();
        let ctx = ObjectCtx {
            wasi,
            table: Default::default(),
            limits,
            info: self.info.clone(),
            storage: storage.clone(),
            ticks_used: 0,
            ticks_allowed: 1,
            storage_failed: None,
        };
        let mut store = Store::new(self.namespace.pre.engine(), ctx);
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
        store.set_epoch_deadline(u64::MAX / 2);
        let bindings = self
            .namespace
            .pre
            .instantiate_async(&mut store)
            .await
            .map_err(anyhow::Error::from)
            .context("instantiating the component")?;
        Ok(Live { store, bindings })
    }

    /// Answers every queued event with `error` (the object could not start).
    async fn refuse_all(&mut self, error: TurnError) {
        self.inbox.close();
        let mut count = 0;
        while let Some(Event::Fetch { reply, .. }) = self.inbox.recv().await {
            let _ = reply.send(Err(error.clone()));
            count += 1;
        }
        self.registry.events_done(self.key, count);
        self.registry.remove(self.key, self.generation);
    }
}

/// A short id that the response and the log line share.
pub fn new_error_id() -> String {
    hex::encode(rand::random::<[u8; 4]>())
}
