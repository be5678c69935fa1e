//! `wdo-bench restore [OBJECTS]`: how long a restore of a backup of many objects takes
//! (default 10,000, as scenario 2's). The backup is made as a host makes it: each object is
//! created and written (the storage floor's activation) through a real commit log with continuous backup (segments of 8 MiB,
//! copied when sealed, the active one when the log closes), after a first snapshot of the
//! empty data directory. Then, timed: a restore that replays every segment, building a
//! periodic snapshot from the backup, and a restore from that snapshot.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use wdo::commit_log::{Backup, CommitLog, LogOptions};
use wdo::config::Durability;
use wdo::storage::{Limits, ObjectStorage};

use crate::floors::{activate, object_key};

/// Increments per object: each a commit, logged as a record.
const WRITES: u64 = 3;

pub fn run(objects: u64) -> anyhow::Result<()> {
    let dir = tempfile::Builder::new()
        .prefix("wdo-bench-restore-")
        .tempdir()?;
    let data = dir.path().join("data");
    let backup_dir = dir.path().join("backup");
    let log_dir = wdo::commit_log::log_dir(&data);
    std::fs::create_dir_all(data.join("floor"))?;
    std::fs::create_dir_all(&log_dir)?;
    let backup = Backup::open(&backup_dir)?;
    let first = wdo::backup::at_start(&data, Some(&backup), 1, false)?;
    let started = Instant::now();
    {
        let mut options = LogOptions::new(8 << 20, &data);
        options.backup = Some(backup.clone());
        let log = CommitLog::open(
            &log_dir,
            first,
            options,
            Arc::new(wdo::metrics::Metrics::default()),
        )?;
        for i in 0..objects {
            for _ in 0..WRITES {
                activate(&path(&data, i), i, Durability::Full, &log)?;
            }
        }
        log.trim_now()?;
    }
    let made = started.elapsed();
    let segments = backup.segments()?.len();
    let bytes: u64 = backup
        .segments()?
        .iter()
        .map(|&s| std::fs::metadata(backup.segment_path(s)).map_or(0, |m| m.len()))
        .sum();
    println!(
        "backup of {objects} objects ({WRITES} commits each) made in {:.1}s: {segments} segments, {:.1} MiB",
        made.as_secs_f64(),
        bytes as f64 / (1 << 20) as f64
    );
    let replayed = restore(&backup_dir, &dir.path().join("from-log"), objects)?;
    println!(
        "restore from the log (snapshot of the empty data directory + every segment): {:.2}s ({} records)",
        replayed.0.as_secs_f64(),
        replayed.1
    );
    let compacting = Instant::now();
    wdo::backup::compact(&backup)?;
    println!(
        "periodic snapshot built from the backup: {:.2}s",
        compacting.elapsed().as_secs_f64()
    );
    let snapshot = restore(&backup_dir, &dir.path().join("from-snapshot"), objects)?;
    println!(
        "restore from that snapshot: {:.2}s ({} records after it)",
        snapshot.0.as_secs_f64(),
        snapshot.1
    );
    Ok(())
}

/// A timed restore, checked: every object there with its count.
fn restore(backup: &Path, to: &Path, objects: u64) -> anyhow::Result<(Duration, usize)> {
    let started = Instant::now();
    let restored = wdo::backup::restore(backup, to, None)?;
    let took = started.elapsed();
    anyhow::ensure!(
        restored.objects as u64 == objects,
        "restored {} objects, not {objects}",
        restored.objects
    );
    for i in [0, objects / 2, objects - 1] {
        let mut storage =
            ObjectStorage::open(&path(to, i), Durability::Relaxed, Limits::default())?;
        let count: u64 = serde_json::from_slice(&storage.get("count")?.unwrap_or_default())?;
        anyhow::ensure!(count == WRITES, "object {i} restored with count {count}");
    }
    Ok((took, restored.records))
}

fn path(data: &Path, i: u64) -> PathBuf {
    wdo::commit_log::object_path(data, &object_key(i))
}
