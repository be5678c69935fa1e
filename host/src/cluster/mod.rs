//! Cluster mode (`[cluster]` in `wdo.toml`): many hosts serve one set of namespaces, and
//! each object still runs at most once, cluster-wide, with no acknowledged write lost when a
//! node dies. It rests on two engines and no protocol of wdo's own:
//!
//! - **etcd** for membership, placement and fencing. Each node holds a lease it renews
//!   (`lease.rs`) and announces its address under it (`/<name>/nodes/<node>`). An object
//!   belongs to the node that claimed it first (`/<name>/claims/<namespace>/<id>`, created in
//!   a transaction only if absent, tied to the claimer's lease: it goes when the lease does).
//!   The claim's revision is the object's epoch (`placement.rs`).
//! - **NATS JetStream** for the commits (`replica.rs`): an object's commit is acknowledged
//!   once the cluster's stream holds it on a quorum, and the stream refuses an append that
//!   does not follow the object's last message, which a new owner's takeover message moves:
//!   a paused or cut-off former owner can never get a commit in after a takeover.
//!
//! The data directory is a cache: a node that starts wipes its object files, and an object
//! activating on a node is rebuilt from the log (`rebuild.rs`, `pages.rs`) unless this node
//! closed it cleanly under the same lease and nothing came after.
//!
//! May import: `commit_log` (the frames of a commit, the ticket an append resolves),
//! `config`, `metrics`. Knows nothing of SQLite's API, wasm, actors or HTTP.

mod alarms;
mod lease;
mod pages;
mod placement;
mod rebuild;
mod replica;

use std::collections::HashMap;
use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use etcd_client::{Client, ConnectOptions};
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use crate::commit_log::{Synced, Ticket, WalFrames};
use crate::config::ClusterConfig;
use crate::metrics::ClusterCounters;
pub use alarms::DueAlarm;
use lease::{Announcement, Lease};
pub use placement::Claim;
pub use replica::Refused;

/// An object this node closed cleanly: under which lease and epoch, after which message.
#[derive(Debug, Clone, Copy)]
struct CleanClose {
    lease: i64,
    epoch: i64,
    last: u64,
}

/// An object as the cluster names it: its namespace and id.
type ObjectRef = (String, [u8; 32]);

/// Another node that owns an object, and the lease its claim is tied to (which names that
/// node's run: it changes when the node restarts).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    pub node: String,
    pub lease: i64,
}

/// This node's membership of its cluster.
pub struct Cluster {
    pub node: String,
    pub advertise: String,
    name: String,
    etcd: Client,
    lease: Arc<Lease>,
    log: replica::Log,
    /// Owners of objects this node forwarded to (never itself), with the lease of their
    /// claim: a request does not ask etcd.
    owners: Mutex<HashMap<ObjectRef, Owner>>,
    /// Node → advertised address.
    addresses: Mutex<HashMap<String, String>>,
    /// Objects this node closed cleanly: the lease and epoch they were held under and their
    /// last message. Their files need no rebuild if nothing came after, and while that lease
    /// holds, nothing can have (their claims are this node's).
    clean: Mutex<HashMap<ObjectRef, CleanClose>>,
    stop: CancellationToken,
    /// What the node counts (also in `/metrics`).
    pub stats: ClusterCounters,
    /// How long a node waits for a dead owner's lease to expire before it gives up a request.
    pub lease_ttl: Duration,
    /// What the nodes' calls to one another carry.
    secret: String,
}

