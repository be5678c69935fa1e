//! Files, WALs and syncs: what survives a close, when the WAL is synced, checkpointed and
//! truncated, and when opening is quick.

use super::close::CHECKPOINT_ON_CLOSE_BYTES;
use super::*;

#[test]
fn a_file_keeps_its_writes_across_closes_with_small_and_large_wals() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("object.sqlite");
    let write = |key: &str, value: &[u8]| {
        let mut s = ObjectStorage::open(&path, Durability::Full, Limits::default()).unwrap();
        s.begin_batch().unwrap();
        s.begin_turn().unwrap();
        s.put(key, value).unwrap();
        s.end_turn(true).unwrap();
        s.commit_batch().unwrap();
    };
    write("small", b"1");
    let wal = dir.path().join("object.sqlite-wal");
    assert!(wal.exists(), "the WAL is kept on close, not deleted");
    // Larger than the close-time checkpoint threshold: checkpointed and truncated on close.
    write(
        "large",
        &vec![7u8; (CHECKPOINT_ON_CLOSE_BYTES as usize) * 2],
    );
    assert_eq!(std::fs::metadata(&wal).unwrap().len(), 0);
    assert!(
        !dir.path().join("object.sqlite-shm").exists(),
        "no shared memory file"
    );
    let mut s = ObjectStorage::open(&path, Durability::Full, Limits::default()).unwrap();
    assert_eq!(s.get("small").unwrap(), Some(b"1".to_vec()));
    assert_eq!(
        s.get("large").unwrap().map(|v| v.len()),
        Some((CHECKPOINT_ON_CLOSE_BYTES as usize) * 2)
    );
}

/// Full durability: COMMIT does not sync and SQLite never checkpoints by itself (its
/// checkpoints would not sync either); the host syncs the WAL and checkpoints with syncs.
#[test]
fn full_durability_commits_without_sync_and_checkpoints_only_when_asked() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("object.sqlite");
    let mut s = ObjectStorage::open(&path, Durability::Full, Limits::default()).unwrap();
    let pragma = |s: &ObjectStorage, name: &str| -> i64 {
        s.conn
            .query_row(&format!("PRAGMA {name}"), [], |row| row.get(0))
            .unwrap()
    };
    assert_eq!(pragma(&s, "synchronous"), 0, "OFF");
    assert_eq!(pragma(&s, "wal_autocheckpoint"), 0);
    let wal = s.wal_sync().expect("full durability syncs the WAL apart");
    let value = vec![1u8; 100_000];
    let mut batches = 0;
    while !s.checkpoint_due() {
        s.begin_batch().unwrap();
        s.begin_turn().unwrap();
        s.put(&format!("k{batches}"), &value).unwrap();
        s.end_turn(true).unwrap();
        s.commit_batch().unwrap();
        wal.sync().unwrap();
        batches += 1;
        assert!(batches < 100, "1,000 pages are ~4 MB");
    }
    // Nothing was checkpointed yet: the database file holds only its first pages.
    let db_len = || std::fs::metadata(&path).unwrap().len();
    assert!(db_len() < 100_000, "{}", db_len());
    s.checkpoint().unwrap();
    assert!(!s.checkpoint_due());
    assert!(db_len() > 100_000 * batches as u64, "{}", db_len());
    assert_eq!(
        pragma(&s, "synchronous"),
        0,
        "OFF again after the checkpoint"
    );
    // The next commit starts the WAL over from its beginning, overwriting frames in place:
    // the file keeps its size, so that an fsync writes no new blocks and no file size.
    let wal_len = || std::fs::metadata(WalSync::wal_path(&path)).unwrap().len();
    let full = wal_len();
    s.begin_batch().unwrap();
    s.begin_turn().unwrap();
    s.put("after", b"1").unwrap();
    s.end_turn(true).unwrap();
    s.commit_batch().unwrap();
    wal.sync().unwrap();
    assert_eq!(
        wal_len(),
        full,
        "the WAL was not truncated when it restarted"
    );
    drop(s);
    let mut s = ObjectStorage::open(&path, Durability::Full, Limits::default()).unwrap();
    assert_eq!(
        s.get("after").unwrap(),
        Some(b"1".to_vec()),
        "read back from the restarted WAL"
    );
    assert_eq!(s.get("k0").unwrap(), Some(value.clone()));
    assert_eq!(s.get(&format!("k{}", batches - 1)).unwrap(), Some(value));
}

/// Relaxed durability keeps SQLite's own checkpoints (which sync) and has no WAL syncer.
#[test]
fn relaxed_durability_leaves_syncing_to_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let s = ObjectStorage::open(
        &dir.path().join("o.sqlite"),
        Durability::Relaxed,
        Limits::default(),
    )
    .unwrap();
    assert!(s.wal_sync().is_none());
    let sync: i64 = s
        .conn
        .query_row("PRAGMA synchronous", [], |r| r.get(0))
        .unwrap();
    assert_eq!(sync, 1, "NORMAL");
}

/// A new object's database and WAL are new directory entries: the first WAL sync also syncs
/// the directory, and only then, since the WAL persists across activations.
#[test]
fn the_first_sync_of_a_new_wal_also_syncs_its_directory() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("new.sqlite");
    let mut s = ObjectStorage::open(&path, Durability::Full, Limits::default()).unwrap();
    let wal = s.wal_sync().unwrap();
    assert!(!wal.dir_synced(), "opening created the WAL file");
    s.begin_batch().unwrap();
    s.put("k", b"v").unwrap();
    s.commit_batch().unwrap();
    wal.sync().unwrap();
    assert!(wal.dir_synced());
    drop(s);
    let s = ObjectStorage::open(&path, Durability::Full, Limits::default()).unwrap();
    assert!(
        s.wal_sync().unwrap().dir_synced(),
        "the WAL was kept: nothing new to sync"
    );
}

/// The actor opens an object on its async worker only when that is quick: the file exists,
/// and its WAL is as small as a clean close leaves it.
#[test]
fn opens_quickly_only_for_an_existing_file_with_a_small_wal() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("o.sqlite");
    assert!(!ObjectStorage::opens_quickly(&path), "a new object");
    let mut s = ObjectStorage::open(&path, Durability::Full, Limits::default()).unwrap();
    s.begin_batch().unwrap();
    s.begin_turn().unwrap();
    s.put("small", b"1").unwrap();
    s.end_turn(true).unwrap();
    s.commit_batch().unwrap();
    assert!(ObjectStorage::opens_quickly(&path), "a small WAL");
    s.begin_batch().unwrap();
    s.begin_turn().unwrap();
    s.put("big", &vec![7u8; 400 << 10]).unwrap();
    s.end_turn(true).unwrap();
    s.commit_batch().unwrap();
    assert!(
        !ObjectStorage::opens_quickly(&path),
        "a WAL over 256 KiB to recover"
    );
    drop(s);
    assert!(
        ObjectStorage::opens_quickly(&path),
        "closing checkpointed and truncated it"
    );
}
