//! `kill -9` in a loop: one real `wdo serve` on one data directory is killed 50 times at
//! random moments (a seeded RNG; the seed is printed, `WDO_CRASH_SEED` replays it) while
//! counters, bank transfers, alarms and chat messages run concurrently, and restarted after
//! each kill. After every restart each acknowledged write is there, a refused or unanswered
//! one at most once, money is conserved, and no scheduled task is lost or run twice; at the
//! end every database passes `PRAGMA integrity_check`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

use crate::harness::{eventually, Options, Server};

const KILLS: usize = 50;
const COUNTERS: usize = 3;
const QUEUES: usize = 3;
const USERS: [&str; 4] = ["ann", "bob", "cyd", "dee"];
const START_BALANCE: u64 = 1_000;
/// Messages per chat room at most: the room's history (the last 50) then shows them all.
const ROOM_MESSAGES: usize = 40;

/// What the clients know: what was acknowledged, and what was sent without an answer.
#[derive(Default)]
struct Ledger {
    counters: Vec<Counter>,
    /// Per queue, each task scheduled: whether `schedule` was acknowledged.
    tasks: Vec<BTreeMap<String, bool>>,
    /// Per chat room (one per cycle): every message sent, and those broadcast back.
    rooms: BTreeMap<String, (BTreeSet<String>, BTreeSet<String>)>,
    /// Bank transfers and batches answered.
    transfers: u64,
}

/// One counter: its value at the last check, the highest count acknowledged since, and
/// the increments sent since.
#[derive(Default, Clone, Copy)]
struct Counter {
    checked: u64,
    acked: u64,
    sent: u64,
}

type Shared = Arc<Mutex<Ledger>>;

/// The address of the running server, for the load tasks.
#[derive(Clone)]
struct Target {
    base: String,
    client: reqwest::Client,
}

