//! The memory of all live instances together is bounded (`max-instances-memory`): beyond
//! it the least recently used idle objects are evicted, their state intact, and the host's
//! resident memory stays bounded however many objects are touched.

use serde_json::json;

use crate::harness::{Options, Server};

const OBJECTS: usize = 24;

#[tokio::test(flavor = "multi_thread")]
async fn live_instances_stay_within_the_memory_budget_and_keep_their_state() {
    let mut server = Server::start_with(Options {
        idle_timeout: "10m",
        ..Options::default()
    });
    // What one Python instance holds (CPython in the component: the largest guests here).
    assert_eq!(
        server.post("/counter-py/probe/increment", json!({})).await,
        (200, json!({"count": 1}))
    );
    let one = server.metric("wdo_instance_memory_bytes").await;
    assert!(one > 1e6, "a Python instance holds {one} bytes");
    // A budget of three and a half instances.
    let budget = (one * 3.5) as u64;
    server.options.extra = format!("max-instances-memory = {budget}");
    server.restart();
    let baseline = server.memory_status("VmRSS");
    for round in 1..=2 {
        for i in 0..OBJECTS {
            assert_eq!(
                server
                    .post(&format!("/counter-py/c{i}/increment"), json!({}))
                    .await,
                (200, json!({"count": round})),
                "object c{i}, round {round}"
            );
            let total = server.metric("wdo_instance_memory_bytes").await;
            assert!(
                total <= budget as f64,
                "after c{i}: {total} bytes held, budget {budget}"
            );
        }
    }
    let live = server
        .metric("wdo_live_objects{namespace=\"counter-py\"}")
        .await;
    assert!(
        live <= 3.0,
        "{live} live objects within a budget of 3.5 instances"
    );
    let evictions = server
        .metric("wdo_evictions_total{namespace=\"counter-py\"}")
        .await;
    assert!(
        evictions >= (2 * OBJECTS - 3) as f64,
        "{evictions} evictions for {} activations",
        2 * OBJECTS
    );
    // 48 activations of a Python object, at most three live at a time: the process grew by
    // much less than 48 instances would hold.
    let peak = server.memory_status("VmHWM");
    let grown = peak.saturating_sub(baseline);
    eprintln!("one instance {one} B, budget {budget} B, {live} live, {evictions} evictions, peak RSS {peak} B ({grown} B over the start)");
    assert!(
        (grown as f64) < one * 12.0,
        "peak RSS grew by {grown} bytes (one instance holds {one})"
    );
}
