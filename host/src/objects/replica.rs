//! An actor's side of cluster mode (`cluster/`): claiming its object for this node before
//! it opens, what a stop does to its files (a cache of the replicated log), the error of a
//! node that cannot serve it now, and the sockets it records so that those of a dead node
//! get their close events after a takeover (`websocket/survivors.rs`).

use std::sync::{Arc, Mutex};

use super::actor::{new_error_id, Actor, Ended, Live};
use super::event::{Event, TurnError};
use crate::alarms::AlarmEntry;
use crate::cluster::{Claim, ObjectLog};
use crate::storage::{ObjectStorage, SocketRecord};
use crate::websocket::{abnormal_close, Survivor};

impl Actor {
    /// Cluster mode: the object was claimed for this node (its files now follow the log),
    /// or the error that refuses its events.
    pub(super) async fn claim(&self) -> Result<Option<ObjectLog>, TurnError> {
        let Some(cluster) = self.registry.cluster() else {
            return Ok(None);
        };
        let claimed = cluster
            .claim(
                &self.namespace.name,
                self.info.id.as_bytes(),
                &self.storage_path(),
            )
            .await;
        match claimed {
            Ok(Claim::Mine(replica)) => {
                // Its files may have been rebuilt: the WAL position this host remembers is
                // read again.
                self.registry.log.remember(self.log_key(), None);
                Ok(Some(replica))
            }
            Ok(Claim::Elsewhere(owner)) => Err(TurnError::Moved { owner }),
            Err(e) => Err(self.not_serving("cannot claim the object in the cluster", &e, false)),
        }
    }

    /// Cluster mode, once the object's storage is closed: a clean stop is remembered (the
    /// files are up to date with the log), any other end deletes the files.
    pub(super) async fn close_replica(
        &self,
        storage: Arc<Mutex<ObjectStorage>>,
        replica: ObjectLog,
        ended: Ended,
    ) {
        let path = self.storage_path();
        let clean = matches!(ended, Ended::Evicted | Ended::ShuttingDown);
        let closed = tokio::task::spawn_blocking(move || {
            drop(storage);
            if !clean {
                crate::cluster::discard_files(&path)?;
            }
            anyhow::Ok(())
        })
        .await;
        match closed {
            Ok(Ok(())) if clean => replica.cluster().closed_cleanly(
                &self.namespace.name,
                self.info.id.as_bytes(),
                &replica,
            ),
            Ok(Ok(())) => {}
            other => {
                tracing::error!(namespace = %self.namespace.name, object = %self.info.id_text, "cannot delete the files of an object that stepped down: {other:?}; the next activation rebuilds them")
            }
        }
    }

    /// Cluster mode: this node cannot serve the object now (503, try again).
    /// `may_have_run`: the event ran (its writes may be durable), so it is not to be retried.
    pub(super) fn not_serving(
        &self,
        what: &str,
        error: &dyn std::fmt::Display,
        may_have_run: bool,
    ) -> TurnError {
        let error_id = new_error_id();
        tracing::warn!(namespace = %self.namespace.name, object = %self.info.id_text, error_id, "{what}: {error:#}");
        TurnError::NotServing {
            reason: what.to_owned(),
            error_id,
            may_have_run,
        }
    }

    /// Cluster mode, before the object's first event: it may come from another node, whose
    /// scheduler had its alarm and whose sockets died with it (their close events run
    /// first). False if that batch failed the object.
    pub(super) async fn arrive_from_elsewhere(&self, live: &mut Live) -> bool {
        if live.replica.is_none() {
            return true;
        }
        if let Some(due) = live.known_alarm {
            let entry = AlarmEntry::new(due);
            let name = self.info.name.clone();
            self.registry.scheduler.schedule(self.key, name, entry);
        }
        let mut orphans = self.orphaned_sockets(live);
        orphans.is_empty() || self.run_batch(live, &mut orphans, false).await
    }

    /// The sockets the object recorded that are not on this node died with the node that
    /// had them. Each comes back as a closing socket; their close events are returned.
    fn orphaned_sockets(&self, live: &mut Live) -> Vec<Event> {
        let recorded = live
            .storage
            .lock()
            .expect("storage lock")
            .recorded_sockets();
        let recorded = match recorded {
            Ok(recorded) => recorded,
            Err(e) => {
                tracing::warn!(namespace = %self.namespace.name, object = %self.info.id_text, "cannot read the object's recorded sockets: {e}; their close events are not delivered");
                return Vec::new();
            }
        };
        let hub = &self.registry.hub;
        let mut events = Vec::new();
        for (id, tags, attachment) in recorded.iter().cloned() {
            if hub.has_socket(self.key, id) {
                continue;
            }
            let survivor = Survivor {
                id,
                tags,
                attachment,
            };
            events.push(Event::WebSocket {
                socket: hub.restore_closing(self.key, survivor),
                event: abnormal_close(),
            });
        }
        live.recorded_sockets = Some(recorded);
        events
    }

    /// Cluster mode, before a batch commits: the object's sockets, if they changed, are
    /// recorded in the batch. Gives the records written, which are the object's once the
    /// batch has committed.
    pub(super) fn record_sockets(&self, live: &Live) -> anyhow::Result<Option<Vec<SocketRecord>>> {
        if live.replica.is_none() {
            return Ok(None);
        }
        let hub = &self.registry.hub;
        let changed = hub.take_sockets_changed(self.key);
        if !changed && live.closed.is_empty() && live.recorded_sockets.is_some() {
            return Ok(None);
        }
        let now: Vec<SocketRecord> = hub
            .survivors(self.key, |id| {
                live.closed.contains(&id) || live.pinned.contains(&id)
            })
            .into_iter()
            .map(|s| (s.id, s.tags, s.attachment))
            .collect();
        if live.recorded_sockets.as_ref() == Some(&now) {
            return Ok(None);
        }
        live.storage
            .lock()
            .expect("storage lock")
            .record_sockets(&now)?;
        Ok(Some(now))
    }
}
