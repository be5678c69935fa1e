//! The commit log with real object files: what recovery rebuilds when the writes that were
//! never synced are lost, torn or half there.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::wal_tests::put_batch as write;
use super::*;
use crate::commit_log::{self, Body, CommitLog, LogOptions, ObjectKey, Record};
use crate::metrics::Metrics;

struct Rig {
    _dir: tempfile::TempDir,
    data: PathBuf,
    log_dir: PathBuf,
}

impl Rig {
    fn new() -> Rig {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        std::fs::create_dir_all(data.join("counter")).unwrap();
        let log_dir = commit_log::log_dir(&data);
        std::fs::create_dir_all(&log_dir).unwrap();
        Rig {
            _dir: dir,
            data,
            log_dir,
        }
    }

    fn log(&self, first: u64, segment_bytes: u64) -> CommitLog {
        CommitLog::open(
            &self.log_dir,
            first,
            LogOptions::new(segment_bytes, &self.data),
            Arc::new(Metrics::default()),
        )
        .unwrap()
    }

    fn path(&self, object: &ObjectKey) -> PathBuf {
        commit_log::object_path(&self.data, object)
    }

    fn open(&self, object: &ObjectKey) -> ObjectStorage {
        ObjectStorage::open(&self.path(object), Durability::Full, Limits::default()).unwrap()
    }

    fn recover(&self) -> commit_log::Recovered {
        commit_log::recover(&self.log_dir, &self.data).unwrap()
    }
}

fn object(n: u8) -> ObjectKey {
    ObjectKey {
        namespace: "counter".into(),
        id: [n; 32],
    }
}

/// One batch that writes `key`, logged as the output gate logs it (`write`: one that is not
/// logged, whose fsync never came).
fn commit(s: &mut ObjectStorage, log: &CommitLog, object: &ObjectKey, key: &str, value: &[u8]) {
    write(s, key, value);
    let frames = s.take_logged_frames().unwrap().unwrap();
    let (result, _) = log
        .append(Record {
            object: object.clone(),
            body: Body::Frames(frames),
        })
        .blocking_recv()
        .unwrap();
    result.unwrap();
}

fn read(rig: &Rig, object: &ObjectKey, key: &str) -> Option<Vec<u8>> {
    let mut s = rig.open(object);
    let check: String = s
        .conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok");
    s.get(key).unwrap()
}

/// The process dies: the connection is not closed (closing may checkpoint), the files stay
/// as the page cache has them.
fn crash(s: ObjectStorage) {
    std::mem::forget(s);
}

fn remove(path: &Path) {
    let _ = std::fs::remove_file(path);
}

#[test]
fn an_object_whose_files_were_lost_entirely_is_rebuilt_from_the_log() {
    let rig = Rig::new();
    let log = rig.log(1, 64 << 20);
    let a = object(1);
    let mut s = rig.open(&a);
    for i in 1..=3u8 {
        commit(&mut s, &log, &a, "count", &[i]);
    }
    drop(s);
    drop(log);
    // Nothing of the object was synced: its directory entries are gone too.
    remove(&rig.path(&a));
    remove(&wal_path(&rig.path(&a)));
    let recovered = rig.recover();
    assert_eq!((recovered.records, recovered.objects), (3, 1));
    assert_eq!(read(&rig, &a, "count"), Some(vec![3]));
}

#[test]
fn a_commit_that_reached_the_wal_but_not_the_log_is_dropped() {
    let rig = Rig::new();
    let log = rig.log(1, 64 << 20);
    let a = object(1);
    let mut s = rig.open(&a);
    commit(&mut s, &log, &a, "count", &[1]);
    commit(&mut s, &log, &a, "count", &[2]);
    write(&mut s, "count", &[3]);
    write(&mut s, "other", b"never acknowledged");
    crash(s);
    drop(log);
    rig.recover();
    assert_eq!(read(&rig, &a, "count"), Some(vec![2]));
    assert_eq!(read(&rig, &a, "other"), None);
}

#[test]
fn torn_or_stale_wal_bytes_are_repaired_from_the_log() {
    let rig = Rig::new();
    let log = rig.log(1, 64 << 20);
    let (a, b) = (object(1), object(2));
    let (mut sa, mut sb) = (rig.open(&a), rig.open(&b));
    for i in 0..20u8 {
        commit(&mut sa, &log, &a, &format!("k{i}"), &[i; 3000]);
        commit(&mut sb, &log, &b, "count", &[i]);
    }
    crash(sa);
    crash(sb);
    drop(log);
    // a: the WAL's frames after the header are garbage (a torn write of unsynced pages);
    // b: its WAL is cut in the middle of a frame.
    let wal_a = wal_path(&rig.path(&a));
    let mut bytes = std::fs::read(&wal_a).unwrap();
    for byte in &mut bytes[32..] {
        *byte = 0xA5;
    }
    std::fs::write(&wal_a, &bytes).unwrap();
    let wal_b = wal_path(&rig.path(&b));
    let len = std::fs::metadata(&wal_b).unwrap().len();
    std::fs::File::options()
        .write(true)
        .open(&wal_b)
        .unwrap()
        .set_len(len / 2 + 7)
        .unwrap();
    rig.recover();
    for i in 0..20u8 {
        assert_eq!(read(&rig, &a, &format!("k{i}")), Some(vec![i; 3000]));
    }
    assert_eq!(read(&rig, &b, "count"), Some(vec![19]));
}

