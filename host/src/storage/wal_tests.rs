//! Files, WALs and syncs: what survives a close, when the WAL is synced, checkpointed and
//! truncated, and when opening is quick.

use super::files::CHECKPOINT_ON_CLOSE_BYTES;
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
/// checkpoints would not sync either); the commit log takes the frames and the host
/// checkpoints with syncs.
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
    assert!(
        s.syncs_apart(),
        "full durability leaves durability to the commit log"
    );
    let value = vec![1u8; 100_000];
    let mut batches = 0;
    while !s.checkpoint_due() {
        s.begin_batch().unwrap();
        s.begin_turn().unwrap();
        s.put(&format!("k{batches}"), &value).unwrap();
        s.end_turn(true).unwrap();
        s.commit_batch().unwrap();
        assert!(s.take_logged_frames().unwrap().is_some());
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
    // the file keeps its size (no new blocks), and the log gets the new generation from its
    // first frame.
    let wal_len = || std::fs::metadata(wal_path(&path)).unwrap().len();
    let full = wal_len();
    s.begin_batch().unwrap();
    s.begin_turn().unwrap();
    s.put("after", b"1").unwrap();
    s.end_turn(true).unwrap();
    s.commit_batch().unwrap();
    let restarted = s.take_logged_frames().unwrap().unwrap();
    assert_eq!(restarted.first_frame, 1);
    assert_eq!(restarted.base, None);
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

/// Relaxed durability keeps SQLite's own checkpoints (which sync) and logs nothing.
#[test]
fn relaxed_durability_leaves_syncing_to_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let s = ObjectStorage::open(
        &dir.path().join("o.sqlite"),
        Durability::Relaxed,
        Limits::default(),
    )
    .unwrap();
    assert!(!s.syncs_apart());
    let sync: i64 = s
        .conn
        .query_row("PRAGMA synchronous", [], |r| r.get(0))
        .unwrap();
    assert_eq!(sync, 1, "NORMAL");
}

/// What the commit log gets: a new file's first frames carry the file as created, each
/// commit's frames follow the last logged one, and a store opened where the host remembers
/// the WAL stood (or reading it) logs only what is new.
#[test]
fn each_commit_hands_the_log_exactly_its_new_frames() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("new.sqlite");
    let mut s = ObjectStorage::open(&path, Durability::Full, Limits::default()).unwrap();
    put_batch(&mut s, "k", b"v");
    let first = s.take_logged_frames().unwrap().unwrap();
    assert_eq!(first.first_frame, 1, "the schema's commit and this one");
    assert_eq!(first.page_size, 4096);
    let base = first
        .base
        .as_ref()
        .expect("a new file carries its first state");
    assert_eq!(base.len(), 4096);
    assert!(s.take_logged_frames().unwrap().is_none(), "nothing new");
    put_batch(&mut s, "k", b"w");
    let second = s.take_logged_frames().unwrap().unwrap();
    assert_eq!(second.first_frame, first.end_frame());
    assert_eq!(second.wal_header, first.wal_header);
    assert_eq!(second.base, None);
    // The frames are SQLite's own: the WAL file holds the same bytes at their places.
    let wal = std::fs::read(wal_path(&path)).unwrap();
    let at = 32 + (second.first_frame as usize - 1) * second.frame_len();
    assert_eq!(&wal[at..at + second.frames.len()], &second.frames[..]);
    let mut position = s.wal_position().unwrap();
    assert_eq!(position.frames, second.end_frame() - 1);
    drop(s);
    for (known, value) in [(Some(position), b"x"), (None, b"y")] {
        let mut s =
            ObjectStorage::open_at(&path, Durability::Full, Limits::default(), known).unwrap();
        put_batch(&mut s, "k", value);
        let next = s.take_logged_frames().unwrap().unwrap();
        assert_eq!(next.first_frame, position.frames + 1, "known: {known:?}");
        position = s.wal_position().unwrap();
        assert_eq!(position.frames, next.end_frame() - 1);
    }
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

pub(super) fn put_batch(s: &mut ObjectStorage, key: &str, value: &[u8]) {
    s.begin_batch().unwrap();
    s.begin_turn().unwrap();
    s.put(key, value).unwrap();
    s.end_turn(true).unwrap();
    s.commit_batch().unwrap();
}

/// What a failed fsync leaves: the commits a sync covered stay, those after it are cut from
/// the WAL even though the page cache still holds them, within one WAL generation and
/// across a checkpoint that restarted the WAL.
#[test]
fn a_fail_stop_keeps_exactly_the_commits_known_durable() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("object.sqlite");
    let open = || ObjectStorage::open(&path, Durability::Full, Limits::default()).unwrap();
    // What the output gate does when the log made the frames durable.
    let sync = |s: &mut ObjectStorage| {
        let point = s.wal_point().expect("full durability tracks the WAL");
        s.take_logged_frames().unwrap();
        s.mark_durable(point);
    };
    // Found at open: durable (the previous activation synced before it closed).
    let mut s = open();
    put_batch(&mut s, "a", b"1");
    sync(&mut s);
    drop(s);
    // Synced in this activation, then one commit that no sync covered.
    let mut s = open();
    put_batch(&mut s, "b", b"2");
    put_batch(&mut s, "c", b"3");
    sync(&mut s);
    put_batch(&mut s, "d", b"4");
    s.fail_stop().unwrap();
    let mut s = open();
    let got: Vec<_> = ["a", "b", "c", "d"].map(|k| s.get(k).unwrap()).into();
    assert_eq!(
        got,
        vec![
            Some(b"1".to_vec()),
            Some(b"2".to_vec()),
            Some(b"3".to_vec()),
            None
        ]
    );
    drop(s);
    // No sync at all in this activation: only what was found at open stays.
    let mut s = open();
    put_batch(&mut s, "e", b"5");
    put_batch(&mut s, "f", b"6");
    s.fail_stop().unwrap();
    let mut s = open();
    assert_eq!(s.get("c").unwrap(), Some(b"3".to_vec()));
    assert_eq!((s.get("e").unwrap(), s.get("f").unwrap()), (None, None));
    // A checkpoint (which syncs) restarts the WAL at the next commit; a commit after it that
    // no sync covered goes, and the checkpointed data stays.
    put_batch(&mut s, "g", b"7");
    sync(&mut s);
    s.checkpoint().unwrap();
    put_batch(&mut s, "h", b"8");
    s.fail_stop().unwrap();
    let mut s = open();
    assert_eq!(s.get("g").unwrap(), Some(b"7".to_vec()));
    assert_eq!(s.get("h").unwrap(), None);
    assert_eq!(s.get("a").unwrap(), Some(b"1".to_vec()));
}

#[test]
fn the_wal_reader_finds_every_commit_sqlite_wrote() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("object.sqlite");
    let wal = wal_path(&path);
    let mut s = ObjectStorage::open(&path, Durability::Full, Limits::default()).unwrap();
    // Opening a new file commits its schema.
    let before = super::wal_file::read(&wal).unwrap().commits.len();
    for i in 0..3 {
        put_batch(&mut s, &format!("k{i}"), &[i; 10]);
    }
    let contents = super::wal_file::read(&wal).unwrap();
    assert!(contents.salt.is_some());
    assert_eq!(contents.page_size, 4096);
    assert_eq!(contents.commits.len(), before + 3, "{contents:?}");
    assert_eq!(
        s.wal_point().unwrap().frames(),
        *contents.commits.last().unwrap(),
        "the WAL hook counts the frames SQLite reports"
    );
}
