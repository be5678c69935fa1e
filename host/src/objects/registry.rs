//! The registry of live objects: at most one actor per (namespace, id), created on demand,
//! retired when idle, and the least recently used idle ones evicted when the host is full.
//!
//! Every send into an actor's inbox happens under the registry lock, and an actor retires
//! itself only under that lock with an empty inbox, so no event is ever lost between an
//! eviction and the next activation. A new actor of the same object waits until the old one
//! has closed its database and instance.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::{mpsc, oneshot};
use tokio_util::task::TaskTracker;

use super::actor::Actor;
use super::event::Event;
use super::namespace::Namespace;
use crate::alarms::Scheduler;
use crate::commit_log::CommitLog;
use crate::config::Config;
use crate::guest::ObjectInfo;
use crate::ids::{Key, ObjectId};
use crate::metrics::Metrics;
use crate::websocket::{Hub, WsLimits};
use prometheus_client::metrics::gauge::Gauge;

#[derive(Debug, thiserror::Error)]
pub enum DispatchError {
    #[error("Durable Object is overloaded. Too many requests queued.")]
    Overloaded,
    #[error("too many live objects: every one of the {0} allowed is busy")]
    HostFull(usize),
    #[error(
        "the memory of live objects is over the host's budget of {0} bytes and every one is busy"
    )]
    MemoryFull(usize),
    #[error("the host is shutting down")]
    ShuttingDown,
    /// A storage failure stopped the object; it serves nothing until the host restarts and
    /// reopens it from what is durable on disk.
    #[error("the object is stopped after a storage failure ({0}); it serves again after the host restarts")]
    Quarantined(Arc<str>),
}

struct Entry {
    inbox: mpsc::Sender<Event>,
    generation: u64,
    /// When an event was last sent to it, as a sequence number: the eviction order.
    last_used: u64,
    /// Events sent and not yet answered, and the bytes they hold (`max-inbox-bytes`).
    pending: usize,
    pending_bytes: usize,
    /// Bytes of memory its instance holds, as its actor last reported.
    memory: usize,
    /// Resolves (with an error) once the actor has closed.
    closed: oneshot::Receiver<()>,
    /// It has open sockets of the standard WebSocket API: never evicted while so.
    pinned: bool,
}

#[derive(Default)]
struct Inner {
    live: HashMap<Key, Entry>,
    /// The live entries with no event pending, by `last_used`: the least recently used idle
    /// object is the first, found in O(log n) when a new object needs its place.
    idle: BTreeMap<u64, Key>,
    /// Actors that were retired but may still be closing.
    closing: HashMap<Key, oneshot::Receiver<()>>,
    /// Objects stopped by a storage failure, and why.
    quarantined: HashMap<Key, Arc<str>>,
    next_generation: u64,
    next_use: u64,
    /// The memory of every live entry's instance (`max-instances-memory`), and its gauge.
    memory: usize,
    memory_gauge: Gauge,
}

impl Inner {
    /// Removes a live entry; its actor ends once it has drained its inbox.
    fn take(&mut self, key: &Key) -> Option<Entry> {
        let entry = self.live.remove(key)?;
        if entry.pending == 0 {
            self.idle.remove(&entry.last_used);
        }
        self.set_memory(self.memory - entry.memory);
        Some(entry)
    }

    /// Retires the least recently used idle object other than `except`; `None` if there
    /// is none (every other live one is busy).
    fn evict_least_recently_used(&mut self, except: Option<Key>) -> Option<Key> {
        let live = &self.live;
        let (_, &victim) = self
            .idle
            .iter()
            .find(|(_, k)| Some(**k) != except && !live[*k].pinned)?;
        let entry = self.take(&victim).expect("an idle entry is live");
        // Dropping the sender ends the actor once its (empty) inbox is drained.
        self.closing.insert(victim, entry.closed);
        prune_closed(&mut self.closing);
        Some(victim)
    }