impl Cluster {
    /// Joins the cluster: connects to etcd and NATS, takes a lease, announces this node and
    /// keeps the lease renewed.
    pub async fn join(
        config: &ClusterConfig,
        stats: ClusterCounters,
    ) -> anyhow::Result<Arc<Cluster>> {
        let endpoints: Vec<String> = config
            .etcd
            .iter()
            .map(|e| e.strip_prefix("http://").unwrap_or(e).to_owned())
            .collect();
        let options = ConnectOptions::new()
            .with_connect_timeout(Duration::from_secs(5))
            .with_timeout(Duration::from_secs(5))
            .with_keep_alive(Duration::from_secs(2), Duration::from_secs(2));
        let mut etcd = tokio::time::timeout(
            Duration::from_secs(20),
            Client::connect(&endpoints, Some(options)),
        )
        .await
        .map_err(|_| anyhow::anyhow!("no answer from etcd at {} within 20s", endpoints.join(", ")))?
        .with_context(|| format!("cannot connect to etcd at {}", endpoints.join(", ")))?;
        let announce = announcement(&config.name, &config.node_id, &config.advertise);
        let lease = Lease::grant(&mut etcd, config.lease, &announce)
            .await
            .context("cannot take a lease in etcd")?;
        let log = replica::Log::open(&config.nats, &config.name, config.replicas).await?;
        let secret = agree(
            &etcd,
            &format!("/{}/node-secret", config.name),
            hex::encode(rand::random::<[u8; 32]>()).as_bytes(),
        )
        .await
        .context("cannot agree on the nodes' secret in etcd")?;
        let secret = String::from_utf8(secret).context("the nodes' secret in etcd is not text")?;

        let cluster = Arc::new(Cluster {
            node: config.node_id.clone(),
            advertise: config.advertise.clone(),
            name: config.name.clone(),
            etcd: etcd.clone(),
            lease: Arc::new(lease),
            log,
            owners: Mutex::default(),
            addresses: Mutex::default(),
            clean: Mutex::default(),
            stop: CancellationToken::new(),
            stats,
            lease_ttl: config.lease,
            secret,
        });
        let weak = Arc::downgrade(&cluster);
        let on_lost = move || {
            if let Some(cluster) = weak.upgrade() {
                cluster.stats.leases_lost.inc();
                cluster.owners.lock().expect("owners lock").clear();
                cluster.clean.lock().expect("clean lock").clear();
            }
        };
        tokio::spawn(watch_nodes(
            Arc::downgrade(&cluster),
            etcd.clone(),
            format!("/{}/nodes/", config.name),
            cluster.stop.clone(),
        ));
        tokio::spawn(
            cluster
                .lease
                .clone()
                .keep(etcd, announce, on_lost, cluster.stop.clone()),
        );
        tracing::info!(
            "cluster {:?}: node {:?} joined at {} (lease {:x})",
            config.name,
            config.node_id,
            config.advertise,
            cluster.lease.id()
        );
        Ok(cluster)
    }

    /// Marks this node's run (its lease) as leaving, for a minute (a graceful stop, before its
    /// listeners close): a node whose forwarded request found its connection to this run
    /// closed then knows the request was never read (a draining node answers every request
    /// it read), so it may send it elsewhere.
    pub async fn mark_leaving(&self) {
        let mut etcd = self.etcd.clone();
        let marked = async {
            let mark = etcd.lease_grant(60, None).await?.id();
            let key = leaving_key(&self.name, &self.node);
            let options = etcd_client::PutOptions::new().with_lease(mark);
            etcd.put(key, self.lease.id().to_string(), Some(options))
                .await
        };
        if let Err(e) = marked.await {
            tracing::warn!("cluster: cannot mark this node as leaving in etcd: {e}");
        }
    }

    /// Whether the run of `node` that holds `lease` is stopping gracefully (or did).
    pub async fn is_leaving(&self, node: &str, lease: i64) -> bool {
        let key = leaving_key(&self.name, node);
        match self.etcd.clone().get(key, None).await {
            Ok(response) => {
                response
                    .kvs()
                    .first()
                    .and_then(|kv| kv.value_str().ok()?.parse::<i64>().ok())
                    == Some(lease)
            }
            Err(_) => false,
        }
    }

    /// Leaves the cluster (a graceful stop, after every object closed): the lease is revoked,
    /// so that the other nodes take this node's objects over at once.
    pub async fn leave(&self) {
        self.stop.cancel();
        self.lease.revoke(&mut self.etcd.clone()).await;
        tracing::info!("cluster: node {:?} left", self.node);
    }

    /// The namespace's id key as the cluster agreed it: the first node's key wins.
    pub async fn shared_id_key(&self, namespace: &str, local: &[u8]) -> anyhow::Result<Vec<u8>> {
        let key = format!("/{}/id-keys/{namespace}", self.name);
        agree(&self.etcd, &key, local).await
    }

