//! The output gate of `durability = "full"` objects, with pipelined group commit.
//!
//! A batch's COMMIT only appends to the object's WAL; its outputs (responses, WebSocket
//! sends, accepted and forgotten sockets, the alarm bookkeeping) wait here, in order, until
//! the frames it appended are durable in the host's commit log (`commit_log/`): the gate
//! reads them back from the WAL, appends them to the log, and waits for the log's next
//! fsync, which covers every object that appended meanwhile. Meanwhile the actor runs the
//! next batches, whose frames the next append carries: one append is in flight per object
//! and covers every batch committed before it. This is Cloudflare's output gate: events
//! keep running while writes are being made durable, and nothing they caused leaves the
//! object before them.
//!
//! A batch that only read waits for the writes it may have seen (`needs`), no more. If an
//! fsync fails, nothing waiting is known to be durable: every waiting response gets an
//! error, its sockets and sends are dropped, and the actor stops, so that the next event
//! opens the object again from what the disk has. If the log refused the append because the
//! disk is full, the waiting responses get 507 and the object goes back to its last durable
//! commit in place: the next events run on it, and write again once there is space.

use std::collections::VecDeque;
use std::io;
use std::time::Duration;

use tokio::sync::oneshot;

use super::actor::{Actor, Live};
use super::event::{AlarmOutcome, FetchReply, TurnError};
use crate::cluster::ObjectLog;
use crate::commit_log::{Body, Record, Synced, Ticket};
use crate::metrics::ns;
use crate::storage::{ObjectStorage, WalPoint};
use crate::websocket::{Outbound, SocketId};

pub(super) type Reply = (
    oneshot::Sender<Result<FetchReply, TurnError>>,
    Result<FetchReply, TurnError>,
);

/// What a committed batch does once its writes are durable.
#[derive(Default)]
pub(super) struct Settled {
    pub replies: Vec<Reply>,
    pub outbox: Vec<(SocketId, Outbound)>,
    pub accepted: Vec<SocketId>,
    pub closed: Vec<SocketId>,
    pub new_alarm: Option<Option<u64>>,
    pub alarm_outcomes: Vec<AlarmOutcome>,
}

/// The batches waiting for an fsync, and the fsync in flight.
#[derive(Default)]
pub(super) struct Gate {
    waiting: VecDeque<(u64, Settled)>,
    /// Batches with writes committed so far, and how many of them are known durable.
    committed: u64,
    synced: u64,
    /// The append in flight, the `committed` count and the WAL position it covers. Its ticket
    /// tells how long the log's fsync itself took.
    syncing: Option<(u64, Option<WalPoint>, Ticket)>,
}

impl Gate {
    pub fn is_empty(&self) -> bool {
        self.waiting.is_empty() && self.syncing.is_none()
    }

    /// Resolves when the append in flight is durable (never, if there is none).
    pub async fn synced(&mut self) -> Synced {
        match &mut self.syncing {
            Some((_, _, ticket)) => ticket.await.unwrap_or_else(|_| {
                let error =
                    io::Error::other("the commit log stopped before the append was durable");
                (Err(error), Duration::ZERO)
            }),
            None => std::future::pending().await,
        }
    }
}

impl Actor {
    /// A batch was committed (`wrote`: with writes): its outputs wait for the fsync.
    pub(super) async fn settle(&self, live: &mut Live, wrote: bool, settled: Settled) {
        if wrote {
            live.gate.committed += 1;
        }
        let needs = live.gate.committed;
        live.gate.waiting.push_back((needs, settled));
        self.start_sync(live);
        self.release_durable(live).await;
    }

    /// Appends to the commit log every frame committed so far, unless an append is in flight.
    fn start_sync(&self, live: &mut Live) {
        if live.gate.syncing.is_some() || live.gate.synced >= live.gate.committed {
            return;
        }
        let (frames, point) = {
            let mut storage = live.storage.lock().expect("storage lock");
            if !storage.syncs_apart() {
                // Relaxed durability: the commit was all there is.
                live.gate.synced = live.gate.committed;
                return;
            }
            (storage.take_logged_frames(), storage.wal_point())
        };
        let ticket = match frames {
            Ok(Some(frames)) => self.sink(live).append(frames),
            Ok(None) => ready((Ok(()), Duration::ZERO)),
            Err(e) => ready((Err(e), Duration::ZERO)),
        };
        live.gate.syncing = Some((live.gate.committed, point, ticket));
    }

