use std::path::Path;

use super::*;
use crate::commit_log::{segment_name, Backup};

fn segment(dir: &Path, number: u64, bytes: &[u8]) {
    std::fs::write(dir.join(segment_name(number)), bytes).unwrap();
}

#[test]
fn segments_are_copied_once_grown_copies_replaced_and_other_histories_refused() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("log");
    std::fs::create_dir(&log).unwrap();
    let backup = Backup::open(&dir.path().join("backup")).unwrap();
    segment(&log, 3, b"WDOLOG01-abc");
    backup.ship(&log, 3).unwrap();
    assert_eq!(
        std::fs::read(backup.segment_path(3)).unwrap(),
        b"WDOLOG01-abc"
    );
    // Grown since (the active segment of a run that crashed): replaced.
    segment(&log, 3, b"WDOLOG01-abcdef");
    backup.ship(&log, 3).unwrap();
    assert_eq!(
        std::fs::read(backup.segment_path(3)).unwrap(),
        b"WDOLOG01-abcdef"
    );
    // Other bytes under the same number: refused, the copy kept.
    segment(&log, 3, b"WDOLOG01-xyz");
    let error = backup.ship(&log, 3).unwrap_err();
    assert_eq!(error.kind(), std::io::ErrorKind::AlreadyExists, "{error}");
    assert_eq!(
        std::fs::read(backup.segment_path(3)).unwrap(),
        b"WDOLOG01-abcdef"
    );
    // A segment that is gone already is nothing to copy.
    backup.ship(&log, 9).unwrap();
    assert_eq!(backup.segments().unwrap(), vec![3]);
}

#[test]
fn a_backup_covers_a_data_directory_from_a_snapshot_and_every_segment_after_it() {
    let dir = tempfile::tempdir().unwrap();
    let (log, data) = (dir.path().join("log"), dir.path().join("data"));
    std::fs::create_dir_all(data.join("ns")).unwrap();
    std::fs::create_dir(&log).unwrap();
    std::fs::write(data.join("ns/metadata.sqlite"), b"m").unwrap();
    std::fs::write(data.join("wdo.lock"), b"").unwrap();
    std::fs::create_dir(data.join(".commit-log")).unwrap();
    std::fs::write(data.join(".commit-log/x"), b"not copied").unwrap();
    let backup = Backup::open(&dir.path().join("backup")).unwrap();
    assert!(!backup.covers(1).unwrap(), "no snapshot");
    assert_eq!(at_start(&data, Some(&backup), 5, false).unwrap(), 5);
    let snapshot = backup.snapshots().unwrap().pop().unwrap();
    assert_eq!(snapshot.manifest.next_segment, 5);
    assert_eq!(snapshot.manifest.files, 1, "only the namespace's file");
    assert!(backup.covers(5).unwrap());
    assert!(!backup.covers(7).unwrap(), "segments 5 and 6 are missing");
    for n in [5, 6] {
        segment(&log, n, b"WDOLOG01");
        backup.ship(&log, n).unwrap();
    }
    assert!(backup.covers(7).unwrap());
    // A start whose log would begin before the backup's end continues after it.
    assert_eq!(at_start(&data, Some(&backup), 2, false).unwrap(), 7);
    assert_eq!(
        backup.snapshots().unwrap().len(),
        1,
        "covered: no new snapshot"
    );
    // A namespace the snapshot lacks gets one.
    std::fs::create_dir(data.join("other")).unwrap();
    std::fs::write(data.join("other/metadata.sqlite"), b"m").unwrap();
    at_start(&data, Some(&backup), 7, false).unwrap();
    assert_eq!(backup.snapshots().unwrap().len(), 2);
}

#[test]
fn moments_are_rfc_3339_or_unix_milliseconds() {
    assert_eq!(parse_moment("1765106400000").unwrap(), 1_765_106_400_000);
    let ms = parse_moment("2026-12-07T11:30:00.250Z").unwrap();
    assert_eq!(format_ms(ms), "2026-12-07T11:30:00.250Z");
    let error = parse_moment("yesterday").unwrap_err();
    assert!(error.contains("is not a moment"), "{error}");
}
