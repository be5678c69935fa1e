//! Power cuts, not just `kill -9`: the real binary runs a mixed workload with a recorder
//! preloaded (`tests/powercut/shim.c`) that traces every write and sync it makes under its
//! data directory. Then, at 200 random points of that trace, the test rebuilds what a disk
//! would hold had the power been cut there (`power_cut_disk.rs`: what was synced, and a
//! random part of what was not, torn writes included), starts a plain `wdo serve` on it, and
//! checks: every write acknowledged before the cut is there, no turn is partly there, money is
//! conserved, and every database passes `PRAGMA integrity_check`. The seed is printed;
//! `WDO_POWERCUT_SEED` replays the same cuts of a new trace.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};
use serde_json::{json, Value};

use crate::harness::{components, Options, Server};
use crate::power_cut_disk::{self, Disk};

const CUTS: usize = 200;
const COUNTERS: usize = 12;
const USERS: [&str; 4] = ["ann", "bob", "cyd", "dee"];
const START_BALANCE: u64 = 1_000;
const WORKLOAD: Duration = Duration::from_secs(4);

/// What the clients were told, each answer with the trace's length when it arrived: the
/// write it acknowledges was durable by then.
#[derive(Default)]
struct Acks {
    /// Per counter: (count answered, trace length), and how many increments were sent.
    counters: Vec<(Vec<(u64, u64)>, u64)>,
    /// Notes: (text, trace length).
    notes: Vec<(String, u64)>,
    /// Scheduled tasks: (task, trace length).
    tasks: Vec<(String, u64)>,
    /// Where the trace stood when the deposits were all acknowledged.
    deposits_done: u64,
}

fn build_shim(dir: &Path) -> PathBuf {
    let out = dir.join("libwdo_powercut.so");
    let source = crate::harness::repo_root().join("tests/powercut/shim.c");
    let status = std::process::Command::new("cc")
        .args(["-shared", "-fPIC", "-O1", "-o"])
        .arg(&out)
        .arg(&source)
        .arg("-ldl")
        .status()
        .expect("cc (gcc) builds the power-cut recorder");
    assert!(status.success(), "cc failed on {}", source.display());
    out
}

fn options(data_dir: PathBuf) -> Options {
    let c = components();
    let mut options = Options::with_namespaces(vec![
        ("counter".into(), c.counter.clone()),
        ("bank".into(), c.bank.clone()),
        ("notes".into(), c.notes.clone()),
        ("queue".into(), c.queue.clone()),
    ]);
    // Small log segments (sealed and trimmed often), checkpoints every 16 pages (WALs start
    // over often) and few live objects (evicted and opened again often), so that the trace
    // holds every step of the log's life.
    options.extra =
        "log-segment-size = 65536\ncheckpoint-pages = 16\nmax-live-objects = 6\n".into();
    options.idle_timeout = "1s";
    options.data_dir = Some(data_dir);
    options
}