    fn set_memory(&mut self, bytes: usize) {
        self.memory = bytes;
        self.memory_gauge.set(bytes as i64);
    }

    fn next_use(&mut self) -> u64 {
        self.next_use += 1;
        self.next_use
    }
}

pub struct Registry {
    inner: Mutex<Inner>,
    shutting_down: AtomicBool,
    pub(crate) config: Config,
    pub(crate) metrics: Arc<Metrics>,
    pub(crate) tasks: TaskTracker,
    pub(crate) scheduler: Arc<Scheduler>,
    pub(crate) hub: Arc<Hub>,
    /// Bytes the instances of all live objects may hold together.
    memory_budget: usize,
    /// The namespaces and their `env`s, for stubs (set once at start).
    pub(super) apps: super::calls::AppsCell,
    /// The host's commit log, which makes full-durability commits durable.
    pub(crate) log: Arc<CommitLog>,
    /// Cluster mode: the cluster this host is a node of (set once at start), whose
    /// replicated log takes the commits instead of `log`.
    cluster: std::sync::OnceLock<Arc<crate::cluster::Cluster>>,
    /// Cluster mode: how calls reach objects on other nodes (set once at start).
    pub(super) remote: std::sync::OnceLock<Arc<dyn super::remote::Remote>>,
}

impl Registry {
    pub fn new(
        config: Config,
        metrics: Arc<Metrics>,
        scheduler: Arc<Scheduler>,
        log: Arc<CommitLog>,
    ) -> Arc<Registry> {
        let hub = Arc::new(Hub::new(
            WsLimits {
                max_message_bytes: config.max_websocket_message,
                max_queued_bytes: config.max_websocket_queue,
                max_sockets_per_host: config.max_websockets,
                max_turn_send_bytes: config.max_event_send_bytes,
                max_turn_frames: config.max_event_sends,
                ..WsLimits::default()
            },
            scheduler.clock.clone(),
        ));
        Arc::new(Registry {
            inner: Mutex::new(Inner {
                memory_gauge: metrics.instance_memory.clone(),
                ..Inner::default()
            }),
            shutting_down: AtomicBool::new(false),
            memory_budget: config.instances_memory_budget(),
            config,
            metrics,
            tasks: TaskTracker::new(),
            scheduler,
            hub,
            apps: Default::default(),
            log,
            cluster: std::sync::OnceLock::new(),
            remote: std::sync::OnceLock::new(),
        })
    }

    /// Makes this host's objects those of a cluster node (at start, before any dispatch).
    pub fn set_cluster(&self, cluster: Arc<crate::cluster::Cluster>) {
        let _ = self.cluster.set(cluster);
    }

    /// The cluster this host is a node of, in cluster mode.
    pub fn cluster(&self) -> Option<&Arc<crate::cluster::Cluster>> {
        self.cluster.get()
    }

    /// Delivers an event to the object, activating it if needed.
    pub fn dispatch(
        self: &Arc<Self>,
        namespace: &Arc<Namespace>,
        ns_index: usize,
        id: ObjectId,
        name: Option<&str>,
        event: Event,
    ) -> Result<(), DispatchError> {
        if self.is_shutting_down() {
            return Err(DispatchError::ShuttingDown);
        }
        let key = (ns_index, id);
        let mut inner = self.inner.lock().expect("registry lock");
        if let Some(reason) = inner.quarantined.get(&key) {
            return Err(DispatchError::Quarantined(reason.clone()));
        }
        let needs_actor = match inner.live.get(&key) {
            Some(entry) => entry.inbox.is_closed(),
            None => true,
        };
        if needs_actor {
            self.start_actor(&mut inner, key, namespace, name)?;
        }
        let used = inner.next_use();
        let inner = &mut *inner;
        let entry = inner.live.get_mut(&key).expect("entry exists");
        // One event larger than the bound still goes to an object with nothing pending.
        let bytes = event.bytes();
        if entry.pending > 0
            && entry.pending_bytes.saturating_add(bytes) > self.config.max_inbox_bytes
        {
            return Err(DispatchError::Overloaded);
        }
        match entry.inbox.try_send(event) {
            Ok(()) => {
                if entry.pending == 0 {
                    inner.idle.remove(&entry.last_used);
                }
                entry.pending += 1;
                entry.pending_bytes += bytes;
                entry.last_used = used;
                Ok(())
            }
            Err(mpsc::error::TrySendError::Full(_)) => Err(DispatchError::Overloaded),
            Err(mpsc::error::TrySendError::Closed(_)) => Err(DispatchError::Overloaded),
        }
    }

