//! The object actor: one tokio task per live object. It owns the object's storage and its
//! instance, takes events from a bounded inbox one at a time, and runs each as a turn
//! (`turn.rs`).
//!
//! Queued events are run back to back inside one SQLite transaction (group commit), each in
//! its own savepoint so that a failed event rolls back only its own writes. Their responses
//! are released only once the commit is durable (`output_gate.rs`, which with full
//! durability lets the next batches run while the fsync is in flight). Then the alarm index
//! and scheduler learn of any change to the object's alarm (`alarm_turn.rs`).

use std::sync::{Arc, Mutex};
use std::time::Instant;

use anyhow::Context;
use tokio::sync::{mpsc, oneshot};

use super::event::{AlarmOutcome, Event, TurnError};
use super::namespace::Namespace;
use super::output_gate::{Gate, Reply, Settled};
use super::registry::Registry;
use crate::alarms::AlarmEntry;
use crate::cluster::ObjectLog;
use crate::guest::{Instance, ObjectInfo};
use crate::ids::Key;
use crate::metrics::ns;
use crate::storage::ObjectStorage;
use crate::websocket::{Outbound, SocketId, WsEvent};

pub struct Actor {
    pub(super) key: Key,
    pub(super) generation: u64,
    pub(super) namespace: Arc<Namespace>,
    pub(super) info: Arc<ObjectInfo>,
    pub(super) registry: Arc<Registry>,
    pub(super) inbox: mpsc::Receiver<Event>,
    /// Resolves when the previous actor of this object has fully closed.
    pub(super) previous: Option<oneshot::Receiver<()>>,
    /// Dropped when this actor has closed its instance and database.
    pub(super) _alive: oneshot::Sender<()>,
}

/// The object's state while it is live.
pub(super) struct Live {
    pub storage: Arc<Mutex<ObjectStorage>>,
    pub instance: Option<Instance>,
    /// The alarm as the index and scheduler know it.
    pub known_alarm: Option<u64>,
    /// The batch's socket sends and accepts, released or undone with its commit.
    pub outbox: Vec<(SocketId, Outbound)>,
    pub accepted: Vec<SocketId>,
    /// Sockets whose close the batch handled: forgotten after the commit.
    pub closed: Vec<SocketId>,
    /// Committed batches waiting for their fsync (`output_gate.rs`).
    pub gate: Gate,
    /// Why the object must stop: an fsync of its files failed. It is then quarantined and
    /// its WAL cut back to what is durable (`storage/fail_stop.rs`).
    pub failed: Option<String>,
    /// SQLite rolled the batch's transaction back because the disk or the database was
    /// full: the batch's events are answered 507, not 500.
    pub lost_to_full: bool,
    /// Open sockets accepted for the standard WebSocket API, whose listeners live in the
    /// instance: while there is one, the object is not evicted.
    pub pinned: std::collections::HashSet<SocketId>,
    /// Cluster mode: the object's writer into the replicated log, which takes its commits
    /// instead of the host's log.
    pub replica: Option<ObjectLog>,
    /// Cluster mode: the sockets the object's database records (`replica.rs`); `None`
    /// when unknown (a batch that wrote them failed).
    pub recorded_sockets: Option<Vec<crate::storage::SocketRecord>>,
}

/// How an actor's life ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Ended {
    /// Retired (idle, LRU, or its namespace reloaded).
    Evicted,
    ShuttingDown,
    /// A storage failure: the object is quarantined.
    Failed,
    /// Cluster mode: a commit was refused or failed, or the node lost its lease: the object
    /// stops here, and its files, a cache of the log, are deleted.
    SteppedDown,
}

/// What the actor waits for between batches.
enum Next {
    Event(Option<Event>),
    Synced((std::io::Result<()>, std::time::Duration)),
    Idle,
}