fn trace_len(trace: &Path) -> u64 {
    std::fs::metadata(trace).map_or(0, |m| m.len())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_hundred_power_cuts_lose_no_acknowledged_write_and_corrupt_nothing() {
    let seed: u64 = std::env::var("WDO_POWERCUT_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random);
    println!("power cut seed: {seed} (WDO_POWERCUT_SEED={seed} replays the cut points)");
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let work = tempfile::tempdir().unwrap();
    let shim = build_shim(work.path());
    let root = work.path().join("data");
    std::fs::create_dir(&root).unwrap();
    let trace = work.path().join("trace");
    let mut traced = options(root.clone());
    traced.env = vec![
        ("LD_PRELOAD", shim.display().to_string()),
        ("WDO_POWERCUT_TRACE", trace.display().to_string()),
        ("WDO_POWERCUT_ROOT", root.display().to_string()),
    ];
    let mut server = Server::start_with(traced);

    let acks = Arc::new(Mutex::new(Acks {
        counters: vec![(Vec::new(), 0); COUNTERS],
        ..Acks::default()
    }));
    for user in USERS {
        let body = json!({"user": user, "amount": START_BALANCE});
        let (status, value) = server.post("/bank/main/deposit", body).await;
        assert_eq!(status, 200, "{value}");
    }
    acks.lock().unwrap().deposits_done = trace_len(&trace);
    let deadline = Instant::now() + WORKLOAD;
    let mut load = Vec::new();
    for task in 0..3u64 {
        let (client, base, trace, acks) = (
            server.client.clone(),
            server.base.clone(),
            trace.clone(),
            acks.clone(),
        );
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed ^ (task + 1));
        load.push(tokio::spawn(async move {
            while Instant::now() < deadline {
                let i = rng.random_range(0..COUNTERS);
                acks.lock().unwrap().counters[i].1 += 1;
                let url = format!("{base}/counter/c{i}/increment");
                let Ok(response) = client.post(url).send().await else {
                    return;
                };
                let value: Value = response.json().await.unwrap();
                let count = value["count"].as_u64().expect("a count");
                acks.lock().unwrap().counters[i]
                    .0
                    .push((count, trace_len(&trace)));
            }
        }));
    }
    {
        let (client, base) = (server.client.clone(), server.base.clone());
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed ^ 100);
        load.push(tokio::spawn(async move {
            while Instant::now() < deadline {
                let from = USERS[rng.random_range(0..USERS.len())];
                let to = USERS[rng.random_range(0..USERS.len())];
                let body = json!({"from": from, "to": to, "amount": rng.random_range(1..300)});
                let fail = if rng.random_bool(0.2) {
                    "?fail=after-debit"
                } else {
                    ""
                };
                let url = format!("{base}/bank/main/transfer{fail}");
                if client.post(url).json(&body).send().await.is_err() {
                    return;
                }
            }
        }));
    }
    {
        let (client, base, trace, acks) = (
            server.client.clone(),
            server.base.clone(),
            trace.clone(),
            acks.clone(),
        );
        load.push(tokio::spawn(async move {
            let mut n = 0;
            while Instant::now() < deadline {
                n += 1;
                let text = format!("note-{n}");
                let url = format!("{base}/notes/log/");
                let Ok(response) = client.post(url).json(&json!({"text": text})).send().await
                else {
                    return;
                };
                assert_eq!(response.status(), 201);
                acks.lock().unwrap().notes.push((text, trace_len(&trace)));
                if n % 3 == 0 {
                    let task = format!("task-{n}");
                    let url = format!("{base}/queue/jobs/schedule");
                    let body = json!({"task": task, "delaySeconds": 0});
                    let Ok(response) = client.post(url).json(&body).send().await else {
                        return;
                    };
                    assert_eq!(response.status(), 200);
                    acks.lock().unwrap().tasks.push((task, trace_len(&trace)));
                }
            }
        }));
    }
    for task in load {
        task.await.unwrap();
    }
    // The power goes: nothing the process did not sync is safe.
    server.kill9();
    let bytes = std::fs::read(&trace).unwrap();
    let ops = power_cut_disk::parse(&bytes);
    let acks = acks.lock().unwrap();
    let acknowledged: usize =
        acks.counters.iter().map(|c| c.0.len()).sum::<usize>() + acks.notes.len();
    let renames = ops
        .iter()
        .filter(|(op, _)| matches!(op, power_cut_disk::Op::Rename { .. }))
        .count();
    // A database file is synced only after a checkpoint (or when a large WAL closes).
    let database_syncs = ops
        .iter()
        .filter(
            |(op, _)| matches!(op, power_cut_disk::Op::Sync { path } if path.ends_with(".sqlite")),
        )
        .count();
    println!(
        "traced {} operations ({} bytes, {renames} renames, {database_syncs} database syncs); \
         {acknowledged} writes acknowledged",
        ops.len(),
        bytes.len()
    );
    assert!(
        database_syncs >= 10,
        "WALs were checkpointed: {database_syncs} syncs of database files"
    );
    assert!(
        renames >= 4,
        "log segments were recycled (a trimmed segment renamed twice, then taken): {renames} renames"
    );
    assert!(
        acknowledged > 100,
        "the workload ran: {acknowledged} acknowledged"
    );

    // Cut points: after the deposits, at random records of the trace, in order.
    let first = ops
        .iter()
        .position(|(_, end)| *end >= acks.deposits_done)
        .unwrap_or(0);
    let mut cuts: Vec<usize> = (0..CUTS)
        .map(|_| rng.random_range(first..ops.len()))
        .collect();
    cuts.sort_unstable();
    let root_text = root.display().to_string();
    let mut disk = Disk::new(&root_text);
    let mut next = 0;
    let started = Instant::now();
    for (n, &cut) in cuts.iter().enumerate() {
        while next <= cut {
            disk.run(&ops[next].0);
            next += 1;
        }
        let at = ops[cut].1;
        let target = tempfile::tempdir().unwrap();
        let data = target.path().join("data");
        disk.cut(&root_text, &data, &mut rng);
        check_cut(&data, at, &acks)
            .await
            .unwrap_or_else(|e| panic!("cut {n} at trace byte {at} (record {cut}): {e}"));
    }
    println!(
        "{CUTS} cuts checked in {:.1} s",
        started.elapsed().as_secs_f64()
    );
}

