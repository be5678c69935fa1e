//! Every attack of the hostile probe at once — memory to its limit, SQL results and lists
//! over their bounds, endless loops, a flood of log lines, WebSocket floods to a client that
//! does not read — while another object is incremented: the host's peak resident memory
//! stays under a stated bound, and the other object answers every request.

use std::time::Duration;

use futures_util::SinkExt;
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;

use crate::harness::{Options, Server};
use crate::websockets::{connect, next};

/// The bound on how much the host's resident memory may grow over its start while under
/// attack. What the limits allow at once here: 3 instances at the 128 MiB memory limit,
/// 2 SQL results at the 64 MiB bound (held by the host, then copied into the guest's
/// memory), a list refused at 64 MiB, 2 x 64 MiB of WebSocket output of one event (16 MiB
/// queued for a client that does not read), plus the instances themselves: about 900 MiB.
const BOUND: u64 = 1200 << 20;

#[tokio::test(flavor = "multi_thread")]
async fn every_attack_at_once_stays_under_the_memory_bound_and_others_keep_answering() {
    let server = Server::start_with(Options {
        namespace_extra: "cpu-limit = \"3s\"".into(),
        ..Options::default()
    });
    assert_eq!(
        server.post("/counter/bystander/increment", json!({})).await,
        (200, json!({"count": 1}))
    );
    let start = server.memory_status("VmRSS");
    let server = &server;
    let big_result = format!(
        "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 2000000) SELECT {} FROM n",
        vec!["''"; 100].join(", ")
    );
    let attacks = async {
        let mut sockets = Vec::new();
        for room in ["flood-1", "flood-2"] {
            let mut client = connect(&server, &format!("/probe/{room}/ws")).await;
            assert_eq!(next(&mut client).await, json!({"attached": 2}));
            // One event sends 64 MiB in 1 MiB messages; this client never reads again.
            client
                .send(Message::text(format!("flood 100 {}", 1 << 20)))
                .await
                .unwrap();
            sockets.push(client);
        }
        let requests = [
            ("/probe/alloc-1/alloc?mb=200", json!(null)),
            ("/probe/alloc-2/alloc?mb=200", json!(null)),
            ("/probe/alloc-3/alloc?mb=200", json!(null)),
            ("/probe/loop-1/loop", json!(null)),
            ("/probe/loop-2/loop", json!(null)),
            ("/probe/logs/print-many?lines=200000", json!(null)),
            ("/probe/fill/fill?count=40&size=2097152", json!(null)),
            ("/probe/sql-1/sql", json!({"query": big_result})),
            ("/probe/sql-2/sql", json!({"query": big_result})),
        ];
        let calls = requests.iter().map(|(path, body)| async move {
            if body.is_null() {
                server.get(path).await.0
            } else {
                server.post(path, body.clone()).await.0
            }
        });
        let statuses = futures_util::future::join_all(calls).await;
        // The list over its bound, after the fill.
        let listed = server.get("/probe/fill/list").await;
        (statuses, listed, sockets)
    };
    let bystander = async {
        for i in 2..=200 {
            assert_eq!(
                server.post("/counter/bystander/increment", json!({})).await,
                (200, json!({"count": i})),
                "the bystander's request {i}"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    };
    let ((statuses, listed, _sockets), ()) = tokio::join!(attacks, bystander);
    // Over the memory limit and the CPU limit: the event fails; the rest are refused as
    // values (the probe answers storage errors as JSON).
    assert_eq!(statuses, [500, 500, 500, 500, 500, 200, 200, 200, 200]);
    assert!(
        listed.1["error"]
            .as_str()
            .is_some_and(|e| e.contains("over the limit of 67108864 bytes")),
        "{listed:?}"
    );
    let peak = server.memory_status("VmHWM");
    let grown = peak.saturating_sub(start);
    eprintln!("peak RSS {peak} B, {grown} B over the start ({start} B)");
    assert!(
        grown < BOUND,
        "the host grew by {grown} bytes under attack; the bound is {BOUND}"
    );
    // Everything still answers.
    assert_eq!(server.get("/probe/alloc-1/echo").await.0, 200);
    assert_eq!(
        server.get("/counter/bystander/get").await,
        (200, json!({"count": 200}))
    );
}
