//! The log's bytes and its writer, without SQLite (`storage/log_tests.rs` replays real
//! object files).

use std::sync::Arc;

use super::record::{self, Body, ObjectKey, Record, WalFrames};
use super::*;

fn frames(first_frame: u32, count: usize, fill: u8) -> WalFrames {
    WalFrames {
        wal_header: [fill; 32],
        page_size: 512,
        first_frame,
        frames: vec![fill; count * (24 + 512)],
        base: (first_frame == 1).then(|| vec![9u8; 512]),
    }
}

fn object(n: u8) -> ObjectKey {
    ObjectKey {
        namespace: "counter".into(),
        id: [n; 32],
    }
}

fn segment_bytes(number: u64, records: &[Record]) -> Vec<u8> {
    let mut bytes = record::segment_header(number).to_vec();
    for r in records {
        let body = record::encode(r);
        let offset = bytes.len() as u64;
        record::frame(number, offset, &body, &mut bytes);
    }
    bytes
}

#[test]
fn records_read_back_as_written_and_a_torn_tail_ends_the_segment() {
    let records = vec![
        Record {
            object: object(1),
            body: Body::Frames(frames(1, 2, 1)),
        },
        Record {
            object: object(2),
            body: Body::Reset,
        },
        Record {
            object: object(1),
            body: Body::Frames(frames(3, 1, 3)),
        },
    ];
    let bytes = segment_bytes(7, &records);
    let (read, end) = record::read_segment(7, &bytes).unwrap();
    assert_eq!(read, records);
    assert_eq!(end, bytes.len() as u64);
    // Cut anywhere inside the last record: the first two remain.
    let second_end = segment_bytes(7, &records[..2]).len();
    for cut in [second_end + 1, second_end + 8, bytes.len() - 1] {
        let (read, end) = record::read_segment(7, &bytes[..cut]).unwrap();
        assert_eq!(read, records[..2], "cut at {cut}");
        assert_eq!(end, second_end as u64);
    }
    // A flipped byte in the middle one ends the segment before it.
    let mut damaged = bytes.clone();
    damaged[second_end - 3] ^= 0xff;
    let (read, _) = record::read_segment(7, &damaged).unwrap();
    assert_eq!(read, records[..1]);
}

#[test]
fn a_record_read_at_another_place_or_in_another_segment_is_not_taken() {
    let one = Record {
        object: object(1),
        body: Body::Reset,
    };
    // The same bytes as segment 8's would be refused as segment 9's record: a file reused
    // or renamed cannot replay old records.
    let mut bytes = segment_bytes(8, std::slice::from_ref(&one));
    bytes[8..16].copy_from_slice(&9u64.to_le_bytes());
    let (read, _) = record::read_segment(9, &bytes).unwrap();
    assert!(read.is_empty());
    assert!(
        record::read_segment(8, &bytes).is_err(),
        "the header names another segment"
    );
}

#[test]
fn segment_names_sort_by_number() {
    assert_eq!(record::segment_name(12), "00000000000000000012.log");
    assert_eq!(record::segment_number("00000000000000000012.log"), Some(12));
    assert_eq!(record::segment_number("12.log"), None);
    assert_eq!(record::segment_number("0000000000000000001x.log"), None);
}

fn open_log(dir: &std::path::Path, first: u64, segment_bytes: u64) -> (CommitLog, Arc<Metrics>) {
    let metrics = Arc::new(Metrics::default());
    let log = CommitLog::open(
        dir,
        first,
        LogOptions::new(segment_bytes, dir),
        metrics.clone(),
    )
    .unwrap();
    (log, metrics)
}

