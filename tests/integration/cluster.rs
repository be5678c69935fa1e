//! Cluster mode with real engines (`cluster_engines.rs`: three etcd members, three NATS
//! JetStream servers) and three real `wdo serve` nodes on loopback: any node serves any
//! object, an object runs once cluster-wide, a dead or paused owner is replaced without an
//! acknowledged write lost or a stale one acknowledged, and losing one member of each
//! engine stops nothing. Every test holds `exclusive()` and stops all it started.
//!
//! The counter's answers carry the count after each increment, so a write acknowledged
//! from a stale copy of the object would show as two acknowledgements of the same count.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::connect_async;
use tokio_tungstenite::tungstenite::Message;

use crate::cluster_engines::{exclusive, free_port, Engines};
use crate::harness::{components, Options, Server};

/// Three nodes on fresh engines. Fields drop in order: the nodes before the engines.
struct Cluster {
    nodes: Vec<Server>,
    engines: Engines,
    _one_at_a_time: std::sync::MutexGuard<'static, ()>,
}

fn start_cluster(lease: &str) -> Cluster {
    let counter = ("counter".into(), components().counter.clone());
    start_cluster_with(lease, vec![counter], "", "")
}

/// Three nodes of `namespaces` (each with `namespace_extra`), and `extra` in each node's
/// config.
fn start_cluster_with(
    lease: &str,
    namespaces: Vec<(String, PathBuf)>,
    namespace_extra: &str,
    extra: &str,
) -> Cluster {
    let guard = exclusive();
    let engines = Engines::start();
    let nodes = (0..3)
        .map(|i| {
            let address = format!("127.0.0.1:{}", free_port());
            let cluster = engines.cluster_toml(&format!("n{i}"), &address, lease, "wdo");
            Server::start_with(Options {
                listen: Some(address.clone()),
                idle_timeout: "60s",
                extra: format!("{extra}\n{cluster}"),
                namespace_extra: namespace_extra.into(),
                ..Options::with_namespaces(namespaces.clone())
            })
        })
        .collect();
    Cluster {
        nodes,
        engines,
        _one_at_a_time: guard,
    }
}

impl Cluster {
    fn logs(&self) -> String {
        let mut text = String::new();
        for (i, node) in self.nodes.iter().enumerate() {
            let log = node.log();
            let tail: Vec<&str> = log.lines().rev().take(30).collect();
            text.push_str(&format!("--- node n{i}: warnings\n"));
            for line in log
                .lines()
                .filter(|l| l.contains(" WARN ") || l.contains(" ERROR "))
                .take(40)
            {
                text.push_str(line);
                text.push('\n');
            }
            text.push_str(&format!("--- node n{i}: last lines\n"));
            for line in tail.into_iter().rev() {
                text.push_str(line);
                text.push('\n');
            }
        }
        text + &self.engines.logs()
    }
}

/// What the clients saw: the counts acknowledged (with when their request was sent), and
/// the increments whose outcome they do not know (an error or no answer: it may or may not
/// have been applied).
#[derive(Default)]
struct Ledger {
    /// (sent, answered, count)
    acked: Vec<(Instant, Instant, u64)>,
    unknown: u64,
}