    /// The fsync in flight finished with `result` after `took`. False if the object must
    /// stop.
    pub(super) async fn on_synced(
        &self,
        live: &mut Live,
        (result, took): (io::Result<()>, Duration),
    ) -> bool {
        let Some((covers, point, _)) = live.gate.syncing.take() else {
            return true;
        };
        self.registry
            .metrics
            .wal_sync_duration
            .get_or_create(&ns(&self.namespace.name))
            .observe(took.as_secs_f64());
        if let Err(e) = result {
            let full = crate::storage::is_disk_full(&e);
            let error = match full {
                true => {
                    self.full_error("the commit log could not take the writes; rolled back", &e)
                }
                false => self.storage_error(
                    "the commit log could not make the writes durable; not acknowledged",
                    &e,
                ),
            };
            live.instance = None;
            let hub = &self.registry.hub;
            let mut alarm_outcomes = Vec::new();
            for (_, settled) in live.gate.waiting.drain(..) {
                for (reply, _) in settled.replies {
                    let _ = reply.send(Err(error.clone()));
                }
                for socket in settled.accepted.into_iter().chain(settled.closed) {
                    hub.remove(socket);
                }
                alarm_outcomes.extend(settled.alarm_outcomes);
            }
            if !full {
                live.failed = Some(format!("its writes could not be made durable: {e}"));
                return false;
            }
            if let Err(e) = self.roll_back(live).await {
                live.failed = Some(format!(
                    "it cannot go back to its last durable commit after a full disk: {e:#}"
                ));
                return false;
            }
            self.alarm_after_failed_commit(live, &alarm_outcomes).await;
            return true;
        }
        live.gate.synced = live.gate.synced.max(covers);
        if let Some(point) = point {
            live.storage
                .lock()
                .expect("storage lock")
                .mark_durable(point);
        }
        self.release_durable(live).await;
        self.start_sync(live);
        true
    }

    /// The log could not take the object's commits (the disk is full): the object goes back
    /// to its last durable commit, as a restart would find it. Its store closes without a
    /// checkpoint, its WAL is cut after the last logged commit (`ObjectStorage::fail_stop`),
    /// and it opens again; the instance, which saw the lost writes, is gone already.
    async fn roll_back(&self, live: &mut Live) -> anyhow::Result<()> {
        live.gate = Gate::default();
        let placeholder = ObjectStorage::open_in_memory(self.namespace.limits)?;
        let failed = std::mem::replace(
            &mut *live.storage.lock().expect("storage lock"),
            placeholder,
        );
        self.registry.log.remember(self.log_key(), None);
        tokio::task::spawn_blocking(move || failed.fail_stop()).await??;
        let reopened = self.open(live.replica.clone()).await?;
        live.storage = reopened.storage;
        tracing::warn!(namespace = %self.namespace.name, object = %self.info.id_text, "rolled back to its last durable commit: the commit log could not take its writes");
        Ok(())
    }

    /// Waits until everything committed is durable and released. False if an fsync failed.
    pub(super) async fn wait_durable(&self, live: &mut Live) -> bool {
        loop {
            self.start_sync(live);
            if live.gate.syncing.is_none() {
                self.release_durable(live).await;
                return true;
            }
            let result = live.gate.synced().await;
            if !self.on_synced(live, result).await {
                return false;
            }
        }
    }

    /// Where the object's commits become durable: the host's log, or in cluster mode the
    /// replicated log.
    pub(super) fn sink(&self, live: &Live) -> Sink {
        match &live.replica {
            Some(replica) => Sink::Replica(replica.clone()),
            None => Sink::Local(self.registry.log.clone(), self.log_key()),
        }
    }

