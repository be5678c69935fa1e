//! This node's etcd lease: granted at start, renewed every third of its time to live, and
//! granted anew when it was lost (the node was paused or cut off for longer than the lease).
//!
//! What the node may serve hangs on it: an object's claim is tied to the lease it was made
//! under, and the node counts a lease as its own only until the end of the time to live
//! that etcd granted at the last renewal it *sent*: a node woken from a pause finds its
//! lease expired by its own clock before it could hear so from etcd.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use etcd_client::{Client, PutOptions};
use tokio_util::sync::CancellationToken;

/// The lease this node holds now, and until when it may count on it.
pub struct Lease {
    id: AtomicI64,
    valid_until: Mutex<Instant>,
    ttl: Duration,
}

/// What the node announces under its lease: `key` = its advertised address.
pub struct Announcement {
    pub key: String,
    pub address: String,
}

impl Lease {
    /// Grants a lease of `ttl` and announces the node under it.
    pub async fn grant(
        etcd: &mut Client,
        ttl: Duration,
        announce: &Announcement,
    ) -> anyhow::Result<Lease> {
        let sent = Instant::now();
        let id = grant_and_announce(etcd, ttl, announce).await?;
        Ok(Lease {
            id: AtomicI64::new(id),
            valid_until: Mutex::new(sent + safe(ttl)),
            ttl,
        })
    }

    /// The lease's id now.
    pub fn id(&self) -> i64 {
        self.id.load(Ordering::Acquire)
    }

    /// Whether `id` is this node's lease and still valid by this node's clock.
    pub fn holds(&self, id: i64) -> bool {
        self.id() == id && Instant::now() < *self.valid_until.lock().expect("lease lock")
    }

    /// Renews the lease until `stop`; a lost lease is replaced by a new one (and `on_lost`
    /// runs first, to drop everything held under the old one).
    pub async fn keep(
        self: Arc<Self>,
        mut etcd: Client,
        announce: Announcement,
        on_lost: impl Fn() + Send + Sync,
        stop: CancellationToken,
    ) {
        let every = self.ttl / 3;
        loop {
            tokio::select! {
                _ = tokio::time::sleep(every) => {}
                _ = stop.cancelled() => return,
            }
            let id = self.id();
            let sent = Instant::now();
            match renew(&mut etcd, id, self.ttl).await {
                Ok(ttl) if ttl > 0 => {
                    let granted = Duration::from_secs(ttl as u64);
                    *self.valid_until.lock().expect("lease lock") = sent + safe(granted);
                    continue;
                }
                Ok(_) => tracing::warn!("cluster: lease {id:x} expired; this node's objects are given up"),
                Err(e) if Instant::now() < *self.valid_until.lock().expect("lease lock") => {
                    tracing::warn!("cluster: cannot renew lease {id:x}: {e:#}; trying again");
                    continue;
                }
                Err(e) => tracing::warn!("cluster: lease {id:x} could not be renewed in time ({e:#}); this node's objects are given up"),
            }
            // Lost: whatever was held under it is dropped before a new lease can be used.
            on_lost();
            loop {
                let sent = Instant::now();
                match grant_and_announce(&mut etcd, self.ttl, &announce).await {
                    Ok(new) => {
                        *self.valid_until.lock().expect("lease lock") = sent + safe(self.ttl);
                        self.id.store(new, Ordering::Release);
                        tracing::info!("cluster: new lease {new:x}");
                        break;
                    }
                    Err(e) => {
                        tracing::warn!("cluster: cannot get a new lease: {e:#}; trying again");
                        tokio::select! {
                            _ = tokio::time::sleep(Duration::from_millis(500)) => {}
                            _ = stop.cancelled() => return,
                        }
                    }
                }
            }
        }
    }

    /// Gives the lease back (a graceful stop): etcd deletes every claim made under it at once.
    pub async fn revoke(&self, etcd: &mut Client) {
        let id = self.id();
        *self.valid_until.lock().expect("lease lock") = Instant::now();
        if let Err(e) = etcd.lease_revoke(id).await {
            tracing::warn!("cluster: cannot revoke lease {id:x}: {e}; it expires by itself");
        }
    }
}

/// The part of a granted time to live the node counts on: a margin for the time a renewal
/// takes to reach etcd is left out.
fn safe(ttl: Duration) -> Duration {
    ttl.mul_f64(0.8)
}

async fn grant_and_announce(
    etcd: &mut Client,
    ttl: Duration,
    announce: &Announcement,
) -> anyhow::Result<i64> {
    let id = etcd
        .lease_grant(ttl.as_secs().max(1) as i64, None)
        .await?
        .id();
    etcd.put(
        announce.key.as_bytes(),
        announce.address.as_bytes(),
        Some(PutOptions::new().with_lease(id)),
    )
    .await?;
    Ok(id)
}

/// One renewal: the time to live etcd granted (0: the lease is gone).
async fn renew(etcd: &mut Client, id: i64, ttl: Duration) -> anyhow::Result<i64> {
    let renewal = async {
        let (mut keeper, mut responses) = etcd.lease_keep_alive(id).await?;
        keeper.keep_alive().await?;
        match responses.message().await? {
            Some(response) => anyhow::Ok(response.ttl()),
            None => anyhow::bail!("etcd closed the renewal stream"),
        }
    };
    tokio::time::timeout(ttl / 3, renewal)
        .await
        .map_err(|_| anyhow::anyhow!("no answer from etcd within {:?}", ttl / 3))?
}
