//! The metrics on the admin listener: every per-namespace series exists from the start, and
//! request latency is kept per namespace and status class.

use crate::harness::Server;

/// The sample's value as `/metrics` shows it, or `None` if the series is missing.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|line| {
        line.strip_prefix(series)
            .filter(|rest| rest.starts_with(' '))
            .and_then(|rest| rest.trim().parse().ok())
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn every_per_namespace_series_is_zero_before_the_first_request() {
    let server = Server::start();
    let text = server.metrics().await;
    for (namespace, _) in &server.options.namespaces {
        let label = format!("{{namespace=\"{namespace}\"}}");
        for family in [
            "wdo_activations_total",
            "wdo_evictions_total",
            "wdo_live_objects",
            "wdo_guest_failures_total",
            "wdo_alarms_scheduled",
            "wdo_alarms_dropped_total",
            "wdo_websockets_open",
            "wdo_websocket_wakeups_total",
            "wdo_commit_duration_seconds_count",
            "wdo_events_per_commit_count",
            "wdo_wal_sync_duration_seconds_count",
            "wdo_alarm_delay_seconds_count",
        ] {
            let series = format!("{family}{label}");
            assert_eq!(sample(&text, &series), Some(0.0), "{series} in:\n{text}");
        }
        for class in ["1xx", "2xx", "3xx", "4xx", "5xx"] {
            let series = format!(
                "wdo_request_duration_seconds_count{{namespace=\"{namespace}\",class=\"{class}\"}}"
            );
            assert_eq!(sample(&text, &series), Some(0.0), "{series}");
        }
        for outcome in ["success", "failure"] {
            let series = format!(
                "wdo_alarms_fired_total{{namespace=\"{namespace}\",outcome=\"{outcome}\"}}"
            );
            assert_eq!(sample(&text, &series), Some(0.0), "{series}");
        }
        for direction in ["in", "out"] {
            let series = format!(
                "wdo_websocket_messages_total{{namespace=\"{namespace}\",direction=\"{direction}\"}}"
            );
            assert_eq!(sample(&text, &series), Some(0.0), "{series}");
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn request_latency_is_counted_per_namespace_and_status_class() {
    let server = Server::start();
    assert_eq!(server.get("/counter/a/increment").await.0, 200);
    assert_eq!(server.get("/counter/@not-an-id/get").await.0, 400);
    assert_eq!(server.get("/counter/@also-bad/get").await.0, 400);
    let text = server.metrics().await;
    let count = |class: &str| {
        sample(
            &text,
            &format!(
                "wdo_request_duration_seconds_count{{namespace=\"counter\",class=\"{class}\"}}"
            ),
        )
    };
    assert_eq!(count("2xx"), Some(1.0));
    assert_eq!(count("4xx"), Some(2.0));
    assert_eq!(count("5xx"), Some(0.0));
    let other = "wdo_request_duration_seconds_count{namespace=\"bank\",class=\"2xx\"}";
    assert_eq!(sample(&text, other), Some(0.0));
    assert!(
        text.contains("wdo_request_duration_seconds_bucket{le=\"0.0001\",namespace=\"counter\",class=\"2xx\"}")
            || text.contains("namespace=\"counter\",class=\"2xx\",le="),
        "a bucket per class:\n{text}"
    );
}
