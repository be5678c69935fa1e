//! Prometheus metrics, served as text on the admin listener's `/metrics`.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct NamespaceLabel {
    pub namespace: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub namespace: String,
    pub status: u16,
}

/// A request's namespace and the class of its status (`2xx`, `4xx`, ...): few enough series
/// to keep a latency histogram for each and to create them all at start.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StatusClassLabels {
    pub namespace: String,
    pub class: &'static str,
}

/// The status classes, for `StatusClassLabels::class`.
pub const STATUS_CLASSES: [&str; 5] = ["1xx", "2xx", "3xx", "4xx", "5xx"];

/// `200` → `"2xx"`.
pub fn status_class(status: u16) -> &'static str {
    match status {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    }
}

/// A namespace and the hash of the component it runs.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CodeLabels {
    pub namespace: String,
    pub hash: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct AlarmLabels {
    pub namespace: String,
    pub outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct WsLabels {
    pub namespace: String,
    /// "in" (from clients) or "out" (to clients).
    pub direction: &'static str,
}

pub struct Metrics {
    registry: Registry,
    pub activations: Family<NamespaceLabel, Counter>,
    pub evictions: Family<NamespaceLabel, Counter>,
    pub live_objects: Family<NamespaceLabel, Gauge>,
    pub requests: Family<RequestLabels, Counter>,
    pub request_duration: Family<StatusClassLabels, Histogram>,
    pub commit_duration: Family<NamespaceLabel, Histogram>,
    pub events_per_commit: Family<NamespaceLabel, Histogram>,
    pub wal_sync_duration: Family<NamespaceLabel, Histogram>,
    pub traps: Family<NamespaceLabel, Counter>,
    pub storage_failures: Family<NamespaceLabel, Counter>,
    pub alarms_fired: Family<AlarmLabels, Counter>,
    pub alarms_scheduled: Family<NamespaceLabel, Gauge>,
    pub alarms_dropped: Family<NamespaceLabel, Counter>,
    pub alarm_delay: Family<NamespaceLabel, Histogram>,
    pub websockets_open: Family<NamespaceLabel, Gauge>,
    pub websocket_messages: Family<WsLabels, Counter>,
    pub websocket_wakeups: Family<NamespaceLabel, Counter>,
    pub code_version: Family<CodeLabels, Gauge>,
    pub code_loaded: Family<NamespaceLabel, Gauge>,
    /// Bytes of memory the instances of all live objects hold (`max-instances-memory`).
    pub instance_memory: Gauge,
    /// The host-wide commit log (`commit_log/`).
    pub log_fsync_duration: Histogram,
    pub log_records: Counter,
    pub log_bytes: Counter,
    pub log_segments: Gauge,
    /// Cluster mode (`cluster/`); zero on a single host.
    pub cluster: ClusterCounters,
}

/// What a cluster node counts.
#[derive(Clone, Default)]
pub struct ClusterCounters {
    /// Requests this node forwarded to an object's owner.
    pub forwarded: Counter,
    /// Takeover messages this node appended (an object claimed under a new epoch: a first
    /// claim, or one whose owner is gone).
    pub takeovers: Counter,
    /// Objects rebuilt on this node from the replicated log.
    pub rebuilds: Counter,
    /// Bytes of log those rebuilds read (snapshots keep it short).
    pub rebuilt_bytes: Counter,
    /// Commits the replicated log refused because another node took the object over.
    pub fenced: Counter,
    /// Times this node's lease expired before it could renew it.
    pub leases_lost: Counter,
    /// Snapshots of objects this node appended to the replicated log (after which the
    /// object's older messages are purged).
    pub snapshots: Counter,
}

fn seconds_histogram() -> Histogram {
    // 50 us .. ~13 s
    Histogram::new(exponential_buckets(0.00005, 2.0, 19))
}

fn count_histogram() -> Histogram {
    Histogram::new(exponential_buckets(1.0, 2.0, 10))
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::default();
        let activations = Family::default();
        let evictions = Family::default();
        let live_objects = Family::default();
        let requests = Family::default();
        let request_duration = Family::new_with_constructor(seconds_histogram as fn() -> Histogram);
        let commit_duration = Family::new_with_constructor(seconds_histogram as fn() -> Histogram);
        let events_per_commit = Family::new_with_constructor(count_histogram as fn() -> Histogram);
        let wal_sync_duration =
            Family::new_with_constructor(seconds_histogram as fn() -> Histogram);
        let traps = Family::default();
        let storage_failures = Family::default();
        let alarms_fired = Family::default();
        let alarms_scheduled = Family::default();
        let alarms_dropped = Family::default();
        let alarm_delay = Family::new_with_constructor(seconds_histogram as fn() -> Histogram);
        let websockets_open = Family::default();
        let websocket_messages = Family::default();
        let websocket_wakeups = Family::default();
        let code_version = Family::default();
        let code_loaded = Family::default();
        registry.register(
            "wdo_code_version",
            "1 for the component (by SHA-256) each namespace runs",
            code_version.clone(),
        );
        registry.register(
            "wdo_code_loaded_timestamp_seconds",
            "When each namespace's code was last loaded, Unix seconds",
            code_loaded.clone(),
        );
        registry.register(
            "wdo_websockets_open",
            "WebSockets connected now",
            websockets_open.clone(),
        );
        registry.register(
            "wdo_websocket_messages",
            "WebSocket messages, by direction (in, out)",
            websocket_messages.clone(),
        );
        registry.register(
            "wdo_websocket_wakeups",
            "Instances created to handle a WebSocket event (hibernation wake-ups)",
            websocket_wakeups.clone(),
        );
        registry.register(
            "wdo_alarms_fired",
            "Alarm handler runs, by outcome (success, failure)",
            alarms_fired.clone(),
        );
        registry.register(
            "wdo_alarms_scheduled",
            "Alarms waiting to fire",
            alarms_scheduled.clone(),
        );
        registry.register(
            "wdo_alarms_dropped",
            "Alarms dropped after failing every retry",
            alarms_dropped.clone(),
        );
        registry.register(
            "wdo_alarm_delay_seconds",
            "How late each alarm ran after it was due",
            alarm_delay.clone(),
        );
        registry.register(
            "wdo_activations",
            "Objects activated (instance created from storage)",
            activations.clone(),
        );
        registry.register(
            "wdo_evictions",
            "Objects evicted (idle or least recently used)",
            evictions.clone(),
        );
        registry.register("wdo_live_objects", "Objects live now", live_objects.clone());
        registry.register(
            "wdo_requests",
            "HTTP requests answered, by status",
            requests.clone(),
        );
        registry.register(
            "wdo_request_duration_seconds",
            "Time from request to response, by namespace and status class (2xx, 4xx, ...)",
            request_duration.clone(),
        );
        registry.register(
            "wdo_commit_duration_seconds",
            "Time to commit one batch of events (with full durability the COMMIT only appends \
             to the WAL; its fsync is wdo_wal_sync_duration_seconds)",
            commit_duration.clone(),
        );
        registry.register(
            "wdo_wal_sync_duration_seconds",
            "Time one object waited for its batches to be durable (full durability: an fsync \
             of the commit log, wdo_log_fsync_duration_seconds, that may cover many objects)",
            wal_sync_duration.clone(),
        );
        registry.register(
            "wdo_events_per_commit",
            "Events sharing one commit (group commit)",
            events_per_commit.clone(),
        );
        registry.register(
            "wdo_guest_failures",
            "Events that trapped or hit a limit, rolled back",
            traps.clone(),
        );
        registry.register(
            "wdo_storage_failures",
            "Objects stopped (quarantined) because an fsync of their files failed",
            storage_failures.clone(),
        );
        let log_fsync_duration = seconds_histogram();
        registry.register(
            "wdo_log_fsync_duration_seconds",
            "Time of one fsync of the host-wide commit log, which makes the batches every object \
             appended before it durable",
            log_fsync_duration.clone(),
        );
        let log_records = Counter::default();
        registry.register(
            "wdo_log_records",
            "Records appended to the commit log (the frames of one or more commits of an object)",
            log_records.clone(),
        );
        let log_bytes = Counter::default();
        registry.register(
            "wdo_log_bytes",
            "Bytes appended to the commit log",
            log_bytes.clone(),
        );
        let log_segments = Gauge::default();
        registry.register(
            "wdo_log_segments",
            "Segment files of the commit log on disk (the active one and those sealed but not \
             yet trimmed)",
            log_segments.clone(),
        );
        let instance_memory = Gauge::default();
        registry.register(
            "wdo_instance_memory_bytes",
            "Bytes of linear memory and tables held by the instances of all live objects",
            instance_memory.clone(),
        );
        let cluster = ClusterCounters::default();
        registry.register(
            "wdo_cluster_forwarded",
            "Requests this node forwarded to the node that owns their object",
            cluster.forwarded.clone(),
        );
        registry.register(
            "wdo_cluster_takeovers",
            "Objects this node claimed under a new epoch (first claims and failovers)",
            cluster.takeovers.clone(),
        );
        registry.register(
            "wdo_cluster_rebuilds",
            "Objects rebuilt on this node from the replicated log",
            cluster.rebuilds.clone(),
        );
        registry.register(
            "wdo_cluster_rebuilt_bytes",
            "Bytes of replicated log read to rebuild objects on this node (from their latest snapshot on)",
            cluster.rebuilt_bytes.clone(),
        );
        registry.register(
            "wdo_cluster_fenced",
            "Commits the replicated log refused: another node had taken the object over",
            cluster.fenced.clone(),
        );
        registry.register(
            "wdo_cluster_leases_lost",
            "Times this node's etcd lease expired before it was renewed",
            cluster.leases_lost.clone(),
        );
        registry.register(
            "wdo_cluster_snapshots",
            "Object snapshots this node appended to the replicated log, each purging the messages before it",
            cluster.snapshots.clone(),
        );
        Metrics {
            registry,
            cluster,
            activations,
            evictions,
            live_objects,
            requests,
            request_duration,
            commit_duration,
            events_per_commit,
            wal_sync_duration,
            log_fsync_duration,
            log_records,
            log_bytes,
            log_segments,
            traps,
            storage_failures,
            alarms_fired,
            alarms_scheduled,
            alarms_dropped,
            alarm_delay,
            websockets_open,
            websocket_messages,
            websocket_wakeups,
            code_version,
            code_loaded,
            instance_memory,
        }
    }
}