#[test]
fn appends_are_durable_in_order_across_sealed_segments_and_trimming_removes_sealed_ones() {
    let dir = tempfile::tempdir().unwrap();
    let (log, _) = open_log(dir.path(), 5, 64 << 10);
    let mut sent = Vec::new();
    for i in 0..40u32 {
        let record = Record {
            object: object((i % 3) as u8),
            body: Body::Frames(frames(i + 1, 4, i as u8)),
        };
        let (result, _) = log.append(record.clone()).blocking_recv().unwrap();
        result.unwrap();
        sent.push(record);
    }
    assert!(log.active_segment() > 5, "~86 KiB sealed a 64 KiB segment");
    drop(log);
    let mut names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter_map(|n| record::segment_number(&n))
        .collect();
    names.sort();
    // The trimmer deletes sealed segments on its own: what is left is the newest appends,
    // in order, from the segment where the oldest left one starts.
    let mut read = Vec::new();
    for n in &names {
        let bytes = std::fs::read(dir.path().join(record::segment_name(*n))).unwrap();
        read.extend(without_time(record::read_segment(*n, &bytes).unwrap().0));
    }
    assert!(!read.is_empty());
    assert_eq!(read, sent[sent.len() - read.len()..]);

    // Trimming: sealed segments go, the active one stays.
    let (log, metrics) = open_log(dir.path(), names.last().unwrap() + 1, 64 << 10);
    for i in 0..20u32 {
        let record = Record {
            object: object(9),
            body: Body::Frames(frames(i + 1, 4, 1)),
        };
        log.append(record).blocking_recv().unwrap().0.unwrap();
    }
    let active = log.active_segment();
    // The trimmer may have run already; afterwards no sealed segment of this log is left.
    log.trim_now().unwrap();
    let left: Vec<u64> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter_map(|n| record::segment_number(&n))
        .filter(|n| *n > *names.last().unwrap())
        .collect();
    assert_eq!(left, vec![active]);
    assert_eq!(metrics.log_segments.get(), 1);
}

