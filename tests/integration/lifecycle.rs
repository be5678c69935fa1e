//! Activation, eviction, restarts, crashes, the live-object cap and the data-dir lock.

use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;

use crate::harness::{decode, eventually, Options, Server};

const ACTIVATIONS: &str = "wdo_activations_total{namespace=\"counter\"}";
const EVICTIONS: &str = "wdo_evictions_total{namespace=\"counter\"}";
const LIVE: &str = "wdo_live_objects{namespace=\"counter\"}";

#[tokio::test(flavor = "multi_thread")]
async fn racing_first_requests_make_exactly_one_activation() {
    let server = Server::start();
    let mut tasks = Vec::new();
    for _ in 0..50 {
        let client = server.client.clone();
        let url = server.url("/counter/race/increment");
        tasks.push(tokio::spawn(async move {
            client.get(url).send().await.unwrap().status()
        }));
    }
    for task in tasks {
        assert_eq!(task.await.unwrap(), 200);
    }
    assert_eq!(server.metric(ACTIVATIONS).await, 1.0);
    assert_eq!(server.metric(LIVE).await, 1.0);
    assert_eq!(
        server.get("/counter/race/get").await,
        (200, json!({"count": 50}))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_idle_object_is_evicted_and_its_state_survives() {
    let server = Server::start_with(Options {
        idle_timeout: "300ms",
        ..Options::default()
    });
    server.get("/counter/e/increment").await;
    server.get("/counter/e/increment").await;
    let evicted = eventually(Duration::from_secs(10), || async {
        server.metric(EVICTIONS).await >= 1.0
    })
    .await;
    assert!(evicted, "the idle object was not evicted");
    assert_eq!(server.metric(LIVE).await, 0.0);
    assert_eq!(
        server.get("/counter/e/get").await,
        (200, json!({"count": 2}))
    );
    assert_eq!(
        server.metric(ACTIVATIONS).await,
        2.0,
        "re-created from storage"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_busy_object_is_not_evicted() {
    // Busy for over three idle timeouts, with gaps far shorter than one (generous on a
    // loaded machine); then, left idle, it is evicted: the idle timer was running all along.
    let server = Server::start_with(Options {
        idle_timeout: "2s",
        ..Options::default()
    });
    let started = std::time::Instant::now();
    let mut count = 0;
    while started.elapsed() < Duration::from_secs(7) {
        count += 1;
        assert_eq!(
            server.get("/counter/busy/increment").await,
            (200, json!({"count": count}))
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(server.metric(EVICTIONS).await, 0.0);
    assert_eq!(server.metric(ACTIVATIONS).await, 1.0);
    let evicted = eventually(Duration::from_secs(30), || async {
        server.metric(EVICTIONS).await == 1.0
    })
    .await;
    assert!(evicted, "left idle, the object was never evicted");
}

#[tokio::test(flavor = "multi_thread")]
async fn state_survives_a_restart() {
    let mut server = Server::start();
    for _ in 0..3 {
        server.get("/counter/r/increment").await;
    }
    server
        .post("/bank/r/deposit", json!({"user": "u", "amount": 7}))
        .await;
    server.restart();
    assert_eq!(
        server.get("/counter/r/get").await,
        (200, json!({"count": 3}))
    );
    assert_eq!(
        server.get("/bank/r/balance/u").await,
        (200, json!({"balance": 7}))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn kill_9_under_load_loses_no_acknowledged_increment() {
    let mut server = Server::start();
    let acknowledged = Arc::new(AtomicU64::new(0));
    let highest = Arc::new(AtomicU64::new(0));
    let mut workers = Vec::new();
    for _ in 0..8 {
        let client = server.client.clone();
        let url = server.url("/counter/crash/increment");
        let (acknowledged, highest) = (acknowledged.clone(), highest.clone());
        workers.push(tokio::spawn(async move {
            // Bounded: stops at the first failure (the kill) or after 5,000 requests.
            for _ in 0..5_000 {
                let Ok(response) = client.post(&url).send().await else {
                    break;
                };
                let Ok(value) = response.json::<serde_json::Value>().await else {
                    break;
                };
                let Some(count) = value["count"].as_u64() else {
                    break;
                };
                acknowledged.fetch_add(1, Ordering::SeqCst);
                highest.fetch_max(count, Ordering::SeqCst);
            }
        }));
    }
    let loaded = eventually(Duration::from_secs(30), || async {
        acknowledged.load(Ordering::SeqCst) >= 200
    })
    .await;
    assert!(loaded, "the load did not get going");
    server.kill9();
    for worker in workers {
        worker.await.unwrap();
    }
    let acked = acknowledged.load(Ordering::SeqCst);
    let highest = highest.load(Ordering::SeqCst);
    server.restart_after_kill();
    let (status, value) = server.get("/counter/crash/get").await;
    assert_eq!(status, 200);
    let count = value["count"].as_u64().unwrap();
    assert!(
        count >= acked,
        "{acked} increments were acknowledged but only {count} survived"
    );
    assert!(
        count >= highest,
        "a count of {highest} was acknowledged but only {count} survived"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_least_recently_used_idle_object_is_evicted_at_the_cap() {
    let server = Server::start_with(Options {
        extra: "max-live-objects = 2".into(),
        ..Options::default()
    });
    for name in ["one", "two", "three", "one"] {
        server.get(&format!("/counter/{name}/increment")).await;
    }
    // An evicted actor counts itself out when it has closed its database: soon, not at once.
    let settled = eventually(Duration::from_secs(10), || async {
        server.metric(LIVE).await <= 2.0 && server.metric(EVICTIONS).await >= 2.0
    })
    .await;
    assert!(
        settled,
        "more than 2 objects stayed live: {}",
        server.metrics().await
    );
    assert_eq!(
        server.get("/counter/one/get").await,
        (200, json!({"count": 2}))
    );
    assert_eq!(
        server.get("/counter/two/get").await,
        (200, json!({"count": 1}))
    );
    assert_eq!(
        server.get("/counter/three/get").await,
        (200, json!({"count": 1}))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_second_host_cannot_open_the_same_data_dir() {
    let server = Server::start();
    let output = Command::new(env!("CARGO_BIN_EXE_wdo"))
        .args(["serve", "--config"])
        .arg(server.dir.path().join("wdo.toml"))
        .args(["--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("in use by another wdo process"), "{stderr}");
    // The first host is unharmed.
    assert_eq!(server.get("/counter/a/increment").await.0, 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn shutdown_lets_requests_in_flight_finish_and_commit() {
    let mut server = Server::start();
    let client = server.client.clone();
    // Spins for 2 s, then writes the key `done`.
    let url = server.url("/probe/slow/spin?ms=2000&key=done");
    let in_flight =
        tokio::spawn(async move { decode(client.get(url).send().await.unwrap()).await });
    // Stop once the turn runs (the probe says so in the log), not after a guessed delay.
    let running = eventually(Duration::from_secs(30), || async {
        server.log().contains("spinning for done")
    })
    .await;
    assert!(running, "the request never started:\n{}", server.log());
    server.stop();
    assert_eq!(
        in_flight.await.unwrap(),
        (200, json!({"spun": 2000})),
        "the request in flight was answered"
    );
    assert!(server.log().contains("shut down"));
    server.restart();
    assert_eq!(
        server.get("/probe/slow/get?key=done").await,
        (200, json!({"value": true})),
        "the write of the request in flight was committed"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn ids_from_the_admin_api_address_objects_and_foreign_ids_are_rejected() {
    let server = Server::start();
    let response = server
        .client
        .post(format!("{}/v1/namespaces/counter/unique-id", server.admin))
        .send()
        .await
        .unwrap();
    let id = response.json::<serde_json::Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(id.len(), 64);
    assert_eq!(
        server.get(&format!("/counter/@{id}/increment")).await,
        (200, json!({"count": 1}))
    );
    assert_eq!(
        server.get(&format!("/counter/@{id}/get")).await,
        (200, json!({"count": 1}))
    );
    let (status, value) = server.get(&format!("/bank/@{id}/balance/x")).await;
    assert_eq!(status, 400, "an id of another namespace: {value}");
    assert!(value["error"]
        .as_str()
        .unwrap()
        .contains("not valid for this namespace"));
    let (status, value) = server.get("/counter/@1234/get").await;
    assert_eq!(status, 400);
    assert!(value["error"].as_str().unwrap().contains("64 hex digits"));
    // The probe reports the id and name it was given.
    let (_, seen) = server.get("/probe/named/echo").await;
    assert_eq!(seen["name"], json!("named"));
    assert_eq!(seen["namespace"], json!("probe"));
    assert_eq!(seen["id"].as_str().unwrap().len(), 64);
}

#[tokio::test(flavor = "multi_thread")]
async fn compiled_components_are_cached_so_a_restart_does_not_recompile() {
    let cache = tempfile::tempdir().unwrap();
    let mut server = Server::start_with(Options {
        cache_dir: Some(cache.path().to_path_buf()),
        ..Options::default()
    });
    let compiled = |log: &str| log.matches("compiled component").count();
    let first = compiled(&server.log());
    assert!(
        first >= 4,
        "a fresh cache compiles every component: {first}"
    );
    assert!(std::fs::read_dir(cache.path()).unwrap().count() >= first);
    server.restart();
    assert_eq!(compiled(&server.log()), first, "the restart compiled again");
    assert_eq!(server.get("/counter/c/increment").await.0, 200);
}

/// The output gate with pipelined commits: a write's response leaves only after an fsync of
/// the commit log that started after its commit. Sequential increments therefore need one
/// fsync each (a response released early would let the next commit share a later fsync), and
/// reads of durable data need none.
#[tokio::test(flavor = "multi_thread")]
async fn each_acknowledged_write_waited_for_its_own_log_fsync() {
    const SYNCS: &str = "wdo_wal_sync_duration_seconds_count{namespace=\"counter\"}";
    const LOG_SYNCS: &str = "wdo_log_fsync_duration_seconds_count";
    let server = Server::start();
    assert_eq!(
        server.post("/counter/gate/increment", json!({})).await.0,
        200
    );
    let before = server.metric(SYNCS).await;
    let log_before = server.metric(LOG_SYNCS).await;
    assert!(before >= 1.0, "the first write was synced: {before}");
    for i in 2..=21 {
        let (status, body) = server.post("/counter/gate/increment", json!({})).await;
        assert_eq!((status, body), (200, json!({"count": i})));
    }
    assert_eq!(server.metric(SYNCS).await, before + 20.0);
    assert_eq!(
        server.metric(LOG_SYNCS).await,
        log_before + 20.0,
        "one log fsync each"
    );
    for _ in 0..10 {
        assert_eq!(
            server.get("/counter/gate/get").await,
            (200, json!({"count": 21}))
        );
    }
    assert_eq!(
        server.metric(SYNCS).await,
        before + 20.0,
        "reads need no fsync"
    );
}

/// A pool slot keeps up to `keep-resident` bytes of a stopped instance's memory resident and
/// resets only the pages it dirtied: whatever the setting, the next instance in the slot
/// starts from the component's initial memory, never the previous object's.
#[tokio::test(flavor = "multi_thread")]
async fn a_reused_instance_slot_starts_clean_whatever_keep_resident_is() {
    for keep_resident in [0, 64 << 10, 2 << 20] {
        let server = Server::start_with(Options {
            extra: format!("max-live-objects = 1\nkeep-resident = {keep_resident}"),
            ..Options::default()
        });
        for round in 0..3 {
            for name in ["a", "b", "c"] {
                // Dirty 4 MiB of this instance's memory, more than any slot keeps.
                let (status, _) = server.get(&format!("/probe/{name}/alloc?mb=4")).await;
                assert_eq!(status, 200, "keep-resident {keep_resident}");
                let (status, echo) = server.get(&format!("/probe/{name}/echo")).await;
                assert_eq!(status, 200, "keep-resident {keep_resident}");
                // With one live object, each object's events here run in a new instance: the
                // previous object's activation evicted it.
                assert_eq!(
                    echo["instanceEvents"],
                    json!(2),
                    "keep-resident {keep_resident}, round {round}, object {name}: {echo}"
                );
                assert_eq!(echo["name"], json!(name));
            }
        }
    }
}

/// At the cap, the object whose last event is the oldest makes room, not the oldest one.
#[tokio::test(flavor = "multi_thread")]
async fn the_object_used_least_recently_makes_room_at_the_cap() {
    let server = Server::start_with(Options {
        extra: "max-live-objects = 2".into(),
        // Only the cap may retire an object here, not a slow step under a loaded machine.
        idle_timeout: "10m",
        ..Options::default()
    });
    // (object, how many events its instance has handled after this one)
    let steps = [
        ("a", 1),
        ("b", 1),
        ("a", 2),
        ("c", 1), // evicts b: a was used after it
        ("a", 3),
        ("b", 1), // b starts again and evicts c
        ("a", 4),
        ("c", 1), // evicts b, not a
        ("a", 5),
    ];
    for (i, (name, events)) in steps.into_iter().enumerate() {
        let (status, echo) = server.get(&format!("/probe/{name}/echo")).await;
        assert_eq!(status, 200);
        assert_eq!(
            echo["instanceEvents"],
            json!(events),
            "step {i}: object {name}: {echo}"
        );
    }
}

/// The files an object has in the `counter` namespace's data directory (not the metadata).
fn object_files(server: &Server) -> Vec<String> {
    let dir = server.dir.path().join("data/counter");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .filter(|name| !name.starts_with("metadata.sqlite"))
        .collect();
    names.sort();
    names
}

/// The objects the `counter` namespace's metadata records (read as the admin API does).
fn recorded_objects(server: &Server) -> Vec<String> {
    let db =
        rusqlite::Connection::open(server.dir.path().join("data/counter/metadata.sqlite")).unwrap();
    let mut statement = db
        .prepare("SELECT coalesce(name, id) FROM _wdo_objects ORDER BY 1")
        .unwrap();
    let names = statement.query_map([], |row| row.get(0)).unwrap();
    names.collect::<Result<_, _>>().unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_read_only_object_leaves_no_file_or_metadata_row_behind() {
    let mut server = Server::start();
    for i in 0..300 {
        assert_eq!(
            server.get(&format!("/counter/reader-{i}/get")).await,
            (200, json!({"count": 0}))
        );
    }
    // Checked while the 300 objects are still live, and again after they closed.
    assert_eq!(object_files(&server), Vec::<String>::new());
    assert_eq!(recorded_objects(&server), Vec::<String>::new());

    // An object that writes gets its file and its row before its write is acknowledged.
    assert_eq!(
        server.get("/counter/writer/increment").await,
        (200, json!({"count": 1}))
    );
    let files = object_files(&server);
    assert_eq!(files.len(), 2, "a database and its WAL: {files:?}");
    assert!(files[0].ends_with(".sqlite") && files[1].ends_with(".sqlite-wal"));
    assert_eq!(recorded_objects(&server), ["writer"]);

    server.restart_after_kill();
    assert_eq!(
        server.get("/counter/writer/get").await,
        (200, json!({"count": 1}))
    );
    assert_eq!(
        server.get("/counter/reader-7/get").await,
        (200, json!({"count": 0}))
    );
    server.stop();
    assert_eq!(object_files(&server), files);
    assert_eq!(recorded_objects(&server), ["writer"]);
}

#[tokio::test(flavor = "multi_thread")]
#[should_panic(expected = "no sample wdo_evictions_total{namespace=\"countr\"}")]
async fn a_misspelt_metric_fails_the_test_instead_of_reading_zero() {
    let server = Server::start();
    // Every series of a namespace exists from the start, at zero...
    assert_eq!(server.metric(EVICTIONS).await, 0.0);
    // ...so one that is absent is a mistake in the test.
    server
        .metric("wdo_evictions_total{namespace=\"countr\"}")
        .await;
}