    fn start_actor(
        self: &Arc<Self>,
        inner: &mut Inner,
        key: Key,
        namespace: &Arc<Namespace>,
        name: Option<&str>,
    ) -> Result<(), DispatchError> {
        if let Some(old) = inner.take(&key) {
            inner.closing.insert(key, old.closed);
        }
        if inner.live.len() >= self.config.max_live_objects {
            inner
                .evict_least_recently_used(None)
                .ok_or(DispatchError::HostFull(self.config.max_live_objects))?;
        }
        while inner.memory > self.memory_budget {
            inner
                .evict_least_recently_used(None)
                .ok_or(DispatchError::MemoryFull(self.memory_budget))?;
        }
        let (sender, receiver) = mpsc::channel(self.config.inbox_depth);
        let (alive, closed) = oneshot::channel();
        inner.next_generation += 1;
        let generation = inner.next_generation;
        let id_text: Arc<str> = key.1.to_string().into();
        let actor = Actor {
            key,
            generation,
            namespace: namespace.clone(),
            info: Arc::new(ObjectInfo {
                namespace: namespace.name.clone(),
                ns_index: key.0,
                id: key.1,
                id_text,
                name: name.map(str::to_owned),
            }),
            registry: self.clone(),
            inbox: receiver,
            previous: inner.closing.remove(&key),
            _alive: alive,
        };
        self.tasks.spawn(actor.run());
        let last_used = inner.next_use();
        inner.live.insert(
            key,
            Entry {
                inbox: sender,
                generation,
                last_used,
                pending: 0,
                pending_bytes: 0,
                memory: 0,
                closed,
                pinned: false,
            },
        );
        inner.idle.insert(last_used, key);
        Ok(())
    }

    /// An actor (of `generation`) reports the memory its instance holds after a batch.
    /// While the live objects together hold more than the budget, the least recently used
    /// idle ones (never this one) are retired.
    pub(super) fn memory_used(&self, key: Key, generation: u64, bytes: usize) {
        let mut inner = self.inner.lock().expect("registry lock");
        let inner = &mut *inner;
        let Some(entry) = inner.live.get_mut(&key) else {
            return;
        };
        if entry.generation != generation {
            return;
        }
        let total = inner.memory - entry.memory + bytes;
        entry.memory = bytes;
        inner.set_memory(total);
        while inner.memory > self.memory_budget {
            if inner.evict_least_recently_used(Some(key)).is_none() {
                break;
            }
        }
    }

    /// An actor (of `generation`) says whether it holds open sockets of the standard
    /// WebSocket API (then it is not evicted while idle, nor to make room).
    pub(super) fn set_pinned(&self, key: Key, generation: u64, pinned: bool) {
        let mut inner = self.inner.lock().expect("registry lock");
        if let Some(entry) = inner.live.get_mut(&key) {
            if entry.generation == generation {
                entry.pinned = pinned;
            }
        }
    }

    /// Called by an actor that has been idle for the idle timeout: retires it if nothing
    /// is queued for it. The actor ends when it sees its inbox closed.
    pub(super) fn retire_if_idle(&self, key: Key, generation: u64, inbox: &mpsc::Receiver<Event>) {
        let mut inner = self.inner.lock().expect("registry lock");
        let idle = matches!(inner.live.get(&key), Some(e) if e.generation == generation && e.pending == 0 && !e.pinned)
            && inbox.is_empty();
        if idle {
            let entry = inner.take(&key).expect("checked above");
            inner.closing.insert(key, entry.closed);
            prune_closed(&mut inner.closing);
        }
    }

