//! Continuous backup (`backup-dir`) and `wdo restore`: a host with a backup runs phases of
//! writes (counters by name, notes large enough to fill segments), is killed once and
//! restarted, and the backup must rebuild a data directory as it was after each phase,
//! served by a plain host (same ids from the same names, every acknowledged write there,
//! nothing later, every database sound). Also: the backup follows a running host within its
//! `backup-interval`, a restart the backup covers takes no new snapshot, and bad restores
//! are refused with what was wrong.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::json;

use crate::harness::{components, eventually, sqlite_files, Options, Server};

const COUNTERS: usize = 6;

fn options(data_dir: PathBuf, backup: Option<&Path>) -> Options {
    let c = components();
    let mut options = Options::with_namespaces(vec![
        ("counter".into(), c.counter.clone()),
        ("notes".into(), c.notes.clone()),
    ]);
    if let Some(backup) = backup {
        options.extra = format!(
            "log-segment-size = 65536\nbackup-dir = {backup:?}\nbackup-interval = \"200ms\"\n"
        );
    }
    options.data_dir = Some(data_dir);
    options
}

fn now_ms() -> u64 {
    wdo::backup::now_ms()
}

/// `wdo restore`; its success and what it printed.
fn restore(backup: &Path, to: &Path, at: Option<&str>) -> (bool, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_wdo"));
    command
        .arg("restore")
        .arg("--from")
        .arg(backup)
        .arg("--to")
        .arg(to);
    if let Some(at) = at {
        command.args(["--at", at]);
    }
    let output = command.output().expect("run wdo restore");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

/// The counts of the counters and the note texts the server holds.
async fn state(server: &Server) -> (Vec<u64>, Vec<String>) {
    let mut counts = Vec::new();
    for i in 0..COUNTERS {
        let (status, value) = server.get(&format!("/counter/c{i}/get")).await;
        assert_eq!(status, 200, "{value}");
        counts.push(value["count"].as_u64().unwrap());
    }
    let (status, value) = server.get("/notes/book/").await;
    assert_eq!(status, 200, "{value}");
    let notes = value["notes"].as_array().unwrap();
    let texts = notes.iter().map(|n| n["text"].as_str().unwrap().to_owned());
    (counts, texts.collect())
}

/// One phase: counter `i` incremented `by[i]` times, and a note; returns the state after it
/// and the moment just after its last acknowledgement.
async fn phase(server: &Server, by: [u64; COUNTERS], note: &str) -> u64 {
    for (i, &n) in by.iter().enumerate() {
        for _ in 0..n {
            let (status, value) = server.get(&format!("/counter/c{i}/increment")).await;
            assert_eq!(status, 200, "{value}");
        }
    }
    // 20 KiB: a few phases fill a 64 KiB segment.
    let text: String = note.chars().cycle().take(20 << 10).collect();
    let (status, value) = server.post("/notes/book/", json!({ "text": text })).await;
    assert_eq!(status, 201, "{value}");
    let at = now_ms();
    // The next phase's first group is written after this moment, not in the same millisecond.
    tokio::time::sleep(Duration::from_millis(5)).await;
    at
}

fn note(text: &str) -> String {
    text.chars().cycle().take(20 << 10).collect()
}

fn snapshots(backup: &Path) -> usize {
    std::fs::read_dir(backup.join("snapshots"))
        .unwrap()
        .filter(|e| {
            let path = e.as_ref().unwrap().path();
            path.join("manifest.json").exists()
        })
        .count()
}

/// A plain host (no backup) on a restored data directory: its state, then every database
/// passes an integrity check.
async fn served(data_dir: &Path) -> (Vec<u64>, Vec<String>) {
    let mut server = Server::start_with(options(data_dir.to_owned(), None));
    let state = state(&server).await;
    server.stop();
    for db in sqlite_files(data_dir) {
        let conn = rusqlite::Connection::open(&db).unwrap();
        let result: String = conn
            .query_row("PRAGMA integrity_check", [], |row| row.get(0))
            .unwrap();
        assert_eq!(result, "ok", "{}", db.display());
    }
    state
}

#[tokio::test(flavor = "multi_thread")]
async fn a_backup_restores_the_data_directory_as_it_was_at_each_moment() {
    let dir = tempfile::tempdir().unwrap();
    let backup = dir.path().join("backup");
    let mut server = Server::start_with(options(dir.path().join("data"), Some(&backup)));
    assert_eq!(
        snapshots(&backup),
        1,
        "a first start with a backup takes a snapshot"
    );

    let t1 = phase(&server, [3, 1, 0, 2, 0, 1], "one").await;
    let after1 = (vec![3, 1, 0, 2, 0, 1], vec![note("one")]);
    let t2 = phase(&server, [1, 0, 4, 0, 0, 2], "two").await;
    let after2 = (vec![4, 1, 4, 2, 0, 3], vec![note("one"), note("two")]);
    assert_eq!(state(&server).await, after2);

    // While the host runs, the backup follows within its interval (the active segment is
    // sealed and copied).
    let scratch = tempfile::tempdir().unwrap();
    let mut attempt = 0;
    let followed = eventually(Duration::from_secs(60), || {
        attempt += 1;
        let to = scratch.path().join(attempt.to_string());
        let backup = backup.clone();
        async move {
            let restored = tokio::task::spawn_blocking(move || {
                wdo::backup::restore(&backup, &to, None).unwrap()
            });
            restored.await.unwrap().restored_to_ms >= t2 - 5
        }
    })
    .await;
    assert!(followed, "the backup never caught up with the running host");

    // A crash: the last segment reaches the backup when the host starts again, which takes
    // no new snapshot (the backup covers the data directory).
    let t3 = phase(&server, [0, 0, 0, 0, 5, 0], "three").await;
    let after3 = (
        vec![4, 1, 4, 2, 5, 3],
        vec![note("one"), note("two"), note("three")],
    );
    server.kill9();
    server.restart_after_kill();
    assert_eq!(state(&server).await, after3);
    assert_eq!(snapshots(&backup), 1, "{}", server.log());
    let _t4 = phase(&server, [1, 1, 1, 1, 1, 1], "four").await;
    let after4 = (
        vec![5, 2, 5, 3, 6, 4],
        vec![note("one"), note("two"), note("three"), note("four")],
    );
    // A clean stop copies the active segment.
    server.stop();

    let restores = dir.path().join("restored");
    let cases = [
        ("t1", Some(t1.to_string()), after1),
        ("t2", Some(t2.to_string()), after2.clone()),
        ("t3", Some(t3.to_string()), after3),
        ("latest", None, after4.clone()),
    ];
    for (name, at, expected) in cases {
        let to = restores.join(name);
        let (ok, text) = restore(&backup, &to, at.as_deref());
        assert!(ok, "restore {name}: {text}");
        assert!(text.contains("restored"), "{text}");
        println!("{name}: {text}");
        assert_eq!(served(&to).await, expected, "restored to {name}");
    }

    // A periodic snapshot, built from the backup: the latest state needs no segment any
    // more, and earlier moments still restore from the first snapshot.
    let opened = wdo::commit_log::Backup::existing(&backup).unwrap();
    let built = wdo::backup::compact(&opened).unwrap();
    assert!(built.is_some(), "segments followed the snapshot");
    assert_eq!(snapshots(&backup), 2);
    assert!(
        wdo::backup::compact(&opened).unwrap().is_none(),
        "nothing new"
    );
    for (name, at, expected) in [("c-latest", None, after4), ("c-t2", Some(t2), after2)] {
        let to = restores.join(name);
        let at = at.map(|t| t.to_string());
        let (ok, text) = restore(&backup, &to, at.as_deref());
        assert!(ok, "restore {name}: {text}");
        if at.is_none() {
            assert!(text.contains("0 records of 0 segments"), "{text}");
        }
        assert_eq!(served(&to).await, expected, "restored to {name}");
    }

    // An RFC 3339 moment works too (t2, to the millisecond).
    let rfc = wdo::backup::format_ms(t2);
    let to = restores.join("rfc");
    let (ok, text) = restore(&backup, &to, Some(&rfc));
    assert!(ok, "{text}");

    // Refused, with what was wrong.
    let (ok, text) = restore(&backup, &restores.join("t1"), None);
    assert!(!ok && text.contains("is not empty"), "{text}");
    let (ok, text) = restore(&backup, &restores.join("early"), Some("1000"));
    assert!(
        !ok && text.contains("cannot restore an earlier moment"),
        "{text}"
    );
    let (ok, text) = restore(&backup, &restores.join("bad"), Some("last tuesday"));
    assert!(!ok && text.contains("is not a moment"), "{text}");
    let (ok, text) = restore(dir.path(), &restores.join("none"), None);
    assert!(!ok && text.contains("is not a wdo backup"), "{text}");
}