impl Metrics {
    /// Creates every per-namespace series of `namespace` at zero, so that a dashboard sees
    /// `wdo_evictions_total{namespace="x"} 0` from the start rather than no series at all.
    /// (`wdo_requests_total` is by exact status, which cannot be listed in advance; the
    /// request duration histogram's `_count` per status class can.)
    pub fn init_namespace(&self, namespace: &str) {
        let label = ns(namespace);
        for family in [
            &self.activations,
            &self.evictions,
            &self.traps,
            &self.storage_failures,
            &self.alarms_dropped,
            &self.websocket_wakeups,
        ] {
            let _ = family.get_or_create(&label);
        }
        for family in [
            &self.live_objects,
            &self.alarms_scheduled,
            &self.websockets_open,
        ] {
            let _ = family.get_or_create(&label);
        }
        for family in [
            &self.commit_duration,
            &self.events_per_commit,
            &self.wal_sync_duration,
            &self.alarm_delay,
        ] {
            let _ = family.get_or_create(&label);
        }
        for class in STATUS_CLASSES {
            let _ = self.request_duration.get_or_create(&StatusClassLabels {
                namespace: namespace.to_string(),
                class,
            });
        }
        for outcome in ["success", "failure"] {
            let _ = self.alarms_fired.get_or_create(&AlarmLabels {
                namespace: namespace.to_string(),
                outcome,
            });
        }
        for direction in ["in", "out"] {
            let _ = self.websocket_messages.get_or_create(&WsLabels {
                namespace: namespace.to_string(),
                direction,
            });
        }
    }

    /// `namespace` now runs the code `hash` (it ran `previous`), loaded at `loaded_ms`.
    pub fn set_code_version(
        &self,
        namespace: &str,
        previous: Option<&str>,
        hash: &str,
        loaded_ms: u64,
    ) {
        if let Some(previous) = previous.filter(|p| *p != hash) {
            self.code_version.remove(&CodeLabels {
                namespace: namespace.to_string(),
                hash: previous.to_string(),
            });
        }
        self.code_version
            .get_or_create(&CodeLabels {
                namespace: namespace.to_string(),
                hash: hash.to_string(),
            })
            .set(1);
        self.code_loaded
            .get_or_create(&ns(namespace))
            .set((loaded_ms / 1000) as i64);
    }

    pub fn encode(&self) -> String {
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry)
            .expect("writing to a String");
        text
    }
}

pub fn ns(namespace: &str) -> NamespaceLabel {
    NamespaceLabel {
        namespace: namespace.to_string(),
    }
}