    /// The secret the nodes' calls to one another carry (agreed in etcd when the first node
    /// joined): only a node of this cluster can make an object answer an RPC call.
    pub fn node_secret(&self) -> &str {
        &self.secret
    }

    /// Whether this node's lease is valid now.
    pub fn is_serving(&self) -> bool {
        self.lease.holds(self.lease.id())
    }

    /// The owner this node last saw for an object, if another node.
    pub fn cached_owner(&self, namespace: &str, id: &[u8; 32]) -> Option<Owner> {
        let key = (namespace.to_owned(), *id);
        self.owners.lock().expect("owners lock").get(&key).cloned()
    }

    /// Forgets the owner seen for an object (a forward failed, or it moved).
    pub fn forget_owner(&self, namespace: &str, id: &[u8; 32]) {
        let key = (namespace.to_owned(), *id);
        self.owners.lock().expect("owners lock").remove(&key);
    }

    fn remember_owner(&self, namespace: &str, id: &[u8; 32], owner: Owner) {
        if owner.node == self.node {
            return;
        }
        let mut owners = self.owners.lock().expect("owners lock");
        // A bound: beyond it the cache starts over (each miss costs one etcd read).
        if owners.len() >= 100_000 {
            owners.clear();
        }
        owners.insert((namespace.to_owned(), *id), owner);
    }

    /// Records that this node closed the object cleanly under `lease`, after message `last`.
    pub fn closed_cleanly(&self, namespace: &str, id: &[u8; 32], replica: &ObjectLog) {
        if !self.lease.holds(replica.lease) {
            return;
        }
        let mut clean = self.clean.lock().expect("clean lock");
        if clean.len() >= 100_000 {
            clean.clear();
        }
        let close = CleanClose {
            lease: replica.lease,
            epoch: replica.epoch,
            last: replica.last(),
        };
        clean.insert((namespace.to_owned(), *id), close);
    }

    /// The address a node advertised, from etcd unless known.
    pub async fn address(&self, node: &str) -> anyhow::Result<Option<String>> {
        if let Some(address) = self.addresses.lock().expect("addresses lock").get(node) {
            return Ok(Some(address.clone()));
        }
        let key = announcement(&self.name, node, "").key;
        let response = self.etcd.clone().get(key, None).await?;
        let Some(kv) = response.kvs().first() else {
            return Ok(None);
        };
        let address = kv.value_str()?.to_owned();
        self.addresses
            .lock()
            .expect("addresses lock")
            .insert(node.to_owned(), address.clone());
        Ok(Some(address))
    }

    /// Forgets a node's address (it may come back elsewhere).
    pub fn forget_address(&self, node: &str) {
        self.addresses.lock().expect("addresses lock").remove(node);
    }

    /// Every key under `prefix` in etcd, with its value.
    async fn range(&self, prefix: &str) -> anyhow::Result<Vec<etcd_client::KeyValue>> {
        let options = etcd_client::GetOptions::new().with_prefix();
        let mut response = self
            .etcd
            .clone()
            .get(prefix.as_bytes(), Some(options))
            .await?;
        Ok(response.take_kvs())
    }

    /// This node's lease: its id, and whether it is valid now.
    pub fn lease(&self) -> (i64, bool) {
        (self.lease.id(), self.is_serving())
    }

    /// How many objects each node claims now (node → count), from etcd.
    pub async fn placement(&self) -> anyhow::Result<std::collections::BTreeMap<String, u64>> {
        let prefix = format!("/{}/claims/", self.name);
        let mut counts = std::collections::BTreeMap::new();
        for kv in self.range(&prefix).await? {
            *counts.entry(kv.value_str()?.to_owned()).or_insert(0) += 1;
        }
        Ok(counts)
    }

    /// The nodes announced in etcd now: (node, address).
    pub async fn nodes(&self) -> anyhow::Result<Vec<(String, String)>> {
        let prefix = format!("/{}/nodes/", self.name);
        let mut nodes = Vec::new();
        for kv in self.range(&prefix).await? {
            let node = kv.key_str()?.strip_prefix(&prefix).unwrap_or_default();
            nodes.push((node.to_owned(), kv.value_str()?.to_owned()));
        }
        Ok(nodes)
    }
}

