//! Which node an object lives on: the first to claim it, for as long as that node's lease
//! lives (the reference's location affinity). A claim is an etcd key created only if absent,
//! tied to the claimer's lease; its create revision is the object's epoch.

use std::path::Path;
use std::sync::Arc;

use etcd_client::{Compare, CompareOp, PutOptions, Txn, TxnOp, TxnOpResponse};

use super::pages;
use super::rebuild::Replay;
use super::replica::Refused;
use super::{Cluster, ObjectLog};

/// Where an activation stands.
pub enum Claim {
    /// This node owns the object now: its files are up to date with the log.
    Mine(ObjectLog),
    /// Another node owns it.
    Elsewhere(String),
}

/// Attempts at a takeover that other appends keep overtaking before it gives up.
const TAKEOVER_ATTEMPTS: usize = 10;

impl Cluster {
    /// Claims the object for this node, or finds its owner. When this node owns it, its
    /// database file at `db` is brought up to the log's last commit, and a takeover is
    /// appended if the log's last message was written under another epoch.
    pub async fn claim(
        self: &Arc<Self>,
        namespace: &str,
        id: &[u8; 32],
        db: &Path,
    ) -> anyhow::Result<Claim> {
        let key = format!("/{}/claims/{namespace}/{}", self.name, hex::encode(id));
        let subject = self.log.subject(namespace, id);
        let object = (namespace.to_owned(), *id);
        let clean = self.clean.lock().expect("clean lock").remove(&object);
        if let Some(close) = clean {
            // Closed cleanly here under the lease this node still holds: the claim is still
            // this node's (it goes only with that lease), so nobody else can have written
            // to the object's log since. Neither etcd nor the log is asked.
            if close.lease == self.lease.id() && self.lease.holds(close.lease) {
                let lease_and_epoch = (close.lease, close.epoch);
                let log = ObjectLog::start(self.clone(), subject, lease_and_epoch, close.last, 0);
                return Ok(Claim::Mine(log));
            }
        }
        let (lease, epoch) = loop {
            let lease = self.lease.id();
            if !self.lease.holds(lease) {
                anyhow::bail!("this node's lease in etcd is not current: it serves no object until it has a new one");
            }
            let txn = Txn::new()
                .when(vec![Compare::create_revision(
                    key.as_bytes(),
                    CompareOp::Equal,
                    0,
                )])
                .and_then(vec![TxnOp::put(
                    key.as_bytes(),
                    self.node.as_bytes(),
                    Some(PutOptions::new().with_lease(lease)),
                )])
                .or_else(vec![TxnOp::get(key.as_bytes(), None)]);
            let response = self.etcd.clone().txn(txn).await?;
            if response.succeeded() {
                let revision = response.header().map(|h| h.revision()).unwrap_or_default();
                break (lease, revision);
            }
            let kv = response.op_responses().into_iter().find_map(|op| match op {
                TxnOpResponse::Get(get) => get.kvs().first().cloned(),
                _ => None,
            });
            let Some(kv) = kv else {
                continue; // Gone meanwhile (its lease expired): claim again.
            };
            let owner = kv.value_str()?.to_owned();
            if owner != self.node {
                let owner = super::Owner {
                    node: owner,
                    lease: kv.lease(),
                };
                self.remember_owner(namespace, id, owner.clone());
                return Ok(Claim::Elsewhere(owner.node));
            }
            if kv.lease() == lease {
                break (lease, kv.create_revision());
            }
            // Claimed by this node under a lease it has given up: that lease goes now.
            tracing::info!(
                "cluster: revoking this node's former lease {:x}",
                kv.lease()
            );
            let _ = self.etcd.clone().lease_revoke(kv.lease()).await;
        };
        let mut last = self.log.last(&subject).await?;
        let mut sequence = last.map_or(0, |l| l.sequence);
        let mut replay = match clean {
            Some(close) if close.lease == lease && close.last == sequence => None,
            _ => {
                self.stats.rebuilds.inc();
                let mut replay = Replay::start(db)?;
                sequence = self
                    .log
                    .read(&subject, 0, sequence, |entry| replay.apply(entry))
                    .await?;
                Some(replay)
            }
        };
        let mut attempts = 0;
        while last.and_then(|l| l.epoch) != Some(epoch) {
            match self.log.append(&subject, epoch, sequence, None).await {
                Ok(takeover) => {
                    self.stats.takeovers.inc();
                    sequence = takeover;
                    break;
                }
                Err(Refused::Fenced(_)) if attempts < TAKEOVER_ATTEMPTS => {
                    // A former owner appended after what was read: read on, then again.
                    attempts += 1;
                    last = self.log.last(&subject).await?;
                    let until = last.map_or(0, |l| l.sequence);
                    let (mut current, after) = match replay.take() {
                        Some(current) => (current, sequence),
                        // Taken as clean: now it is rebuilt after all.
                        None => (Replay::start(db)?, 0),
                    };
                    sequence = self
                        .log
                        .read(&subject, after, until, |entry| current.apply(entry))
                        .await?;
                    replay = Some(current);
                }
                Err(e) => return Err(e.into()),
            }
        }
        let replayed = replay.as_ref().map_or(0, |r| r.bytes);
        self.stats.rebuilt_bytes.inc_by(replayed);
        if let Some(replay) = replay {
            replay.finish().await?;
        }
        let log = ObjectLog::start(self.clone(), subject, (lease, epoch), sequence, replayed);
        // A long history was just read: the rebuilt file, as it is, is the object's snapshot,
        // so that the next rebuild reads less.
        let size = std::fs::metadata(db).map_or(0, |m| m.len());
        if replayed > 0 && log.wants_snapshot(size) {
            let db = db.to_owned();
            let image = tokio::task::spawn_blocking(move || std::fs::read(db)).await?;
            match image.map(|image| (pages::page_size_of(&image), image)) {
                Ok((Some(page_size), image)) => log.snapshot(page_size, &image),
                Ok((None, _)) => tracing::warn!(
                    "cluster: a rebuilt database has no valid header; no snapshot taken"
                ),
                Err(e) => {
                    tracing::warn!("cluster: cannot read a rebuilt database for its snapshot: {e}")
                }
            }
        }
        Ok(Claim::Mine(log))
    }
}