/// Starts a plain host on the disk as the cut left it and checks what it serves.
async fn check_cut(data: &Path, at: u64, acks: &Acks) -> Result<(), String> {
    std::fs::create_dir_all(data).unwrap();
    let mut server = Server::start_with(options(data.to_owned()));
    let result = async {
        for (i, (answers, sent)) in acks.counters.iter().enumerate() {
            let acked = answers
                .iter()
                .filter(|(_, len)| *len <= at)
                .map(|(count, _)| *count)
                .max()
                .unwrap_or(0);
            let (status, body) = server.get(&format!("/counter/c{i}/get")).await;
            let count = body["count"]
                .as_u64()
                .ok_or(format!("c{i}: {status} {body}"))?;
            if count < acked || count > *sent {
                return Err(format!(
                    "counter c{i} is {count}: {acked} were acknowledged, {sent} sent"
                ));
            }
        }
        let mut total = 0;
        for user in USERS {
            let (_, body) = server.get(&format!("/bank/main/balance/{user}")).await;
            total += body["balance"]
                .as_u64()
                .ok_or(format!("balance of {user}: {body}"))?;
        }
        if total != START_BALANCE * USERS.len() as u64 {
            return Err(format!("the bank holds {total}: money was made or lost"));
        }
        let (_, body) = server.get("/notes/log/").await;
        let notes: Vec<&str> = body["notes"]
            .as_array()
            .ok_or(format!("notes: {body}"))?
            .iter()
            .filter_map(|n| n["text"].as_str())
            .collect();
        for (text, len) in &acks.notes {
            if *len <= at && !notes.contains(&text.as_str()) {
                return Err(format!("the acknowledged note {text} is missing"));
            }
        }
        let (_, status) = server.get("/queue/jobs/status").await;
        let mut known: Vec<String> = Vec::new();
        for task in status["pending"].as_array().into_iter().flatten() {
            known.extend(task.as_str().map(str::to_owned));
        }
        for task in status["done"].as_array().into_iter().flatten() {
            known.extend(task["task"].as_str().map(str::to_owned));
        }
        let mut seen = BTreeMap::new();
        for task in &known {
            *seen.entry(task).or_insert(0) += 1;
        }
        if let Some((task, _)) = seen.iter().find(|(_, n)| **n > 1) {
            return Err(format!("task {task} appears twice: {status}"));
        }
        for (task, len) in &acks.tasks {
            if *len <= at && !known.contains(task) {
                return Err(format!("the acknowledged task {task} is missing: {status}"));
            }
        }
        Ok(())
    }
    .await;
    server.stop();
    result?;
    for file in sqlite_files(data) {
        let conn = rusqlite::Connection::open(&file).map_err(|e| e.to_string())?;
        let check: String = conn
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .map_err(|e| format!("{}: {e}", file.display()))?;
        if check != "ok" {
            return Err(format!("{} fails integrity_check: {check}", file.display()));
        }
    }
    Ok(())
}

fn sqlite_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(sqlite_files(&path));
        } else if path.extension().is_some_and(|e| e == "sqlite") {
            files.push(path);
        }
    }
    files
}