/// The value at `key` in etcd: `local` if it was absent (this node is the first), else the
/// value the first node put there.
async fn agree(etcd: &Client, key: &str, local: &[u8]) -> anyhow::Result<Vec<u8>> {
    use etcd_client::{Compare, CompareOp, Txn, TxnOp, TxnOpResponse};
    let txn = Txn::new()
        .when(vec![Compare::create_revision(
            key.as_bytes(),
            CompareOp::Equal,
            0,
        )])
        .and_then(vec![TxnOp::put(key.as_bytes(), local, None)])
        .or_else(vec![TxnOp::get(key.as_bytes(), None)]);
    let response = etcd.clone().txn(txn).await?;
    if response.succeeded() {
        return Ok(local.to_vec());
    }
    for op in response.op_responses() {
        if let TxnOpResponse::Get(get) = op {
            if let Some(kv) = get.kvs().first() {
                return Ok(kv.value().to_vec());
            }
        }
    }
    anyhow::bail!("etcd answered without the value of {key}")
}

/// Deletes an object's files on this node (they are a cache of the log): after a refused or
/// failed commit, so that the next activation rebuilds them. Blocking.
pub fn discard_files(db: &std::path::Path) -> anyhow::Result<()> {
    rebuild::Replay::start(db).map(drop)
}

/// Follows the nodes' announcements: when a node's lease ends (it died, was paused or left),
/// its key goes, and with it every owner this node had cached for it, so that the next
/// request for one of its objects asks etcd again and finds (or makes) the new owner.
async fn watch_nodes(
    cluster: std::sync::Weak<Cluster>,
    mut etcd: Client,
    prefix: String,
    stop: CancellationToken,
) {
    use etcd_client::{EventType, WatchOptions};
    loop {
        let watched = etcd
            .watch(prefix.as_bytes(), Some(WatchOptions::new().with_prefix()))
            .await;
        match watched {
            Ok(mut events) => loop {
                let message = tokio::select! {
                    message = events.message() => message,
                    _ = stop.cancelled() => return,
                };
                let Ok(Some(message)) = message else {
                    break;
                };
                let Some(cluster) = cluster.upgrade() else {
                    return;
                };
                for event in message.events() {
                    let key = event.kv().and_then(|kv| kv.key_str().ok());
                    let node = key.and_then(|k| k.strip_prefix(&prefix));
                    if let (EventType::Delete, Some(node)) = (event.event_type(), node) {
                        tracing::info!("cluster: node {node:?} left");
                        cluster.node_left(node);
                    }
                }
            },
            Err(e) => tracing::warn!("cluster: cannot watch the nodes in etcd: {e}; trying again"),
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            _ = stop.cancelled() => return,
        }
    }
}

impl Cluster {
    /// A node left: nothing cached of it is used again.
    fn node_left(&self, node: &str) {
        self.owners
            .lock()
            .expect("owners lock")
            .retain(|_, owner| owner.node != node);
        self.forget_address(node);
    }
}

fn leaving_key(name: &str, node: &str) -> String {
    format!("/{name}/leaving/{node}")
}

fn announcement(name: &str, node: &str, address: &str) -> Announcement {
    Announcement {
        key: format!("/{name}/nodes/{node}"),
        address: address.to_owned(),
    }
}

/// Bytes of log an object writes before a snapshot of it is taken (at its next checkpoint),
/// at least: and at least its database's size, so that snapshots cost no more than the log.
const SNAPSHOT_AFTER_BYTES: u64 = 1 << 20;

/// What an object's writer appends.
enum Append {
    Commit(Vec<u8>, oneshot::Sender<Synced>),
    /// The whole database (`pages::encode_image`): the messages before it are purged.
    Snapshot(Vec<u8>),
}

/// An object's writer into the replicated log, for one activation: its commits are
/// appended in order, each after the last one acknowledged, under the activation's epoch.
#[derive(Clone)]
pub struct ObjectLog {
    pub lease: i64,
    pub epoch: i64,
    last: Arc<AtomicU64>,
    /// Bytes appended since the object's last snapshot (as far as this node knows).
    since_snapshot: Arc<AtomicU64>,
    appends: mpsc::UnboundedSender<Append>,
    cluster: Arc<Cluster>,
}