impl Target {
    async fn post(&self, path: &str, body: Value) -> Option<(u16, Value)> {
        let url = format!("{}{path}", self.base);
        let response = self.client.post(url).json(&body).send().await.ok()?;
        let status = response.status().as_u16();
        let value = response.json::<Value>().await.ok()?;
        Some((status, value))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_kills_under_mixed_load_lose_no_acknowledged_write_and_corrupt_nothing() {
    let seed: u64 = std::env::var("WDO_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random);
    println!("crash loop seed: {seed} (WDO_CRASH_SEED={seed} replays the kill moments)");
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let started = Instant::now();

    let mut options = Options::default();
    options
        .namespaces
        .retain(|(name, _)| ["counter", "bank", "queue", "chat"].contains(&name.as_str()));
    let mut server = Server::start_with(options);
    for user in USERS {
        let body = json!({"user": user, "amount": START_BALANCE});
        let (status, value) = server.post("/bank/main/deposit", body).await;
        assert_eq!(status, 200, "{value}");
    }
    let ledger: Shared = Arc::new(Mutex::new(Ledger {
        counters: vec![Counter::default(); COUNTERS],
        tasks: vec![BTreeMap::new(); QUEUES],
        rooms: BTreeMap::new(),
        transfers: 0,
    }));

    for cycle in 0..KILLS {
        let target = Target {
            base: server.base.clone(),
            client: server.client.clone(),
        };
        let room = format!("room-{cycle}");
        let mut load = Vec::new();
        for _ in 0..2 {
            let seed = rng.random::<u64>();
            load.push(tokio::spawn(counters(target.clone(), ledger.clone(), seed)));
            let seed = rng.random::<u64>();
            load.push(tokio::spawn(transfers(
                target.clone(),
                ledger.clone(),
                seed,
            )));
        }
        let queue_seed = rng.random::<u64>();
        load.push(tokio::spawn(schedule(
            target.clone(),
            ledger.clone(),
            cycle,
            queue_seed,
        )));
        load.push(tokio::spawn(chat(
            server.ws_url(&format!("/chat/{room}/websocket?name=c{cycle}")),
            ledger.clone(),
            room.clone(),
        )));
        tokio::time::sleep(Duration::from_millis(rng.random_range(100..500))).await;
        server.kill9();
        // Every task stops at its first failed request: the kill.
        for task in load {
            tokio::time::timeout(Duration::from_secs(30), task)
                .await
                .expect("a load task stops after the kill")
                .unwrap();
        }
        server.restart_after_kill();
        check(&server, &ledger, Some(&room))
            .await
            .unwrap_or_else(|e| panic!("after kill {}: {e}\n{}", cycle + 1, server.log()));
    }
    {
        // The load got through between the kills: the checks above checked something.
        let ledger = ledger.lock().unwrap();
        let increments: u64 = ledger.counters.iter().map(|c| c.acked).sum();
        let tasks: usize = ledger.tasks.iter().map(BTreeMap::len).sum();
        let messages: usize = ledger.rooms.values().map(|(_, acked)| acked.len()).sum();
        println!(
            "{KILLS} kills in {:?}: {increments} increments, {} transfers, {tasks} tasks and \
             {messages} chat messages acknowledged",
            started.elapsed(),
            ledger.transfers
        );
        let least = KILLS as u64 / 5;
        assert!(
            increments > least && ledger.transfers > least,
            "too little load got through"
        );
        assert!(
            tasks > KILLS / 5 && messages > KILLS / 5,
            "too little load got through"
        );
    }

    // Alarms still fire after the last restart: every acknowledged task gets done.
    let drained = eventually(Duration::from_secs(60), || async {
        let mut all = true;
        for queue in 0..QUEUES {
            let (_, status) = server.get(&format!("/queue/q{queue}/status")).await;
            all &= status["pending"].as_array().is_some_and(|p| p.is_empty());
        }
        all
    })
    .await;
    assert!(
        drained,
        "scheduled tasks stopped running:\n{}",
        server.log()
    );
    check(&server, &ledger, None)
        .await
        .unwrap_or_else(|e| panic!("at the end: {e}"));
    server.stop();
    let checked = integrity_check(&server.data_dir());
    assert!(
        checked >= 4 + COUNTERS + QUEUES + KILLS,
        "{checked} databases"
    );
    println!("crash loop done in {:?}", started.elapsed());
}

/// Increments random counters; each is counted as sent before it goes out.
async fn counters(target: Target, ledger: Shared, seed: u64) {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    loop {
        let index = rng.random_range(0..COUNTERS);
        ledger.lock().unwrap().counters[index].sent += 1;
        let Some((200, value)) = target
            .post(&format!("/counter/c{index}/increment"), json!({}))
            .await
        else {
            return;
        };
        let count = value["count"].as_u64().expect("a count");
        let mut ledger = ledger.lock().unwrap();
        let counter = &mut ledger.counters[index];
        counter.acked = counter.acked.max(count);
    }
}

/// Random transfers and all-or-nothing batches between the users; answers do not matter.
async fn transfers(target: Target, ledger: Shared, seed: u64) {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let transfer = |rng: &mut rand::rngs::StdRng| {
        let from = USERS[rng.random_range(0..USERS.len())];
        let to = USERS[rng.random_range(0..USERS.len())];
        json!({"from": from, "to": to, "amount": rng.random_range(1..400)})
    };
    loop {
        let sent = if rng.random_bool(0.2) {
            let batch: Vec<Value> = (0..3).map(|_| transfer(&mut rng)).collect();
            target
                .post("/bank/main/batch", json!({ "transfers": batch }))
                .await
        } else {
            let body = transfer(&mut rng);
            target.post("/bank/main/transfer", body).await
        };
        if !matches!(sent, Some((200, _))) {
            return;
        }
        ledger.lock().unwrap().transfers += 1;
    }
}

/// Schedules a uniquely named task on a random queue, due at once (a queue runs one a
/// second).
async fn schedule(target: Target, ledger: Shared, cycle: usize, seed: u64) {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    tokio::time::sleep(Duration::from_millis(rng.random_range(0..150))).await;
    let queue = rng.random_range(0..QUEUES);
    let task = format!("t{cycle}");
    ledger.lock().unwrap().tasks[queue].insert(task.clone(), false);
    let body = json!({"task": task, "delaySeconds": 0});
    if let Some((200, _)) = target
        .post(&format!("/queue/q{queue}/schedule"), body)
        .await
    {
        ledger.lock().unwrap().tasks[queue].insert(task, true);
    }
}

/// Joins this cycle's room and posts messages; one broadcast back is its acknowledgement.
async fn chat(url: String, ledger: Shared, room: String) {
    ledger
        .lock()
        .unwrap()
        .rooms
        .insert(room.clone(), Default::default());
    let Ok((mut socket, _)) = tokio_tungstenite::connect_async(url).await else {
        return;
    };
    for n in 0..ROOM_MESSAGES {
        let text = format!("{room}/{n}");
        ledger
            .lock()
            .unwrap()
            .rooms
            .get_mut(&room)
            .unwrap()
            .0
            .insert(text.clone());
        let message = json!({"type": "message", "text": text}).to_string();
        if socket.send(Message::text(message)).await.is_err() {
            return;
        }
        // Our own message comes back once it is durable (history and joins come first).
        loop {
            let Some(Ok(Message::Text(frame))) = socket.next().await else {
                return;
            };
            let value: Value = serde_json::from_str(&frame).unwrap_or_default();
            if value["type"] == "message" {
                assert_eq!(value["text"], json!(text), "messages arrive in order");
                let mut ledger = ledger.lock().unwrap();
                ledger.rooms.get_mut(&room).unwrap().1.insert(text);
                break;
            }
        }
    }
}

/// Reads every object back and compares it with the ledger; narrows the ledger to what the
/// server now holds. Checks one chat room (`room`) or, with `None`, every room.
async fn check(server: &Server, ledger: &Shared, room: Option<&str>) -> Result<(), String> {
    for index in 0..COUNTERS {
        let (status, value) = server.get(&format!("/counter/c{index}/get")).await;
        let count = value["count"].as_u64().ok_or(format!("{status} {value}"))?;
        let mut ledger = ledger.lock().unwrap();
        let counter = &mut ledger.counters[index];
        let (acked, most) = (counter.acked, counter.checked + counter.sent);
        if count < acked || count > most {
            return Err(format!(
                "counter c{index} is {count}: {acked} was acknowledged, at most {most} sent"
            ));
        }
        *counter = Counter {
            checked: count,
            acked: count,
            sent: 0,
        };
    }

    let mut total = 0;
    for user in USERS {
        let (status, value) = server.get(&format!("/bank/main/balance/{user}")).await;
        total += value["balance"]
            .as_u64()
            .ok_or(format!("{status} {value}"))?;
    }
    let expected = START_BALANCE * USERS.len() as u64;
    if total != expected {
        return Err(format!("the bank holds {total}, not {expected}"));
    }

    for queue in 0..QUEUES {
        let (status, value) = server.get(&format!("/queue/q{queue}/status")).await;
        let tasks = |list: &str, field: Option<&str>| -> Vec<String> {
            value[list]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|v| field.map_or(v, |f| &v[f]).as_str().map(String::from))
                .collect()
        };
        let (pending, done) = (tasks("pending", None), tasks("done", Some("task")));
        if status != 200 {
            return Err(format!("queue q{queue}: {status} {value}"));
        }
        let mut seen = BTreeSet::new();
        for task in pending.iter().chain(&done) {
            if !seen.insert(task) {
                return Err(format!("queue q{queue} holds {task} twice: {value}"));
            }
        }
        let mut ledger = ledger.lock().unwrap();
        for (task, acked) in &ledger.tasks[queue] {
            if *acked && !seen.contains(task) {
                return Err(format!(
                    "queue q{queue} lost acknowledged task {task}: {value}"
                ));
            }
        }
        if let Some(stranger) = seen.iter().find(|t| !ledger.tasks[queue].contains_key(**t)) {
            return Err(format!("queue q{queue} holds {stranger}, never sent"));
        }
        if !pending.is_empty() && value["alarm"].is_null() {
            return Err(format!(
                "queue q{queue} has pending tasks and no alarm: {value}"
            ));
        }
        // What is there now is there for good; what is not was never acknowledged.
        ledger.tasks[queue].retain(|task, _| seen.contains(task));
        ledger.tasks[queue]
            .values_mut()
            .for_each(|acked| *acked = true);
    }

    let rooms: Vec<(String, BTreeSet<String>, BTreeSet<String>)> = {
        let ledger = ledger.lock().unwrap();
        ledger
            .rooms
            .iter()
            .filter(|(name, _)| room.is_none_or(|r| r == name.as_str()))
            .map(|(name, (sent, acked))| (name.clone(), sent.clone(), acked.clone()))
            .collect()
    };
    for (name, sent, acked) in rooms {
        let history = chat_history(server, &name).await?;
        let texts: Vec<&str> = history.iter().filter_map(|m| m["text"].as_str()).collect();
        let unique: BTreeSet<&str> = texts.iter().copied().collect();
        if unique.len() != texts.len() {
            return Err(format!("room {name} repeats a message: {texts:?}"));
        }
        if let Some(lost) = acked.iter().find(|t| !unique.contains(t.as_str())) {
            return Err(format!(
                "room {name} lost broadcast message {lost}: {texts:?}"
            ));
        }
        if let Some(stranger) = unique.iter().find(|t| !sent.contains(**t)) {
            return Err(format!("room {name} holds {stranger}, never sent"));
        }
    }
    Ok(())
}

/// A room's history, as a new member receives it.
async fn chat_history(server: &Server, room: &str) -> Result<Vec<Value>, String> {
    let url = server.ws_url(&format!("/chat/{room}/websocket?name=checker"));
    let (mut socket, _) = tokio_tungstenite::connect_async(url)
        .await
        .map_err(|e| format!("joining {room}: {e}"))?;
    let first = tokio::time::timeout(Duration::from_secs(20), socket.next())
        .await
        .map_err(|_| format!("no history from {room}"))?;
    let Some(Ok(Message::Text(text))) = first else {
        return Err(format!("{room} answered {first:?}"));
    };
    let _ = socket.close(None).await;
    let value: Value = serde_json::from_str(&text).map_err(|e| e.to_string())?;
    if value["type"] != "history" {
        return Err(format!("{room} sent {value} first"));
    }
    Ok(value["messages"].as_array().cloned().unwrap_or_default())
}

/// Runs `PRAGMA integrity_check` on every SQLite file under `data`; returns how many.
fn integrity_check(data: &Path) -> usize {
    let mut checked = 0;
    let mut dirs = vec![data.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                if !path.ends_with(".cache") {
                    dirs.push(path);
                }
                continue;
            }
            if path.extension().is_none_or(|e| e != "sqlite") {
                continue;
            }
            let db = rusqlite::Connection::open(&path).unwrap();
            let result: String = db
                .query_row("PRAGMA integrity_check", [], |row| row.get(0))
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            assert_eq!(result, "ok", "{}", path.display());
            checked += 1;
        }
    }
    checked
}
