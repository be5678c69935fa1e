//! The output gate of `durability = "full"` objects, with pipelined group commit.
//!
//! A batch's COMMIT only appends to the WAL (`storage/wal_sync.rs`); its outputs (responses,
//! WebSocket sends, accepted and forgotten sockets, the alarm bookkeeping) wait here, in
//! order, until an fsync of the WAL that started after that COMMIT has finished. Meanwhile
//! the actor runs the next batches, whose COMMITs the next fsync covers: one fsync is in
//! flight at a time and covers every batch committed before it started. This is Cloudflare's
//! output gate: events keep running while writes are being made durable, and nothing they
//! caused leaves the object before them.
//!
//! A batch that only read waits for the writes it may have seen (`needs`), no more. If an
//! fsync fails, nothing waiting is known to be durable: every waiting response gets an
//! error, its sockets and sends are dropped, and the actor stops, so that the next event
//! opens the object again from what the disk has.

use std::collections::VecDeque;
use std::io;
use std::time::{Duration, Instant};

use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::actor::{Actor, Live};
use super::event::{AlarmOutcome, FetchReply, TurnError};
use crate::metrics::ns;
use crate::storage::WalPoint;
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
    /// The fsync in flight, the `committed` count and the WAL position it covers. It returns
    /// how long the fsync itself took (without the hand-offs to its thread and back).
    syncing: Option<(
        u64,
        Option<WalPoint>,
        JoinHandle<(io::Result<()>, Duration)>,
    )>,
}

impl Gate {
    pub fn is_empty(&self) -> bool {
        self.waiting.is_empty() && self.syncing.is_none()
    }

    /// Resolves when the fsync in flight finishes (never, if there is none).
    pub async fn synced(&mut self) -> (io::Result<()>, Duration) {
        match &mut self.syncing {
            Some((_, _, handle)) => handle.await.unwrap_or_else(|e| {
                let error = io::Error::other(format!("the fsync task failed: {e}"));
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

    /// Starts an fsync covering every batch committed so far, unless one is in flight.
    fn start_sync(&self, live: &mut Live) {
        if live.gate.syncing.is_some() || live.gate.synced >= live.gate.committed {
            return;
        }
        let (wal, point) = {
            let storage = live.storage.lock().expect("storage lock");
            (storage.wal_sync(), storage.wal_point())
        };
        let Some(wal) = wal else {
            // No separate sync (relaxed durability): the commit was all there is.
            live.gate.synced = live.gate.committed;
            return;
        };
        let covers = live.gate.committed;
        let handle = tokio::task::spawn_blocking(move || {
            let started = Instant::now();
            (wal.sync(), started.elapsed())
        });
        live.gate.syncing = Some((covers, point, handle));
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
            let error = self.storage_error("fsync of the WAL failed; writes not acknowledged", &e);
            live.failed = Some(format!("an fsync of its WAL failed: {e}"));
            live.instance = None;
            let hub = &self.registry.hub;
            for (_, settled) in live.gate.waiting.drain(..) {
                for (reply, _) in settled.replies {
                    let _ = reply.send(Err(error.clone()));
                }
                for socket in settled.accepted.into_iter().chain(settled.closed) {
                    hub.remove(socket);
                }
            }
            return false;
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

    /// Releases, in order, the waiting batches whose writes are durable.
    async fn release_durable(&self, live: &mut Live) {
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