impl Actor {
    pub async fn run(mut self) {
        if let Some(previous) = self.previous.take() {
            let _ = previous.await;
        }
        // Cluster mode: only the owner activates the object.
        let replica = match self.claim().await {
            Ok(replica) => replica,
            Err(error) => {
                self.refuse_all(error).await;
                return;
            }
        };
        let label = ns(&self.namespace.name);
        let metrics = self.registry.metrics.clone();
        metrics.activations.get_or_create(&label).inc();
        metrics.live_objects.get_or_create(&label).inc();
        let (ended, live) = match self.open(replica).await {
            Ok(mut live) => {
                let healthy = self.arrive_from_elsewhere(&mut live).await;
                let ended = match healthy && live.failed.is_none() {
                    true => self.serve(&mut live).await,
                    false => self.quarantine(&mut live).await,
                };
                (ended, Some(live))
            }
            Err(e) => {
                let error_id = new_error_id();
                tracing::error!(namespace = %self.namespace.name, object = %self.info.id_text, error_id, "cannot open object storage: {e:#}");
                self.refuse_all(TurnError::Storage { error_id }).await;
                (Ended::ShuttingDown, None)
            }
        };
        metrics.live_objects.get_or_create(&label).dec();
        self.registry.hub.object_stopped(self.key);
        if ended == Ended::Evicted {
            metrics.evictions.get_or_create(&label).inc();
        }
        // Closing may checkpoint the WAL (fsyncs): then it runs on a blocking thread. Either
        // way it finishes before this actor counts as closed (`_alive`), which a successor
        // waits for.
        if let Some(live) = live {
            let storage = live.storage.clone();
            let replica = live.replica.clone();
            drop(live);
            // The next activation starts logging where this one stopped.
            let position = match ended {
                Ended::Failed | Ended::SteppedDown => None,
                _ => storage.lock().expect("storage lock").wal_position(),
            };
            self.registry.log.remember(self.log_key(), position);
            if let Some(replica) = replica {
                self.close_replica(storage, replica, ended).await;
            } else if ended == Ended::Failed {
                self.fail_stop(storage).await;
            } else if storage.lock().expect("storage lock").closing_syncs() {
                let _ = tokio::task::spawn_blocking(move || drop(storage)).await;
            } else {
                drop(storage);
            }
        }
    }