    /// Full durability: SQLite's automatic checkpoints are off (they would not sync), so the
    /// WAL is checkpointed here, with a sync of the database file, every ~1,000 pages written.
    /// A checkpoint copies every frame into the database file, so it waits until every
    /// commit is durable (after a failed sync nothing undurable may be there). A failed
    /// checkpoint stops the object like a failed WAL sync.
    pub(super) async fn checkpoint_if_due(&self, live: &mut Live) {
        if !live.storage.lock().expect("storage lock").checkpoint_due() {
            return;
        }
        if !self.wait_durable(live).await {
            return;
        }
        let storage = live.storage.clone();
        // Cluster mode: a checkpoint that put every commit into the database file is when a
        // snapshot of the object costs least (`cluster::ObjectLog::snapshot`).
        let replica = live.replica.clone();
        let done = tokio::task::spawn_blocking(move || {
            let mut storage = storage.lock().expect("storage lock");
            storage.checkpoint()?;
            let size = storage.database_size().unwrap_or(0);
            match replica {
                Some(replica) if replica.wants_snapshot(size) => match storage.database_image() {
                    Ok(Some((page_size, image))) => replica.snapshot(page_size, &image),
                    Ok(None) => {}
                    // The log keeps growing until a later checkpoint takes the snapshot.
                    Err(e) => {
                        tracing::warn!("cannot read the object's database for a snapshot: {e}")
                    }
                },
                _ => {}
            }
            Ok::<_, crate::storage::StorageError>(())
        })
        .await;
        match done {
            Ok(Ok(())) => {}
            // Only durable frames are copied, and the WAL keeps them all: the next due
            // checkpoint tries again.
            Ok(Err(e)) if crate::storage::is_disk_full(&e) => {
                tracing::warn!(namespace = %self.namespace.name, object = %self.info.id_text, "WAL checkpoint postponed, the disk is full: {e}");
            }
            _ => {
                tracing::error!(namespace = %self.namespace.name, object = %self.info.id_text, "WAL checkpoint failed: {done:?}");
                live.failed = Some(format!("a checkpoint of its WAL failed: {done:?}"));
            }
        }
    }

    /// Releases, in order, the waiting batches whose writes are durable.
    async fn release_durable(&self, live: &mut Live) {
        if live.replica.as_ref().is_some_and(|r| !r.is_current()) && !live.gate.waiting.is_empty() {
            // Cluster mode, and this node's lease ran out (it was paused or cut off): another
            // node may own the object by now, so nothing here may be answered from it.
            let error = self.not_serving("this node's lease expired", &"not answered", true);
            for (_, settled) in live.gate.waiting.drain(..) {
                for (reply, _) in settled.replies {
                    let _ = reply.send(Err(error.clone()));
                }
                for socket in settled.accepted.into_iter().chain(settled.closed) {
                    self.registry.hub.remove(socket);
                }
            }
            live.instance = None;
            live.failed = Some("this node's lease in etcd expired".into());
            return;
        }
        while live
            .gate
            .waiting
            .front()
            .is_some_and(|(needs, _)| *needs <= live.gate.synced)
        {
            let (_, settled) = live.gate.waiting.pop_front().expect("checked above");
            let hub = &self.registry.hub;
            hub.flush(settled.outbox);
            for socket in settled.closed {
                hub.remove(socket);
            }
            for (reply, mut outcome) in settled.replies {
                // From here an accepted socket whose client is gone closes for the object.
                if let Ok(FetchReply {
                    accepted: Some(socket),
                    ..
                }) = &mut outcome
                {
                    let (ns_index, id) = self.key;
                    let name = self.info.name.as_deref();
                    let owner = self
                        .registry
                        .socket_owner(&self.namespace, ns_index, id, name);
                    socket.arm(hub.clone(), owner);
                }
                let _ = reply.send(outcome);
            }
            self.alarm_after_commit(live, settled.new_alarm, &settled.alarm_outcomes)
                .await;
        }
    }
}

/// A ticket that has resolved already.
fn ready(synced: Synced) -> Ticket {
    let (tx, rx) = oneshot::channel();
    let _ = tx.send(synced);
    rx
}

/// Where an object's commits become durable.
pub(super) enum Sink {
    /// The host's commit log.
    Local(
        std::sync::Arc<crate::commit_log::CommitLog>,
        crate::commit_log::ObjectKey,
    ),
    /// Cluster mode: the replicated log.
    Replica(ObjectLog),
}

impl Sink {
    pub(super) fn append(&self, frames: crate::commit_log::WalFrames) -> Ticket {
        match self {
            Sink::Local(log, object) => log.append(Record {
                object: object.clone(),
                body: Body::Frames(frames),
            }),
            Sink::Replica(replica) => replica.append(&frames),
        }
    }
}

/// Appends what `storage` committed since its last append to the log and waits until it is
/// durable (blocking: for a blocking thread). For writes made outside a batch's gate.
pub(super) fn log_blocking(
    sink: &Sink,
    storage: &mut crate::storage::ObjectStorage,
) -> io::Result<()> {
    let point = storage.wal_point();
    let Some(frames) = storage.take_logged_frames()? else {
        return Ok(());
    };
    let ticket = sink.append(frames);
    let (result, _) = ticket.blocking_recv().unwrap_or_else(|_| {
        (
            Err(io::Error::other("the commit log stopped")),
            Duration::ZERO,
        )
    });
    if let (Ok(()), Some(point)) = (&result, point) {
        storage.mark_durable(point);
    }
    result
}