#[test]
fn one_fsync_covers_the_records_appended_while_the_previous_one_ran() {
    let dir = tempfile::tempdir().unwrap();
    let (log, metrics) = open_log(dir.path(), 1, 64 << 20);
    let log = Arc::new(log);
    let threads: Vec<_> = (0..8u8)
        .map(|t| {
            let log = log.clone();
            std::thread::spawn(move || {
                for i in 0..50u32 {
                    let record = Record {
                        object: object(t),
                        body: Body::Frames(frames(i + 1, 1, t)),
                    };
                    log.append(record).blocking_recv().unwrap().0.unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let text = metrics.encode();
    let fsyncs: f64 = text
        .lines()
        .find_map(|l| l.strip_prefix("wdo_log_fsync_duration_seconds_count "))
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(metrics.log_records.get(), 400);
    // 400 appends from 8 threads that each wait for their own: fewer fsyncs than appends
    // whenever two were queued together (almost always; at worst equal).
    assert!(fsyncs <= 400.0, "{fsyncs}");
    eprintln!("400 appends from 8 threads: {fsyncs} fsyncs");
}

#[test]
fn a_large_capture_is_split_into_records_that_replay_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let (log, _) = open_log(dir.path(), 1, 1 << 30);
    let page = 4096usize;
    let count = (40 << 20) / (24 + page);
    let big = WalFrames {
        wal_header: [3; 32],
        page_size: page as u32,
        first_frame: 1,
        frames: (0..count * (24 + page)).map(|i| (i % 251) as u8).collect(),
        base: Some(vec![1; 4096]),
    };
    log.append(Record {
        object: object(1),
        body: Body::Frames(big.clone()),
    })
    .blocking_recv()
    .unwrap()
    .0
    .unwrap();
    drop(log);
    let bytes = std::fs::read(dir.path().join(record::segment_name(1))).unwrap();
    let (records, _) = record::read_segment(1, &bytes).unwrap();
    let records = without_time(records);
    assert!(records.len() >= 3, "{} records", records.len());
    let mut joined = Vec::new();
    let mut next = 1;
    for (i, r) in records.iter().enumerate() {
        let Body::Frames(f) = &r.body else { panic!() };
        assert_eq!(f.first_frame, next);
        assert_eq!(f.base.is_some(), i == 0);
        next = f.end_frame();
        joined.extend_from_slice(&f.frames);
    }
    assert_eq!(joined, big.frames);
}

/// The records but the writer's time markers (one before each group).
fn without_time(records: Vec<Record>) -> Vec<Record> {
    records
        .into_iter()
        .filter(|r| !matches!(r.body, Body::Time(_)))
        .collect()
}

#[test]
fn each_group_starts_with_the_time_it_was_written() {
    let dir = tempfile::tempdir().unwrap();
    let before = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    let (log, _) = open_log(dir.path(), 1, 1 << 20);
    let ticket = log.append(Record {
        object: object(1),
        body: Body::Reset,
    });
    ticket.blocking_recv().unwrap().0.unwrap();
    drop(log);
    let bytes = std::fs::read(dir.path().join(record::segment_name(1))).unwrap();
    let (records, _) = record::read_segment(1, &bytes).unwrap();
    let Body::Time(ms) = records[0].body else {
        panic!("{:?}", records[0])
    };
    assert!(ms >= before && ms < before + 60_000, "{ms} vs {before}");
    assert_eq!(records[1].body, Body::Reset);
    assert_eq!(records.len(), 2);
}

/// The segment files in `dir`, by number, with their lengths.
fn segment_files(dir: &std::path::Path) -> Vec<(u64, u64)> {
    let mut files: Vec<(u64, u64)> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| {
            let e = e.ok()?;
            let n = record::segment_number(e.file_name().to_str()?)?;
            Some((n, e.metadata().ok()?.len()))
        })
        .collect();
    files.sort();
    files
}

#[test]
fn trimmed_segments_are_recycled_and_their_old_records_never_read_as_new_ones() {
    let dir = tempfile::tempdir().unwrap();
    let recycled = dir.path().join(recycle::RECYCLED);
    let record = |i: u32, fill: u8| Record {
        object: object(4),
        body: Body::Frames(frames(i + 1, 4, fill)),
    };
    let (log, _) = open_log(dir.path(), 1, 64 << 10);
    for i in 0..60u32 {
        log.append(record(i, 1)).blocking_recv().unwrap().0.unwrap();
    }
    log.trim_now().unwrap();
    assert!(
        recycled.exists(),
        "a trimmed segment is kept for the next one"
    );
    let kept = std::fs::metadata(&recycled).unwrap().len();
    assert!(kept >= 64 << 10, "the whole segment, {kept} bytes");
    // Every sealed segment, and the active one after a clean stop, is exactly its records.
    drop(log);
    for (n, len) in segment_files(dir.path()) {
        let bytes = std::fs::read(dir.path().join(record::segment_name(n))).unwrap();
        assert_eq!(
            record::read_segment(n, &bytes).unwrap().1,
            len,
            "segment {n}"
        );
    }

    // The next log starts in the recycled file: a few records, then a crash (the writer is
    // left as it is, never stopped).
    let next = segment_files(dir.path()).last().unwrap().0 + 1;
    let (log, _) = open_log(dir.path(), next, 64 << 10);
    assert!(!recycled.exists(), "taken by segment {next}");
    let sent: Vec<Record> = (0..3).map(|i| record(i, 7)).collect();
    for r in &sent {
        log.append(r.clone()).blocking_recv().unwrap().0.unwrap();
    }
    let path = dir.path().join(record::segment_name(next));
    let stale = std::fs::metadata(&path).unwrap().len();
    assert_eq!(stale, kept, "written in place, not appended");
    std::mem::forget(log);
    let (segments, records) = read_log(dir.path()).unwrap();
    assert_eq!(segments.last(), Some(&next));
    let bytes = std::fs::read(&path).unwrap();
    let (in_next, valid) = record::read_segment(next, &bytes).unwrap();
    assert_eq!(without_time(in_next), sent, "only the new records");
    assert!(valid < stale);
    assert_eq!(records[records.len() - 3..], sent[..]);
    // Recovery cuts the last segment after its records.
    let data = tempfile::tempdir().unwrap();
    let recovered = recover(dir.path(), data.path()).unwrap();
    assert_eq!(std::fs::metadata(&path).unwrap().len(), valid);
    recovered.remove_segments(dir.path()).unwrap();
    assert!(segment_files(dir.path()).is_empty());
}
