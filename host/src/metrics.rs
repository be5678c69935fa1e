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
    pub request_duration: Family<NamespaceLabel, Histogram>,
    pub commit_duration: Family<NamespaceLabel, Histogram>,
    pub events_per_commit: Family<NamespaceLabel, Histogram>,
    pub wal_sync_duration: Family<NamespaceLabel, Histogram>,
    pub traps: Family<NamespaceLabel, Counter>,
    pub alarms_fired: Family<AlarmLabels, Counter>,
    pub alarms_scheduled: Family<NamespaceLabel, Gauge>,
    pub alarms_dropped: Family<NamespaceLabel, Counter>,
    pub alarm_delay: Family<NamespaceLabel, Histogram>,
    pub websockets_open: Family<NamespaceLabel, Gauge>,
    pub websocket_messages: Family<WsLabels, Counter>,
    pub websocket_wakeups: Family<NamespaceLabel, Counter>,
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
        let alarms_fired = Family::default();
        let alarms_scheduled = Family::default();
        let alarms_dropped = Family::default();
        let alarm_delay = Family::new_with_constructor(seconds_histogram as fn() -> Histogram);
        let websockets_open = Family::default();
        let websocket_messages = Family::default();
        let websocket_wakeups = Family::default();
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
            "Time from request to response",
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
            "Time of one fsync of an object's WAL, which makes every batch committed before it \
             durable (full durability)",
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
        Metrics {
            registry,
            activations,
            evictions,
            live_objects,
            requests,
            request_duration,
            commit_duration,
            events_per_commit,
            wal_sync_duration,
            traps,
            alarms_fired,
            alarms_scheduled,
            alarms_dropped,
            alarm_delay,
            websockets_open,
            websocket_messages,
            websocket_wakeups,
        }
    }
}

impl Metrics {
    pub fn encode(&self) -> String {
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry)
            .expect("writing to a String");
        text
    }
}

impl Metrics {
    /// Creates every series of a namespace whose labels are known ahead (all but the
    /// requests', labelled by status) at zero: a series that has not counted anything yet
    /// then reads 0 instead of being absent, so that a reader can tell a zero from a name
    /// that does not exist.
    pub fn register_namespace(&self, namespace: &str) {
        let label = ns(namespace);
        for counter in [
            &self.activations,
            &self.evictions,
            &self.traps,
            &self.alarms_dropped,
            &self.websocket_wakeups,
        ] {
            let _ = counter.get_or_create(&label);
        }
        for gauge in [
            &self.live_objects,
            &self.alarms_scheduled,
            &self.websockets_open,
        ] {
            let _ = gauge.get_or_create(&label);
        }
        for histogram in [
            &self.request_duration,
            &self.commit_duration,
            &self.events_per_commit,
            &self.wal_sync_duration,
            &self.alarm_delay,
        ] {
            let _ = histogram.get_or_create(&label);
        }
        for outcome in ["success", "failure"] {
            let _ = self.alarms_fired.get_or_create(&AlarmLabels {
                namespace: namespace.to_owned(),
                outcome,
            });
        }
        for direction in ["in", "out"] {
            let _ = self.websocket_messages.get_or_create(&WsLabels {
                namespace: namespace.to_owned(),
                direction,
            });
        }
    }
}

pub fn ns(namespace: &str) -> NamespaceLabel {
    NamespaceLabel {
        namespace: namespace.to_string(),
    }
}