    /// After a storage failure: the database closes without a checkpoint and its WAL is cut
    /// back to the last durable commit, so that nothing answered with an error is ever served.
    async fn fail_stop(&self, storage: Arc<Mutex<ObjectStorage>>) {
        let Ok(storage) = Arc::try_unwrap(storage) else {
            tracing::error!(namespace = %self.namespace.name, object = %self.info.id_text, "cannot close the failed object's storage: still in use; it stays quarantined");
            return;
        };
        let storage = storage.into_inner().unwrap_or_else(|e| e.into_inner());
        match tokio::task::spawn_blocking(move || storage.fail_stop()).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                tracing::error!(namespace = %self.namespace.name, object = %self.info.id_text, "cannot cut the failed object's WAL back to its durable commits: {e}; it stays quarantined until the host restarts")
            }
            Err(e) => {
                tracing::error!(namespace = %self.namespace.name, object = %self.info.id_text, "closing the failed object panicked: {e}")
            }
        }
    }

    /// The object, as the commit log names it.
    pub(super) fn log_key(&self) -> crate::commit_log::ObjectKey {
        crate::commit_log::ObjectKey {
            namespace: self.namespace.name.to_string(),
            id: *self.info.id.as_bytes(),
        }
    }

    pub(super) fn storage_path(&self) -> std::path::PathBuf {
        self.namespace
            .dir
            .join(format!("{}.sqlite", self.info.id_text))
    }

    pub(super) async fn open(&self, replica: Option<ObjectLog>) -> anyhow::Result<Live> {
        let path = self.storage_path();
        let quick = ObjectStorage::opens_quickly(&path);
        let durability = self.namespace.config.durability;
        let limits = self.namespace.limits;
        // An object without files starts in a temporary database: it gets a file (and its
        // metadata row, see `run_batch`) only when it first writes, so one that only reads
        // leaves nothing behind.
        let (storage, alarm) = if !quick && !ObjectStorage::exists(&path) {
            let storage = ObjectStorage::open_unsaved(&path, durability, limits)
                .with_context(|| format!("opening a temporary store for {}", path.display()))?;
            (storage, None)
        } else {
            let known = self.registry.log.position(&self.log_key());
            let open = move || -> anyhow::Result<_> {
                let storage = ObjectStorage::open_at(&path, durability, limits, known)
                    .with_context(|| format!("opening {}", path.display()))?;
                let alarm = storage.read_alarm()?;
                Ok((storage, alarm))
            };
            // Recovering a large WAL reads it all: a blocking thread does that. Opening an
            // existing, cleanly closed object only reads a few pages (usually cached), as
            // the turns' storage calls do on this thread; a hop to the blocking pool and back
            // was a measured share of an activation.
            if quick {
                open()?
            } else {
                tokio::task::spawn_blocking(open).await??
            }
        };
        Ok(Live {
            storage: Arc::new(Mutex::new(storage)),
            instance: None,
            known_alarm: alarm,
            outbox: Vec::new(),
            accepted: Vec::new(),
            closed: Vec::new(),
            gate: Gate::default(),
            failed: None,
            lost_to_full: false,
            pinned: Default::default(),
            replica,
            recorded_sockets: None,
        })
    }

    /// Serves events until the registry drops this object's inbox sender (eviction or
    /// shutdown). Returns whether it ended by eviction.
    async fn serve(&mut self, live: &mut Live) -> Ended {
        let idle_timeout = self.registry.config.idle_timeout;
        let max_batch = self.registry.config.max_group_commit;
        let mut batch = Vec::with_capacity(max_batch);
        // An admin request found while filling a batch: it runs alone, next.
        let mut held = None;
        loop {
            let next = match held.take() {
                Some(event) => Next::Event(Some(event)),
                None => tokio::select! {
                    result = live.gate.synced() => Next::Synced(result),
                    event = self.inbox.recv() => Next::Event(event),
                    _ = tokio::time::sleep(idle_timeout) => Next::Idle,
                },
            };
            let first = match next {
                Next::Event(Some(event)) => event,
                Next::Event(None) => {
                    // Evicted or shutting down: what was committed is made durable first.
                    if !self.wait_durable(live).await || live.failed.is_some() {
                        return self.quarantine(live).await;
                    }
                    // Retired with sockets of the standard API open (a reload): their
                    // listeners go with the instance, so they close; everything sent
                    // before is released already.
                    let reason = "the object was restarted: its WebSocket listeners are gone";
                    self.registry.hub.flush(
                        live.pinned
                            .drain()
                            .map(|socket| (socket, Outbound::Close(1012, reason.into())))
                            .collect(),
                    );
                    return match self.registry.is_shutting_down() {
                        true => Ended::ShuttingDown,
                        false => Ended::Evicted,
                    };
                }
                Next::Synced(result) => {
                    if !self.on_synced(live, result).await || live.failed.is_some() {
                        return self.quarantine(live).await;
                    }
                    continue;
                }
                Next::Idle => {
                    if live.gate.is_empty() {
                        self.registry
                            .retire_if_idle(self.key, self.generation, &self.inbox);
                    }
                    continue;
                }
            };
            if let Event::Admin { request, reply } = first {
                let healthy = self.admin(live, request, reply).await;
                self.registry.events_done(self.key, self.generation, 1, 0);
                if !healthy || live.failed.is_some() {
                    return self.quarantine(live).await;
                }
                continue;
            }
            batch.push(first);
            while batch.len() < max_batch {
                match self.inbox.try_recv() {
                    Ok(event @ Event::Admin { .. }) => {
                        held = Some(event);
                        break;
                    }
                    Ok(event) => batch.push(event),
                    Err(_) => break,
                }
            }
            let healthy = self.run_batch(live, &mut batch, true).await;
            let memory = live.instance.as_ref().map_or(0, Instance::memory_bytes);
            self.registry.memory_used(self.key, self.generation, memory);
            self.registry
                .set_pinned(self.key, self.generation, !live.pinned.is_empty());
            if !healthy || live.failed.is_some() {
                return self.quarantine(live).await;
            }
        }
    }

    /// After a failed fsync: the object is quarantined (events answer 503 until the host
    /// restarts), its queued events are refused, and the actor ends.
    async fn quarantine(&mut self, live: &mut Live) -> Ended {
        let reason = live
            .failed
            .take()
            .unwrap_or_else(|| "an fsync of its files failed".into());
        if live.replica.is_some() {
            // Cluster mode: the log, not this node's files, holds the object; it steps down
            // and the next activation (here or elsewhere) rebuilds it from the log.
            tracing::warn!(namespace = %self.namespace.name, object = %self.info.id_text, "stepping down: {reason}");
            let error = self.not_serving("the object stepped down on this node", &reason, false);
            self.refuse_all(error).await;
            return Ended::SteppedDown;
        }
        self.registry
            .metrics
            .storage_failures
            .get_or_create(&ns(&self.namespace.name))
            .inc();
        self.registry.quarantine(self.key, &reason);
        let error = self.storage_error("the object is quarantined after a failed fsync", &reason);
        self.refuse_all(error).await;
        Ended::Failed
    }

    /// Runs a batch and commits it. False if the object must stop (an fsync failed).
    ///
    /// `dispatched`: the batch's events came through the registry, which is told they ran
    /// once the turns are over and before any reply goes out, so that a client that has its
    /// answer never finds the object still counted busy (the eviction order is by last use
    /// among idle objects).
    pub(super) async fn run_batch(
        &self,
        live: &mut Live,
        batch: &mut Vec<Event>,
        dispatched: bool,
    ) -> bool {
        let count = batch.len();
        let bytes = batch.iter().map(Event::bytes).sum();
        let ran = || {
            if dispatched {
                self.registry
                    .events_done(self.key, self.generation, count, bytes);
            }
        };
        live.lost_to_full = false;
        if let Err(e) = live.storage.lock().expect("storage lock").begin_batch() {
            let error = self.storage_error("cannot begin a transaction", &e);
            ran();
            for event in batch.drain(..) {
                self.abandon(event, &error);
            }
            return true;
        }
        let mut replies = Vec::new();
        let mut alarm_outcomes = Vec::new();
        for event in batch.drain(..) {
            match event {
                Event::Fetch {
                    request,
                    upgrade,
                    chain,
                    reply,
                } => {
                    let outcome = self.fetch_turn(live, &request, upgrade, &chain).await;
                    replies.push((reply, outcome));
                }
                Event::Call {
                    method,
                    payload,
                    chain,
                    reply,
                } => {
                    let outcome = self.call_turn(live, &method, &payload, &chain).await;
                    replies.push((reply, outcome));
                }
                Event::Alarm { entry } => alarm_outcomes.push(self.alarm_turn(live, entry).await),
                Event::WebSocket { socket, event } => {
                    self.websocket_turn(live, socket, &event).await
                }
                // `serve` runs these apart from batches.
                event @ Event::Admin { .. } => self.abandon(
                    event,
                    &self.storage_error("admin request in a batch", &"refused"),
                ),
            }
        }
        ran();
        let new_alarm = match self
            .alarm_before_commit(live, !alarm_outcomes.is_empty())
            .await
        {
            Ok(new_alarm) => new_alarm,
            Err(e) => {
                let e = anyhow::anyhow!("the alarm index could not be written: {e}");
                self.fail_batch(live, replies, &alarm_outcomes, e).await;
                return true;
            }
        };
        let sockets = match self.record_sockets(live) {
            Ok(sockets) => sockets,
            Err(e) => {
                live.recorded_sockets = None;
                let e = anyhow::anyhow!("the object's sockets could not be recorded: {e}");
                self.fail_batch(live, replies, &alarm_outcomes, e).await;
                return true;
            }
        };
        let started = Instant::now();
        let (wrote, pipelined, unsaved) = {
            let storage = live.storage.lock().expect("storage lock");
            (
                storage.batch_wrote(),
                storage.syncs_apart(),
                storage.is_unsaved(),
            )
        };
        let committed = if wrote && !pipelined {
            // Relaxed durability: an automatic checkpoint may sync inside the COMMIT. An
            // object's first write creates its file there, and its metadata row first.
            let storage = live.storage.clone();
            let created = unsaved.then(|| (self.namespace.clone(), self.info.clone()));
            tokio::task::spawn_blocking(move || -> anyhow::Result<()> {
                if let Some((namespace, info)) = created {
                    namespace
                        .metadata
                        .record_object(&info.id, info.name.as_deref())?;
                }
                storage.lock().expect("storage lock").commit_batch()?;
                Ok(())
            })
            .await
            .map_err(anyhow::Error::from)
            .and_then(|r| r)
        } else {
            // Nothing written, or full durability: the COMMIT appends to the WAL at most and
            // does not sync (the output gate does that next).
            let result = live.storage.lock().expect("storage lock").commit_batch();
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
            .observe((replies.len() + alarm_outcomes.len()) as f64);
        match committed {
            Ok(()) => {
                if sockets.is_some() {
                    live.recorded_sockets = sockets;
                }
                let alarms = new_alarm.is_some() || !alarm_outcomes.is_empty();
                let settled = Settled {
                    replies,
                    outbox: std::mem::take(&mut live.outbox),
                    accepted: std::mem::take(&mut live.accepted),
                    closed: std::mem::take(&mut live.closed),
                    new_alarm,
                    alarm_outcomes,
                };
                self.settle(live, wrote, settled).await;
                if wrote {
                    self.checkpoint_if_due(live).await;
                }
                // The alarm index and scheduler follow the alarm row before the next batch
                // reads it.
                if alarms {
                    return self.wait_durable(live).await;
                }
                true
            }
            Err(e) => {
                if sockets.is_some() {
                    live.recorded_sockets = None;
                }
                self.fail_batch(live, replies, &alarm_outcomes, e).await;
                true
            }
        }
    }

    /// Nothing of this batch is kept: it is rolled back, no response may claim otherwise,
    /// and the instance's memory may reflect writes that are gone.
    async fn fail_batch(
        &self,
        live: &mut Live,
        replies: Vec<Reply>,
        alarm_outcomes: &[AlarmOutcome],
        error: anyhow::Error,
    ) {
        live.storage.lock().expect("storage lock").rollback_batch();
        live.instance = None;
        let error = match std::mem::take(&mut live.lost_to_full) {
            true => self.full_error("the batch was rolled back", &error),
            false => self.commit_error(&error),
        };
        for (reply, _) in replies {
            let _ = reply.send(Err(error.clone()));
        }
        let hub = &self.registry.hub;
        live.outbox.clear();
        for socket in live.accepted.drain(..).chain(live.closed.drain(..)) {
            live.pinned.remove(&socket);
            hub.remove(socket);
        }
        self.alarm_after_failed_commit(live, alarm_outcomes).await;
    }

    /// Answers an event that could not run.
    fn abandon(&self, event: Event, error: &TurnError) {
        match event {
            Event::Fetch { reply, .. } | Event::Call { reply, .. } => {
                let _ = reply.send(Err(error.clone()));
            }
            Event::WebSocket {
                socket,
                event: WsEvent::Close { .. },
            } => self.registry.hub.remove(socket),
            Event::WebSocket { .. } => {}
            Event::Admin { reply, .. } => {
                let _ = reply.send(Err(super::admin::AdminError::Failed(error.to_string())));
            }
            // Cluster mode: the owner node runs the object's alarm.
            Event::Alarm { .. } if matches!(error, TurnError::Moved { .. }) => {}
            // Put back for a later try.
            Event::Alarm { entry } => self.registry.scheduler.schedule(
                self.key,
                self.info.name.clone(),
                AlarmEntry {
                    due_ms: self.registry.scheduler.clock.now_ms() + 1000,
                    ..entry
                },
            ),
        }
    }

    /// A fetch in its own savepoint.
    pub(super) fn storage_error(&self, what: &str, error: &dyn std::fmt::Display) -> TurnError {
        let error_id = new_error_id();
        tracing::error!(namespace = %self.namespace.name, object = %self.info.id_text, error_id, "{what}: {error}");
        TurnError::Storage { error_id }
    }

    /// The error a failed commit answers: the disk is full, or storage failed.
    fn commit_error(&self, error: &anyhow::Error) -> TurnError {
        if !error.chain().any(crate::storage::is_disk_full) {
            return self.storage_error("commit failed, batch rolled back", error);
        }
        self.full_error("commit failed, batch rolled back", error)
    }

    /// The disk (or the database's size limit) is full: 507, with an id the log repeats.
    pub(super) fn full_error(&self, what: &str, error: &dyn std::fmt::Display) -> TurnError {
        let error_id = new_error_id();
        tracing::error!(namespace = %self.namespace.name, object = %self.info.id_text, error_id, "{what}: the disk or the database is full: {error:#}");
        TurnError::Full { error_id }
    }

    /// Answers every queued event with `error` (the object could not start).
    async fn refuse_all(&mut self, error: TurnError) {
        self.inbox.close();
        let (mut count, mut bytes) = (0, 0);
        while let Some(event) = self.inbox.recv().await {
            bytes += event.bytes();
            self.abandon(event, &error);
            count += 1;
        }
        self.registry
            .events_done(self.key, self.generation, count, bytes);
        self.registry.remove(self.key, self.generation);
    }
}

/// A short id that the response and the log line share.
pub fn new_error_id() -> String {
    hex::encode(rand::random::<[u8; 4]>())
}
