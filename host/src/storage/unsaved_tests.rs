//! An object's store before and after its first write, on real files.

use super::*;

fn files(dir: &tempfile::TempDir) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

fn unsaved(dir: &tempfile::TempDir) -> ObjectStorage {
    let path = dir.path().join("object.sqlite");
    assert!(!ObjectStorage::exists(&path));
    ObjectStorage::open_unsaved(&path, Durability::Full, Limits::default()).unwrap()
}

/// One batch of one turn that runs `f`.
fn batch(s: &mut ObjectStorage, f: impl FnOnce(&mut ObjectStorage)) {
    s.begin_batch().unwrap();
    s.begin_turn().unwrap();
    f(s);
    s.end_turn(true).unwrap();
    s.commit_batch().unwrap();
}

#[test]
fn a_store_that_only_reads_creates_no_file() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = unsaved(&dir);
    batch(&mut s, |s| {
        assert_eq!(s.get("count").unwrap(), None);
        assert!(s.list(&ListOptions::default()).unwrap().is_empty());
        assert_eq!(s.read_alarm().unwrap(), None);
        s.sql_exec("SELECT count(*) FROM sqlite_schema", &[], None)
            .unwrap();
    });
    assert!(s.is_unsaved());
    assert!(s.take_logged_frames().unwrap().is_none());
    drop(s);
    assert_eq!(files(&dir), Vec::<String>::new());
}

#[test]
fn the_first_write_creates_the_file_with_everything_committed() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = unsaved(&dir);
    batch(&mut s, |s| {
        s.put("count", b"1").unwrap();
        s.sql_exec(
            "CREATE TABLE notes (text TEXT); INSERT INTO notes VALUES ('kept')",
            &[],
            None,
        )
        .unwrap();
        s.set_alarm(4_102_444_800_000).unwrap();
    });
    assert!(!s.is_unsaved());
    assert_eq!(files(&dir), ["object.sqlite", "object.sqlite-wal"]);
    // Full durability: the copy is in the new WAL, and the log gets all of it with the file
    // as created.
    let first = s.take_logged_frames().unwrap().expect("the copy's frames");
    assert_eq!(first.first_frame, 1);
    assert!(first.base.is_some());
    // Later batches write to the file as any store does.
    batch(&mut s, |s| s.put("count", b"2").unwrap());
    let next = s.take_logged_frames().unwrap().unwrap();
    assert_eq!(next.first_frame, first.end_frame());
    drop(s);

    let path = dir.path().join("object.sqlite");
    let mut s = ObjectStorage::open(&path, Durability::Full, Limits::default()).unwrap();
    assert_eq!(s.get("count").unwrap(), Some(b"2".to_vec()));
    assert_eq!(s.read_alarm().unwrap(), Some(4_102_444_800_000));
    let notes = s.sql_exec("SELECT text FROM notes", &[], None).unwrap();
    assert_eq!(notes.rows, [[SqlValue::Text("kept".into())]]);
}

#[test]
fn a_store_whose_file_cannot_be_created_forgets_the_batch() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("missing-dir/object.sqlite");
    let mut s = ObjectStorage::open_unsaved(&path, Durability::Full, Limits::default()).unwrap();
    s.begin_batch().unwrap();
    s.begin_turn().unwrap();
    s.put("count", b"1").unwrap();
    s.end_turn(true).unwrap();
    assert!(s.commit_batch().is_err());
    assert!(s.is_unsaved());
    assert_eq!(
        s.get("count").unwrap(),
        None,
        "an unacknowledged write stayed"
    );
}