#[test]
fn after_a_checkpoint_only_the_newest_wal_generation_is_put_back() {
    let rig = Rig::new();
    let log = rig.log(1, 64 << 20);
    let a = object(1);
    let mut s = rig.open(&a);
    commit(&mut s, &log, &a, "before", b"1");
    s.checkpoint().unwrap();
    commit(&mut s, &log, &a, "after", b"2");
    commit(&mut s, &log, &a, "before", b"3");
    crash(s);
    drop(log);
    // The whole WAL is lost, header too: the log has the new generation from frame 1.
    std::fs::write(wal_path(&rig.path(&a)), vec![0u8; 100]).unwrap();
    rig.recover();
    assert_eq!(read(&rig, &a, "after"), Some(b"2".to_vec()));
    assert_eq!(read(&rig, &a, "before"), Some(b"3".to_vec()));
}

#[test]
fn a_wal_that_restarted_after_the_last_logged_commit_is_emptied() {
    let rig = Rig::new();
    let a = object(1);
    // Frames 1.. of the first generation went to a segment that was trimmed; the log holds
    // only later ones, and the WAL restarted (checkpoint, then a commit never logged).
    let log = rig.log(1, 64 << 20);
    let mut s = rig.open(&a);
    write(&mut s, "count", &[1]);
    s.take_logged_frames().unwrap();
    commit(&mut s, &log, &a, "count", &[2]);
    s.checkpoint().unwrap();
    write(&mut s, "count", &[3]);
    drop(s);
    drop(log);
    rig.recover();
    assert_eq!(read(&rig, &a, "count"), Some(vec![2]));
}

#[test]
fn a_reset_voids_the_frames_before_it() {
    let rig = Rig::new();
    let log = rig.log(1, 64 << 20);
    let a = object(1);
    let mut s = rig.open(&a);
    commit(&mut s, &log, &a, "count", &[1]);
    // What the admin API's import does: checkpoint (synced), log a reset, swap the file.
    s.checkpoint_truncate().unwrap();
    drop(s);
    log.append(Record {
        object: a.clone(),
        body: Body::Reset,
    })
    .blocking_recv()
    .unwrap()
    .0
    .unwrap();
    let other = rig.data.join("other.sqlite");
    {
        let mut o = ObjectStorage::open(&other, Durability::Relaxed, Limits::default()).unwrap();
        write(&mut o, "count", &[42]);
        o.checkpoint_truncate().unwrap();
    }
    remove(&wal_path(&other));
    replace_database(&rig.path(&a), Some(&other)).unwrap();
    drop(log);
    rig.recover();
    assert_eq!(read(&rig, &a, "count"), Some(vec![42]));
}

#[test]
fn recovery_can_run_again_after_it_was_interrupted() {
    let rig = Rig::new();
    let log = rig.log(1, 64 << 20);
    let a = object(1);
    let mut s = rig.open(&a);
    for i in 1..=5u8 {
        commit(&mut s, &log, &a, "count", &[i]);
    }
    drop(s);
    drop(log);
    let wal = wal_path(&rig.path(&a));
    rig.recover();
    let once = std::fs::read(&wal).unwrap();
    // Interrupted half way: the WAL was cut before recovery finished writing it.
    std::fs::File::options()
        .write(true)
        .open(&wal)
        .unwrap()
        .set_len(40)
        .unwrap();
    rig.recover();
    assert_eq!(std::fs::read(&wal).unwrap(), once);
    rig.recover();
    assert_eq!(std::fs::read(&wal).unwrap(), once);
    assert_eq!(read(&rig, &a, "count"), Some(vec![5]));
}

#[test]
fn frames_in_trimmed_segments_are_durable_in_the_objects_own_files() {
    let rig = Rig::new();
    let log = rig.log(1, 64 << 10);
    let a = object(1);
    let mut s = rig.open(&a);
    for i in 0..40u32 {
        commit(&mut s, &log, &a, &format!("k{i}"), &[1; 2000]);
    }
    assert!(log.active_segment() > 1);
    for i in 40..45u32 {
        commit(&mut s, &log, &a, &format!("k{i}"), &[2; 100]);
    }
    log.trim_now().unwrap();
    crash(s);
    drop(log);
    // A power cut loses every WAL byte the log still holds: the frames of the segments that
    // are left (the trimmer may have synced more, never less).
    let (_, records) = commit_log::read_log(&rig.log_dir).unwrap();
    let first = records
        .iter()
        .find_map(|r| match &r.body {
            Body::Frames(f) if r.object == a => Some(f.first_frame),
            _ => None,
        })
        .expect("the last commits are in the log");
    assert!(first > 1, "the first frames were trimmed from the log");
    let wal = wal_path(&rig.path(&a));
    let mut bytes = std::fs::read(&wal).unwrap();
    let from = 32 + (first as usize - 1) * (24 + 4096);
    for byte in &mut bytes[from..] {
        *byte = 0;
    }
    std::fs::write(&wal, &bytes).unwrap();
    rig.recover();
    for i in 0..45u32 {
        let want = if i < 40 { vec![1; 2000] } else { vec![2; 100] };
        assert_eq!(read(&rig, &a, &format!("k{i}")), Some(want), "k{i}");
    }
}