impl ObjectLog {
    /// `replayed`: the bytes of log this node just read to rebuild the object.
    fn start(
        cluster: Arc<Cluster>,
        subject: String,
        (lease, epoch): (i64, i64),
        last: u64,
        replayed: u64,
    ) -> ObjectLog {
        let (appends, mut queue) = mpsc::unbounded_channel::<Append>();
        let last = Arc::new(AtomicU64::new(last));
        let since_snapshot = Arc::new(AtomicU64::new(replayed));
        let (writer, seen, since) = (cluster.clone(), last.clone(), since_snapshot.clone());
        tokio::spawn(async move {
            // The appends of one object, one at a time: each names the one before.
            while let Some(append) = queue.recv().await {
                let started = Instant::now();
                let expected = seen.load(Ordering::Acquire);
                let (Append::Commit(bytes, _) | Append::Snapshot(bytes)) = &append;
                match writer
                    .log
                    .append(&subject, epoch, expected, Some(bytes))
                    .await
                {
                    Ok(sequence) => {
                        seen.store(sequence, Ordering::Release);
                        match append {
                            Append::Commit(bytes, done) => {
                                since.fetch_add(bytes.len() as u64, Ordering::Relaxed);
                                let _ = done.send((Ok(()), started.elapsed()));
                            }
                            Append::Snapshot(_) => {
                                writer.stats.snapshots.inc();
                                match writer.log.purge_through(&subject, expected).await {
                                    Ok(purged) => tracing::debug!(
                                        "cluster: {subject}: snapshot at {sequence}, {purged} messages before it purged"
                                    ),
                                    Err(e) => tracing::warn!("cluster: {e:#}"),
                                }
                            }
                        }
                    }
                    Err(refused) => {
                        if matches!(refused, Refused::Fenced(_)) {
                            writer.stats.fenced.inc();
                        }
                        tracing::warn!("cluster: {subject}: {refused}");
                        if let Append::Commit(_, done) = append {
                            let error = io::Error::other(refused.to_string());
                            let _ = done.send((Err(error), started.elapsed()));
                        }
                        // Nothing after a refused append may follow it into the log.
                        queue.close();
                        while let Some(append) = queue.recv().await {
                            if let Append::Commit(_, done) = append {
                                let error = io::Error::other("an earlier commit was refused");
                                let _ = done.send((Err(error), Duration::ZERO));
                            }
                        }
                        return;
                    }
                }
            }
        });
        ObjectLog {
            lease,
            epoch,
            last,
            since_snapshot,
            appends,
            cluster,
        }
    }

    /// Whether the object's log has grown enough since its last snapshot for a new one, its
    /// database being `db_bytes` long.
    pub fn wants_snapshot(&self, db_bytes: u64) -> bool {
        self.since_snapshot.load(Ordering::Relaxed) >= db_bytes.max(SNAPSHOT_AFTER_BYTES)
    }

    /// Appends a snapshot of the object, `image` being its whole database file as of its last
    /// commit appended (the caller holds the object: no commit comes between). Nobody waits
    /// for it: a snapshot the log refuses stops the writer like a refused commit.
    pub fn snapshot(&self, page_size: u32, image: &[u8]) {
        self.since_snapshot.store(0, Ordering::Relaxed);
        let _ = self
            .appends
            .send(Append::Snapshot(pages::encode_image(page_size, image)));
    }

    /// Appends a commit's frames; the ticket resolves once a quorum holds them.
    pub fn append(&self, frames: &WalFrames) -> Ticket {
        let (done, ticket) = oneshot::channel();
        if let Err(mpsc::error::SendError(Append::Commit(_, done))) = self
            .appends
            .send(Append::Commit(pages::encode(frames), done))
        {
            let error = io::Error::other("the object's replicated log writer stopped");
            let _ = done.send((Err(error), Duration::ZERO));
        }
        ticket
    }

    /// Whether the object may still be served from this node: its lease is valid.
    pub fn is_current(&self) -> bool {
        self.cluster.lease.holds(self.lease)
    }

    /// The sequence of the object's last message acknowledged.
    pub fn last(&self) -> u64 {
        self.last.load(Ordering::Acquire)
    }

    pub fn cluster(&self) -> &Arc<Cluster> {
        &self.cluster
    }
}
