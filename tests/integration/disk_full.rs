//! A full disk: the data directory is a small tmpfs, filled through an object until its
//! writes fail. The failing write gets a clear error, nothing acknowledged is lost, other
//! objects keep serving, and once space is freed writes work again, before and after a
//! restart. Needs root for the mount (CI runs as root).

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{json, Value};

use crate::harness::{sqlite_files, Options, Server};

/// A tmpfs mounted on a directory, unmounted when dropped.
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    fn mount(size: &str) -> Tmpfs {
        let dir = tempfile::tempdir().expect("temp dir");
        // SAFETY: geteuid has no preconditions.
        let root = unsafe { libc::geteuid() } == 0;
        let output = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .output();
        match output {
            Ok(output) if output.status.success() => Tmpfs { dir },
            Ok(output) => panic!(
                "this test mounts a {size} tmpfs as its data directory, which needs root \
                 (running as root: {root}); `mount` failed: {}",
                String::from_utf8_lossy(&output.stderr)
            ),
            Err(e) => panic!("this test needs `mount` (and root) for a tmpfs: {e}"),
        }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let status = Command::new("umount").arg(self.dir.path()).status();
        if !status.is_ok_and(|s| s.success()) {
            eprintln!("cannot unmount {}", self.dir.path().display());
        }
    }
}

/// A note's text: `n:` repeated to `size` bytes.
fn text(n: usize, size: usize) -> String {
    format!("{n}:").chars().cycle().take(size).collect()
}

async fn notes(server: &Server) -> Vec<Value> {
    let (status, value) = server.get("/notes/full/").await;
    assert_eq!(status, 200, "{value}");
    value["notes"].as_array().unwrap().clone()
}

async fn count(server: &Server, name: &str) -> u64 {
    let (status, value) = server.get(&format!("/counter/{name}/get")).await;
    assert_eq!(status, 200, "{value}");
    value["count"].as_u64().unwrap()
}

/// Every acknowledged note is there, with its text.
async fn all_there(server: &Server, acked: &[(u64, String)]) {
    let notes = notes(server).await;
    for (id, text) in acked {
        let found = notes.iter().find(|n| n["id"] == json!(id));
        let found = found.unwrap_or_else(|| panic!("note {id} was acknowledged and is gone"));
        assert!(found["text"] == json!(text), "note {id} changed");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_full_disk_fails_writes_clearly_keeps_what_was_acknowledged_and_recovers() {
    let tmpfs = Tmpfs::mount("8m");
    // Space to give back later.
    let filler: PathBuf = tmpfs.path().join("filler");
    std::fs::write(&filler, vec![0u8; 2 << 20]).unwrap();
    let mut options = Options::default();
    options
        .namespaces
        .retain(|(name, _)| ["counter", "notes"].contains(&name.as_str()));
    options.data_dir = Some(tmpfs.path().join("data"));
    let mut server = Server::start_with(options);
    for _ in 0..3 {
        assert_eq!(server.get("/counter/other/increment").await.0, 200);
    }

    // Notes of 200 KiB until a write fails.
    let size = 200 << 10;
    let mut acked = Vec::new();
    let refused = loop {
        let note = text(acked.len(), size);
        let (status, value) = server.post("/notes/full/", json!({ "text": note })).await;
        if status != 201 {
            break (status, value);
        }
        acked.push((value["id"].as_u64().unwrap(), note));
        assert!(acked.len() < 100, "8 MiB never filled up");
    };
    println!("{} notes acknowledged, then {refused:?}", acked.len());
    let (status, body) = refused;
    assert_eq!(status, 507, "a full disk is Insufficient Storage: {body}");
    let message = body["error"].as_str().unwrap_or_default();
    assert!(message.contains("disk is full"), "{message}");
    assert!(body["errorId"].is_string(), "{body}");
    assert!(
        server.log().contains(body["errorId"].as_str().unwrap()),
        "the log repeats the error id"
    );

    // Reads go on, in the full object and in others; writes keep failing clearly.
    all_there(&server, &acked).await;
    assert_eq!(count(&server, "other").await, 3);
    let big = text(9, size);
    let (status, body) = server.post("/notes/full/", json!({ "text": big })).await;
    assert_eq!(status, 507, "{body}");
    let (status, body) = server.post("/notes/other/", json!({ "text": big })).await;
    assert_eq!(
        status, 507,
        "another object's write fails the same way: {body}"
    );

    // Space again: writes work, nothing was quarantined.
    std::fs::remove_file(&filler).unwrap();
    let (status, body) = server.post("/notes/full/", json!({ "text": big })).await;
    assert_eq!(status, 201, "{body}");
    acked.push((body["id"].as_u64().unwrap(), big));
    let (status, body) = server.get("/counter/other/increment").await;
    assert_eq!((status, body), (200, json!({"count": 4})));
    all_there(&server, &acked).await;

    // After a restart everything acknowledged is there, and every database is sound.
    let free = |path: &Path| {
        // SAFETY: a zeroed statvfs is a valid out-parameter, and the path is NUL-terminated.
        let mut stat: libc::statvfs = unsafe { std::mem::zeroed() };
        let path = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
        assert_eq!(unsafe { libc::statvfs(path.as_ptr(), &mut stat) }, 0);
        stat.f_bavail * stat.f_frsize
    };
    println!("{} bytes free before the restart", free(tmpfs.path()));
    // Which layer ran out of space first: SQLite writing the WAL, or the commit log.
    let by_log = server
        .log()
        .matches("rolled back to its last durable commit")
        .count();
    println!("writes refused by the commit log (then rolled back): {by_log}");
    assert!(
        !server.log().contains("quarantined"),
        "a full disk is no storage failure:\n{}",
        server.log()
    );
    server.restart();
    all_there(&server, &acked).await;
    assert_eq!(count(&server, "other").await, 4);
    server.stop();
    for entry in sqlite_files(&server.data_dir()) {
        let db = rusqlite::Connection::open(&entry).unwrap();
        // As the host opens them: no shared-memory file to create on the full disk.
        db.execute_batch("PRAGMA locking_mode=EXCLUSIVE").unwrap();
        let result: String = db
            .query_row("PRAGMA integrity_check", [], |row| row.get(0))
            .unwrap();
        assert_eq!(result, "ok", "{}", entry.display());
    }
    drop(server);
}