    /// Retires every live object of the namespace, busy or not (its code changed): each
    /// finishes what is queued for it, and the next event starts a new instance.
    pub fn retire_namespace(&self, ns_index: usize) -> usize {
        let mut inner = self.inner.lock().expect("registry lock");
        let keys: Vec<Key> = inner
            .live
            .keys()
            .filter(|k| k.0 == ns_index)
            .copied()
            .collect();
        for key in &keys {
            let entry = inner.take(key).expect("listed above");
            inner.closing.insert(*key, entry.closed);
        }
        prune_closed(&mut inner.closing);
        keys.len()
    }

    /// Stops serving an object after a storage failure (until the host restarts).
    pub(super) fn quarantine(&self, key: Key, reason: &str) {
        let mut inner = self.inner.lock().expect("registry lock");
        inner.quarantined.insert(key, reason.into());
    }

    /// Retires one object now, busy or not: it finishes what is queued for it, and its next
    /// event activates it again. False if it was not live.
    pub fn evict(&self, key: Key) -> bool {
        let mut inner = self.inner.lock().expect("registry lock");
        let Some(entry) = inner.take(&key) else {
            return false;
        };
        inner.closing.insert(key, entry.closed);
        prune_closed(&mut inner.closing);
        true
    }

    pub fn is_live(&self, key: Key) -> bool {
        self.inner
            .lock()
            .expect("registry lock")
            .live
            .contains_key(&key)
    }

    /// Removes an actor's entry (it failed to start).
    pub(super) fn remove(&self, key: Key, generation: u64) {
        let mut inner = self.inner.lock().expect("registry lock");
        if matches!(inner.live.get(&key), Some(e) if e.generation == generation) {
            let entry = inner.take(&key).expect("checked above");
            inner.closing.insert(key, entry.closed);
        }
    }

    /// An actor (of `generation`) answered `count` events. A retired actor's answers are
    /// not its successor's.
    pub(super) fn events_done(&self, key: Key, generation: u64, count: usize, bytes: usize) {
        let mut inner = self.inner.lock().expect("registry lock");
        let inner = &mut *inner;
        if let Some(entry) = inner.live.get_mut(&key) {
            if entry.generation == generation && entry.pending > 0 {
                entry.pending = entry.pending.saturating_sub(count);
                entry.pending_bytes = entry.pending_bytes.saturating_sub(bytes);
                if entry.pending == 0 {
                    entry.pending_bytes = 0;
                    inner.idle.insert(entry.last_used, key);
                }
            }
        }
    }

    pub fn is_shutting_down(&self) -> bool {
        self.shutting_down.load(Ordering::Acquire)
    }

    pub fn live_count(&self) -> usize {
        self.inner.lock().expect("registry lock").live.len()
    }

    /// Stops accepting events; every actor finishes what is queued, commits and closes.
    /// Resolves when all have closed.
    pub async fn shutdown(&self) {
        self.shutting_down.store(true, Ordering::Release);
        // Sockets close with 1001 and deliver no close events.
        self.hub.shutdown.cancel();
        {
            let mut inner = self.inner.lock().expect("registry lock");
            inner.live.clear();
            inner.idle.clear();
            inner.closing.clear();
        }
        self.tasks.close();
        self.tasks.wait().await;
    }
}

/// Forgets retired actors that have finished closing.
fn prune_closed(closing: &mut HashMap<Key, oneshot::Receiver<()>>) {
    if closing.len() > 256 {
        closing.retain(|_, rx| matches!(rx.try_recv(), Err(oneshot::error::TryRecvError::Empty)));
    }
}