/// Clients incrementing `name` through `bases` (in turn) until `stop`, each giving up on a
/// request after `timeout`.
fn load(
    bases: Vec<String>,
    name: &str,
    clients: usize,
    timeout: Duration,
    stop: Arc<AtomicBool>,
    ledger: Arc<Mutex<Ledger>>,
) -> Vec<tokio::task::JoinHandle<()>> {
    (0..clients)
        .map(|c| {
            let (bases, stop, ledger) = (bases.clone(), stop.clone(), ledger.clone());
            let name = name.to_owned();
            let url =
                move |i: usize| format!("{}/counter/{name}/increment", bases[i % bases.len()]);
            let url = Arc::new(url);
            let client = reqwest::Client::builder().timeout(timeout).build().unwrap();
            tokio::spawn(async move {
                let mut i = c;
                while !stop.load(Ordering::Relaxed) {
                    i += 1;
                    let sent = Instant::now();
                    let answer = client.post(url(i)).send().await;
                    let count = match answer {
                        Ok(answer) if answer.status() == 200 => answer
                            .json::<Value>()
                            .await
                            .ok()
                            .and_then(|v| v["count"].as_u64()),
                        _ => None,
                    };
                    {
                        let mut ledger = ledger.lock().unwrap();
                        match count {
                            Some(count) => ledger.acked.push((sent, Instant::now(), count)),
                            None => ledger.unknown += 1,
                        }
                    }
                    if count.is_none() {
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                }
            })
        })
        .collect()
}

/// Checks the final count against what the clients were told, and returns the counts
/// acknowledged: each acknowledged once, none above the final count, which holds every
/// acknowledged increment and at most the unknown ones besides.
fn check_ledger(ledger: &Ledger, earlier_acks: u64, final_count: u64, logs: impl Fn() -> String) {
    let counts: BTreeSet<u64> = ledger.acked.iter().map(|(_, _, c)| *c).collect();
    assert_eq!(
        counts.len(),
        ledger.acked.len(),
        "a count was acknowledged twice: a write was acknowledged from a stale copy\n{}",
        logs()
    );
    let acked = ledger.acked.len() as u64 + earlier_acks;
    assert!(
        counts.last().is_none_or(|max| *max <= final_count),
        "an acknowledged count {:?} is above the final count {final_count}\n{}",
        counts.last(),
        logs()
    );
    assert!(
        final_count >= acked && final_count <= acked + ledger.unknown,
        "final count {final_count}, {acked} increments acknowledged, {} unknown\n{}",
        ledger.unknown,
        logs()
    );
}

/// The socket's next text message.
async fn next_text<S>(socket: &mut S) -> String
where
    S: StreamExt<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin,
{
    loop {
        match socket.next().await.unwrap().unwrap() {
            Message::Text(text) => break text.to_string(),
            _ => continue,
        }
    }
}

async fn count_via(node: &Server, name: &str) -> u64 {
    let (status, body) = node.get(&format!("/counter/{name}/get")).await;
    assert_eq!(status, 200, "{body}");
    body["count"].as_u64().unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn any_node_serves_any_object_and_racing_first_requests_activate_it_once() {
    let cluster = start_cluster("5s");
    let nodes = &cluster.nodes;
    for i in 0..9 {
        let answer = nodes[i % 3]
            .post(&format!("/counter/o{i}/increment"), json!(null))
            .await;
        assert_eq!(answer, (200, json!({"count": 1})), "{}", cluster.logs());
    }
    for i in 0..9 {
        for node in nodes {
            assert_eq!(count_via(node, &format!("o{i}")).await, 1);
        }
    }
    // First requests for one object race through all three nodes.
    let mut racing = Vec::new();
    for node in nodes {
        for _ in 0..20 {
            let url = node.url("/counter/race/increment");
            let client = node.client.clone();
            racing.push(tokio::spawn(async move {
                let answer = client.post(url).send().await.unwrap();
                assert_eq!(answer.status(), 200);
                answer.json::<Value>().await.unwrap()["count"]
                    .as_u64()
                    .unwrap()
            }));
        }
    }
    let mut counts = BTreeSet::new();
    for task in racing {
        counts.insert(task.await.unwrap());
    }
    assert_eq!(counts, (1..=60).collect(), "{}", cluster.logs());
    for node in nodes {
        assert_eq!(count_via(node, "race").await, 60);
    }
    // Ten objects, each activated once in the whole cluster.
    let mut activations = 0.0;
    for node in nodes {
        activations += node
            .metric("wdo_activations_total{namespace=\"counter\"}")
            .await;
    }
    assert_eq!(activations, 10.0, "{}", cluster.logs());
    // The admin API shows the nodes and where the objects live; the metrics count forwards.
    let mut forwarded = 0.0;
    let mut placed = 0;
    for (i, node) in nodes.iter().enumerate() {
        let (status, state) = node.admin_get("/v1/cluster").await;
        assert_eq!(status, 200, "{state}");
        assert_eq!(state["node"], json!(format!("n{i}")));
        assert_eq!(state["serving"], json!(true));
        let listed: Vec<&str> = state["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["node"].as_str().unwrap())
            .collect();
        assert_eq!(listed, ["n0", "n1", "n2"], "{state}");
        placed = state["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["objects"].as_u64().unwrap())
            .sum();
        forwarded += node.metric("wdo_cluster_forwarded_total").await;
    }
    assert_eq!(placed, 10);
    assert!(
        forwarded >= 18.0,
        "reads through non-owners are forwarded: {forwarded}"
    );
    // An object whose log grows past a snapshot's worth (1 MiB, and a checkpoint of its
    // WAL: ~1,000 pages) is snapshotted and its older messages purged; a node that then
    // takes it over rebuilds it from the snapshot and the rest.
    let snapshots = "wdo_cluster_snapshots_total";
    let before = nodes[0].metric(snapshots).await;
    for expected in 1..=1500 {
        let answer = nodes[0].post("/counter/snap/increment", json!(null)).await;
        assert_eq!(answer, (200, json!({ "count": expected })));
    }
    let taken = nodes[0].metric(snapshots).await - before;
    assert!(
        taken >= 1.0,
        "no snapshot after 1,500 commits\n{}",
        cluster.logs()
    );
    let mut cluster = cluster;
    cluster.nodes[0].kill9();
    assert_eq!(
        count_via(&cluster.nodes[1], "snap").await,
        1500,
        "{}",
        cluster.logs()
    );
    assert_eq!(count_via(&cluster.nodes[2], "snap").await, 1500);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_worker_on_any_node_reaches_objects_on_others_and_websockets_are_carried_to_the_owner() {
    let components = components();
    let worker = format!(
        "[worker]\ncomponent = {:?}\nroutes = [\"/w/\"]\nbindings = {{ PROBE = \"probe\" }}\n",
        components.worker
    );
    let cluster = start_cluster_with(
        "5s",
        vec![("probe".into(), components.probe.clone())],
        "bindings = { PROBE = \"probe\" }",
        &worker,
    );
    let nodes = &cluster.nodes;
    // The object lives on n0; the workers of n1 and n2 call it by RPC.
    let (status, body) = nodes[0].get("/probe/b/get?key=n").await;
    assert_eq!(status, 200, "{body}");
    let add = "/w/call?name=b&method=add&args=%5B%22n%22%2C4%5D"; // ["n",4]
    for (i, expected) in [(1, 4), (2, 8), (1, 12), (0, 16)] {
        let (status, body) = nodes[i].get(add).await;
        assert_eq!(
            (status, &body),
            (200, &json!({ "ok": expected })),
            "{}",
            cluster.logs()
        );
    }
    let (_, body) = nodes[0].get("/probe/b/get?key=n").await;
    assert_eq!(body["value"], json!(16));
    // A failing callee's error reaches the worker on another node as it is.
    let (_, body) = nodes[2]
        .get("/w/call?name=b&method=fail&args=%5B%22no%22%5D")
        .await;
    assert_eq!(body["error"]["code"], json!("failed"), "{body}");
    // stub.fetch from n2's worker, answered by the object on n0.
    let response = nodes[2]
        .client
        .post(nodes[2].url("/w/forward/b/echo?q=2"))
        .header("x-custom", "yes")
        .body("twelve bytes")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-probe"], "yes");
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        (&body["name"], &body["url"], &body["bodyLength"]),
        (&json!("b"), &json!("/echo?q=2"), &json!(12)),
        "{body}"
    );
    // One activation of the object in the whole cluster.
    let mut activations = 0.0;
    for node in nodes {
        activations += node
            .metric("wdo_activations_total{namespace=\"probe\"}")
            .await;
    }
    assert_eq!(activations, 1.0, "{}", cluster.logs());
    // Objects call objects on other nodes, and a cycle across nodes is still seen: a (on n0)
    // calls c (on n1), which calls a back.
    let (status, _) = nodes[1].get("/probe/c/get?key=n").await;
    assert_eq!(status, 200);
    let (_, body) = nodes[2]
        .get("/probe/a/call?name=c&method=add&args=%5B%22n%22%2C1%5D")
        .await;
    assert_eq!(body, json!({ "ok": 1 }), "{}", cluster.logs());
    let relay = "%5B%22PROBE%22%2C%22a%22%2C%22echo%22%2C%5B%5D%5D"; // ["PROBE","a","echo",[]]
    let (_, body) = nodes[2]
        .get(&format!("/probe/a/call?name=c&method=relay&args={relay}"))
        .await;
    assert_eq!(body["error"]["code"], json!("failed"), "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("call cycle"), "{message}");

    // A WebSocket to an object on n0, opened through n1: the socket is n0's.
    let (status, _) = nodes[0].get("/probe/room/ws/closes").await;
    assert_eq!(status, 200);
    let (mut socket, response) = connect_async(nodes[1].ws_url("/probe/room/ws?tags=a"))
        .await
        .expect("the upgrade through another node");
    assert_eq!(response.status(), 101);
    let _ = socket.next().await;
    socket.send(Message::text("hi")).await.unwrap();
    let reply = next_text(&mut socket).await;
    assert_eq!(reply, "echo hi");
    let (_, body) = nodes[2].get("/probe/room/ws/closes").await;
    assert_eq!(body["open"], json!(1), "{body}");
    let open = "wdo_websockets_open{namespace=\"probe\"}";
    assert_eq!(nodes[0].metric(open).await, 1.0);
    assert!(!nodes[1].metrics().await.contains(&format!("{open} 1")));
    socket.close(None).await.unwrap();
    while socket.next().await.is_some() {}
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (_, body) = nodes[0].get("/probe/room/ws/closes").await;
        if body["closes"].as_array().is_some_and(|c| c.len() == 1) {
            assert_eq!(body["open"], json!(0), "{body}");
            break;
        }
        assert!(Instant::now() < deadline, "no close event: {body}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // An upgrade a worker on n2 forwards with stub.fetch to an object on n0.
    let (status, _) = nodes[0].get("/probe/hall/ws/closes").await;
    assert_eq!(status, 200);
    let (mut socket, response) = connect_async(nodes[2].ws_url("/w/forward/hall/ws?tags=w"))
        .await
        .expect("the upgrade through a worker on another node");
    assert_eq!(response.status(), 101);
    let _ = socket.next().await;
    socket.send(Message::text("tags")).await.unwrap();
    let reply = next_text(&mut socket).await;
    assert!(
        reply.contains("\"w\""),
        "the object sees the socket's tag: {reply}"
    );
    let (_, body) = nodes[1].get("/probe/hall/ws/closes").await;
    assert_eq!(body["open"], json!(1), "{body}");
    socket.close(None).await.unwrap();

    // Calls between nodes need the nodes' secret.
    let refused = nodes[0]
        .client
        .post(nodes[0].url("/"))
        .header("x-wdo-call", "1")
        .header("x-wdo-node-secret", "guess")
        .body("anything")
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 403);
    assert!(refused.text().await.unwrap().contains("secret"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_killed_owner_is_replaced_within_15s_losing_no_acknowledged_increment_and_its_sockets_close_once(
) {
    let components = components();
    let namespaces = vec![
        ("counter".into(), components.counter.clone()),
        ("probe".into(), components.probe.clone()),
    ];
    let mut cluster = start_cluster_with("3s", namespaces, "", "");
    let first = cluster.nodes[0]
        .post("/counter/k/increment", json!(null))
        .await;
    assert_eq!(first, (200, json!({"count": 1})), "{}", cluster.logs());
    // Two sockets of an object on n0: one connected to n0, one carried by n1.
    let (status, _) = cluster.nodes[0].get("/probe/room/ws/closes").await;
    assert_eq!(status, 200);
    let mut sockets = Vec::new();
    for (node, tag) in [(0, "direct"), (1, "carried")] {
        let url = cluster.nodes[node].ws_url(&format!("/probe/room/ws?tags={tag}"));
        let (mut socket, _) = connect_async(url).await.expect("upgrade");
        let _ = socket.next().await;
        sockets.push(socket);
    }
    let bases = vec![cluster.nodes[1].base.clone(), cluster.nodes[2].base.clone()];
    let (stop, ledger) = (Arc::new(AtomicBool::new(false)), Arc::new(Mutex::default()));
    let clients = load(
        bases,
        "k",
        4,
        Duration::from_secs(40),
        stop.clone(),
        ledger.clone(),
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(
        !ledger.lock().unwrap().acked.is_empty(),
        "no increment went through: {}",
        cluster.logs()
    );
    let killed = Instant::now();
    cluster.nodes[0].kill9();
    let served_again = loop {
        // The first increment sent after the kill and acknowledged.
        let after = ledger
            .lock()
            .unwrap()
            .acked
            .iter()
            .find(|(sent, _, _)| *sent > killed)
            .map(|(_, at, _)| *at);
        if let Some(at) = after {
            break at - killed;
        }
        assert!(
            killed.elapsed() < Duration::from_secs(20),
            "no increment acknowledged 20s after the kill\n{}",
            cluster.logs()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    tokio::time::sleep(Duration::from_secs(1)).await;
    stop.store(true, Ordering::Relaxed);
    for client in clients {
        client.await.unwrap();
    }
    let final_count = count_via(&cluster.nodes[1], "k").await;
    let ledger = ledger.lock().unwrap();
    println!(
        "served again {served_again:?} after the kill; {} acknowledged, {} unknown, final count {final_count}",
        ledger.acked.len() + 1,
        ledger.unknown
    );
    assert!(
        served_again < Duration::from_secs(15),
        "served again only after {served_again:?}"
    );
    check_ledger(&ledger, 1, final_count, || cluster.logs());
    assert_eq!(count_via(&cluster.nodes[2], "k").await, final_count);
    // The sockets were cut off with no close frame (1006 for their clients)...
    for mut socket in sockets {
        let end = tokio::time::timeout(Duration::from_secs(20), async {
            loop {
                match socket.next().await {
                    Some(Ok(Message::Close(frame))) => break Some(frame),
                    Some(Ok(_)) => continue,
                    Some(Err(_)) | None => break None,
                }
            }
        })
        .await
        .expect("the socket did not end after its node was killed");
        assert_eq!(end, None, "a close frame came from a killed node");
    }
    // ...and the object, now on another node, had its close event for each, once.
    for node in [1, 2, 1] {
        let (status, body) = cluster.nodes[node].get("/probe/room/ws/closes").await;
        assert_eq!(status, 200, "{body}");
        let closes = body["closes"].as_array().unwrap();
        assert_eq!(closes.len(), 2, "{body}\n{}", cluster.logs());
        for close in closes {
            assert_eq!(
                (&close["code"], &close["wasClean"]),
                (&json!(1006), &json!(false))
            );
        }
        let mut tags: Vec<&Value> = body["closeTags"].as_array().unwrap().iter().collect();
        tags.sort_by_key(|t| t.to_string());
        assert_eq!(tags, [&json!(["carried"]), &json!(["direct"])], "{body}");
        assert_eq!(body["open"], json!(0), "{body}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_paused_owner_acknowledges_nothing_after_it_wakes() {
    let cluster = start_cluster("3s");
    let first = cluster.nodes[0]
        .post("/counter/z/increment", json!(null))
        .await;
    assert_eq!(first, (200, json!({"count": 1})), "{}", cluster.logs());
    let (stop, ledger) = (Arc::new(AtomicBool::new(false)), Arc::new(Mutex::default()));
    let others = vec![cluster.nodes[1].base.clone(), cluster.nodes[2].base.clone()];
    // Clients give up on a request after 2s (one forwarded to the paused owner waits for
    // it), and send the next.
    let patience = Duration::from_secs(2);
    let mut clients = load(others, "z", 3, patience, stop.clone(), ledger.clone());
    // Clients of the owner itself: their requests wait in its sockets while it is paused.
    let owner = vec![cluster.nodes[0].base.clone()];
    clients.extend(load(owner, "z", 3, patience, stop.clone(), ledger.clone()));
    tokio::time::sleep(Duration::from_secs(1)).await;
    cluster.nodes[0].signal(libc::SIGSTOP);
    let paused = Instant::now();
    tokio::time::sleep(Duration::from_secs(8)).await;
    let during = ledger
        .lock()
        .unwrap()
        .acked
        .iter()
        .filter(|(sent, _, _)| *sent > paused)
        .count();
    cluster.nodes[0].signal(libc::SIGCONT);
    tokio::time::sleep(Duration::from_secs(4)).await;
    stop.store(true, Ordering::Relaxed);
    for client in clients {
        client.await.unwrap();
    }
    let final_count = count_via(&cluster.nodes[1], "z").await;
    let ledger = ledger.lock().unwrap();
    println!(
        "{during} increments acknowledged during the pause; {} in all, {} unknown, final count {final_count}",
        ledger.acked.len() + 1,
        ledger.unknown
    );
    assert!(
        during > 0,
        "no other node took the object over during the pause\n{}",
        cluster.logs()
    );
    check_ledger(&ledger, 1, final_count, || cluster.logs());
    // The woken node serves again, from the new owner.
    assert_eq!(
        count_via(&cluster.nodes[0], "z").await,
        final_count,
        "{}",
        cluster.logs()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_cluster_keeps_serving_when_one_etcd_member_and_one_nats_server_die() {
    let mut cluster = start_cluster("5s");
    for i in 0..3 {
        let answer = cluster.nodes[i]
            .post(&format!("/counter/m{i}/increment"), json!(null))
            .await;
        assert_eq!(answer, (200, json!({"count": 1})), "{}", cluster.logs());
    }
    cluster.engines.etcd[0].kill();
    cluster.engines.nats[0].kill();
    // Existing and new objects, through every node: each increment is retried until it is
    // acknowledged (JetStream may elect a new leader first), and counted once it is.
    let mut unknown = [0u64; 6];
    for (i, unknown) in unknown.iter_mut().enumerate() {
        for node in &cluster.nodes {
            let started = Instant::now();
            loop {
                let (status, _) = node
                    .post(&format!("/counter/m{i}/increment"), json!(null))
                    .await;
                if status == 200 {
                    break;
                }
                *unknown += 1;
                assert!(
                    started.elapsed() < Duration::from_secs(30),
                    "not served 30s after the failures\n{}",
                    cluster.logs()
                );
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }
    for (i, unknown) in unknown.iter().enumerate() {
        let acked = if i < 3 { 4 } else { 3 };
        let count = count_via(&cluster.nodes[(i + 1) % 3], &format!("m{i}")).await;
        assert!(
            count >= acked && count <= acked + unknown,
            "m{i}: {count} after {acked} acknowledged, {unknown} unknown\n{}",
            cluster.logs()
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rolling_restart_under_load_fails_no_request() {
    let mut cluster = start_cluster("3s");
    const OBJECTS: usize = 6;
    for i in 0..OBJECTS {
        let answer = cluster.nodes[i % 3]
            .post(&format!("/counter/r{i}/increment"), json!(null))
            .await;
        assert_eq!(answer, (200, json!({"count": 1})), "{}", cluster.logs());
    }
    // Clients send only to nodes that are up (as a load balancer would): a node leaves the
    // rotation before it is stopped and joins it again once it has restarted.
    let up: Arc<Mutex<Vec<String>>> = Arc::new(Mutex::new(
        cluster.nodes.iter().map(|n| n.base.clone()).collect(),
    ));
    let stop = Arc::new(AtomicBool::new(false));
    let acked = Arc::new(Mutex::new(vec![1u64; OBJECTS]));
    let failures = Arc::new(Mutex::new(Vec::<String>::new()));
    let clients: Vec<_> = (0..4)
        .map(|c| {
            let (up, stop, acked, failures) =
                (up.clone(), stop.clone(), acked.clone(), failures.clone());
            tokio::spawn(async move {
                let client = reqwest::Client::new();
                let mut i = c;
                while !stop.load(Ordering::Relaxed) {
                    i += 1;
                    let base = {
                        let up = up.lock().unwrap();
                        up[i % up.len()].clone()
                    };
                    let object = i % OBJECTS;
                    let answer = client
                        .post(format!("{base}/counter/r{object}/increment"))
                        .timeout(Duration::from_secs(40))
                        .send()
                        .await;
                    match answer {
                        Ok(answer) if answer.status() == 200 => acked.lock().unwrap()[object] += 1,
                        Ok(answer) => {
                            let status = answer.status();
                            let text = answer.text().await.unwrap_or_default();
                            failures
                                .lock()
                                .unwrap()
                                .push(format!("{base}: {status} {text}"));
                        }
                        Err(e) => failures.lock().unwrap().push(format!("{base}: {e}")),
                    }
                }
            })
        })
        .collect();
    for n in 0..3 {
        tokio::time::sleep(Duration::from_secs(2)).await;
        let base = cluster.nodes[n].base.clone();
        up.lock().unwrap().retain(|b| *b != base);
        tokio::time::sleep(Duration::from_millis(300)).await;
        cluster.nodes[n].restart();
        up.lock().unwrap().push(cluster.nodes[n].base.clone());
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    stop.store(true, Ordering::Relaxed);
    for client in clients {
        client.await.unwrap();
    }
    let failures = failures.lock().unwrap().clone();
    assert!(
        failures.is_empty(),
        "{} requests failed: {:?}\n{}",
        failures.len(),
        &failures[..failures.len().min(5)],
        cluster.logs()
    );
    let acked = acked.lock().unwrap().clone();
    println!("increments acknowledged per object: {acked:?}");
    for (i, acked) in acked.iter().enumerate() {
        assert_eq!(
            count_via(&cluster.nodes[i % 3], &format!("r{i}")).await,
            *acked,
            "r{i}\n{}",
            cluster.logs()
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_alarm_set_on_a_node_that_dies_fires_on_another_node() {
    let guard = exclusive();
    let engines = Engines::start();
    let mut nodes: Vec<Server> = (0..3)
        .map(|i| {
            let address = format!("127.0.0.1:{}", free_port());
            Server::start_with(Options {
                listen: Some(address.clone()),
                idle_timeout: "60s",
                extra: engines.cluster_toml(&format!("n{i}"), &address, "3s", "wdo"),
                ..Options::with_namespaces(vec![("queue".into(), components().queue.clone())])
            })
        })
        .collect();
    let body = json!({"task": "after-the-crash", "delaySeconds": 6});
    let answer = nodes[0].post("/queue/q/schedule", body).await;
    assert_eq!(answer, (200, json!({"scheduled": true})));
    let (_, status) = nodes[1].get("/queue/q/status").await;
    assert!(status["alarm"].is_u64(), "{status}");
    nodes[0].kill9();
    // Nobody asks for the object: the alarm alone brings it back, on another node, once the
    // dead owner's lease has expired (3s) and the alarm is due (6s). The first request after
    // that finds it done (a request that activated the object first would find it pending).
    tokio::time::sleep(Duration::from_secs(14)).await;
    let (code, status) = nodes[1].get("/queue/q/status").await;
    assert_eq!(code, 200, "{status}");
    assert_eq!(
        status["done"],
        json!([{"task": "after-the-crash", "retryCount": 0}]),
        "the alarm did not fire on another node: {status}\n{}\n{}",
        nodes[1].log(),
        nodes[2].log()
    );
    assert_eq!(status["pending"], json!([]));
    drop(nodes);
    drop(engines);
    drop(guard);
}
