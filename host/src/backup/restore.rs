//! `wdo restore --from BACKUP --to DATA_DIR [--at TIME]`: a data directory as it was at TIME
//! (or as the backup last saw it), rebuilt from the newest snapshot taken at or before TIME
//! and the log segments after it.
//!
//! 1. The snapshot's files are copied into the new data directory, and every WAL in it is
//!    checkpointed into its database (SQLite), so that each object is one file.
//! 2. The segments from the snapshot's `next_segment` on are read in order. Each group of
//!    records starts with the time it was written; a group written after TIME ends the
//!    restore. For each object, the pages of every committed transaction (a run of frames
//!    ending with a commit frame, which carries the database's size in pages) are written
//!    into its database file at their places and the file is cut to that size: what SQLite's
//!    checkpoint would do with the same frames. A new object's first record brings its file
//!    as it was created; a reset (an admin delete or import) removes the object.
//! 3. Each namespace's alarm index is rebuilt from its objects' alarm rows, and objects the
//!    metadata does not know yet are added to its id list.
//!
//! A backup whose history has a gap before TIME (a run of the host without the backup) is
//! refused with the moment it can be restored up to.

use std::collections::HashMap;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

use crate::commit_log::{self, Backup, Body, ObjectKey, WalFrames, FRAME_HEADER};
use crate::storage::durable_fs::remove_if_exists;

/// What a restore did.
#[derive(Debug)]
pub struct Restored {
    pub snapshot: PathBuf,
    pub snapshot_ms: u64,
    /// Segments read after the snapshot, and the records applied from them.
    pub segments: usize,
    pub records: usize,
    /// Object databases in the restored data directory.
    pub objects: usize,
    /// The time of the last group of records applied (`snapshot_ms` if none).
    pub restored_to_ms: u64,
    /// The first segment not applied (the next snapshot's, if this one is taken as one).
    pub next_segment: u64,
    pub took: Duration,
}

/// Rebuilds the data directory `to` (absent or empty) from the backup in `from`, as it was at
/// `at_ms` (Unix milliseconds), or as recent as the backup holds.
pub fn restore(from: &Path, to: &Path, at_ms: Option<u64>) -> anyhow::Result<Restored> {
    let started = Instant::now();
    let backup = Backup::existing(from)?;
    if std::fs::read_dir(to).is_ok_and(|mut entries| entries.next().is_some()) {
        bail!(
            "{} is not empty: restore builds a new data directory",
            to.display()
        );
    }
    let snapshots = backup
        .snapshots()
        .context("cannot read the backup's snapshots")?;
    let Some(index) = snapshots
        .iter()
        .rposition(|s| at_ms.is_none_or(|at| s.manifest.taken_ms <= at))
    else {
        match snapshots.first() {
            Some(first) => bail!(
                "the backup starts at {} (its first snapshot): it cannot restore an earlier moment",
                super::format_ms(first.manifest.taken_ms)
            ),
            None => bail!("the backup in {} has no snapshot yet", from.display()),
        }
    };
    let snapshot = &snapshots[index];
    copy_snapshot(&snapshot.dir, to)?;
    let mut restored = Restored {
        snapshot: snapshot.dir.clone(),
        snapshot_ms: snapshot.manifest.taken_ms,
        segments: 0,
        records: 0,
        objects: 0,
        restored_to_ms: snapshot.manifest.taken_ms,
        next_segment: snapshot.manifest.next_segment,
        took: Duration::ZERO,
    };
    let segments = backup
        .segments()
        .context("cannot list the backup's segments")?;
    let mut pending: HashMap<ObjectKey, Vec<(u32, Vec<u8>)>> = HashMap::new();
    let mut number = snapshot.manifest.next_segment;
    'segments: while segments.contains(&number) {
        let path = backup.segment_path(number);
        let bytes =
            std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
        let (records, _) = commit_log::read_segment(number, &bytes)
            .with_context(|| format!("backup segment {}", path.display()))?;
        restored.segments += 1;
        for record in records {
            match record.body {
                Body::Time(ms) if at_ms.is_some_and(|at| ms > at) => break 'segments,
                Body::Time(ms) => restored.restored_to_ms = ms,
                Body::Reset => {
                    pending.remove(&record.object);
                    let db = commit_log::object_path(to, &record.object);
                    remove_if_exists(&commit_log::wal_path(&db))?;
                    remove_if_exists(&db)?;
                    restored.records += 1;
                }
                Body::Frames(frames) => {
                    let db = commit_log::object_path(to, &record.object);
                    let pages = pending.entry(record.object).or_default();
                    apply(&db, &frames, pages)
                        .with_context(|| format!("cannot apply the log to {}", db.display()))?;
                    restored.records += 1;
                }
            }
        }
        number += 1;
        restored.next_segment = number;
    }
    let later = segments.iter().any(|&s| s > number)
        || snapshots[index + 1..]
            .iter()
            .any(|s| s.manifest.next_segment > number);
    if !segments.contains(&number) && later && at_ms.is_some() {
        bail!(
            "the backup misses log segment {number}: its history has a gap after {} (the host \
             ran without this backup), so it cannot restore {}; restore {} or earlier, or from \
             the next snapshot on",
            super::format_ms(restored.restored_to_ms),
            super::format_ms(at_ms.unwrap_or_default()),
            super::format_ms(restored.restored_to_ms),
        );
    }
    for db in sqlite_files(to)? {
        rollback_mode(&db).with_context(|| format!("cannot finish {}", db.display()))?;
    }
    restored.objects = super::index::rebuild(to)?;
    crate::commit_log::sync_filesystem(to)
        .with_context(|| format!("cannot sync {}", to.display()))?;
    restored.took = started.elapsed();
    Ok(restored)
}

/// Copies a snapshot into the new data directory and folds every WAL into its database.
fn copy_snapshot(snapshot: &Path, to: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(to).with_context(|| format!("cannot create {}", to.display()))?;
    let files = commit_log::data_files(snapshot)
        .with_context(|| format!("cannot list {}", snapshot.display()))?;
    for file in &files {
        let relative = file.strip_prefix(snapshot).expect("under the snapshot");
        if relative == Path::new("manifest.json") {
            continue;
        }
        let target = to.join(relative);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::copy(file, &target)
            .with_context(|| format!("cannot copy {} to {}", file.display(), target.display()))?;
    }
    for file in &files {
        let relative = file.strip_prefix(snapshot).expect("under the snapshot");
        let db = to.join(relative);
        let is_db = db.extension().is_some_and(|e| e == "sqlite");
        let wal = commit_log::wal_path(&db);
        if is_db && std::fs::metadata(&wal).is_ok_and(|m| m.len() > 0) {
            checkpoint(&db).with_context(|| format!("cannot checkpoint {}", db.display()))?;
        }
    }
    Ok(())
}

fn checkpoint(db: &Path) -> rusqlite::Result<()> {
    let conn = rusqlite::Connection::open(db)?;
    let busy: i64 = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |row| row.get(0))?;
    if busy != 0 {
        return Err(rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_BUSY),
            Some("the checkpoint could not finish".into()),
        ));
    }
    // Closing the last connection removes the (empty) WAL.
    conn.close().map_err(|(_, e)| e)?;
    Ok(())
}

/// Writes the committed transactions of `frames` into the database `db`. `pages`: pages of a
/// transaction whose commit frame is still to come (in the object's next record).
fn apply(db: &Path, frames: &WalFrames, pages: &mut Vec<(u32, Vec<u8>)>) -> std::io::Result<()> {
    if let Some(base) = frames.base.as_ref().filter(|_| frames.first_frame == 1) {
        if !db.exists() {
            std::fs::create_dir_all(db.parent().expect("in a namespace directory"))?;
            std::fs::write(db, base)?;
        }
    }
    let page_size = u64::from(frames.page_size);
    let mut file = None;
    for frame in frames.frames.chunks(frames.frame_len()) {
        let pgno = u32::from_be_bytes(frame[0..4].try_into().expect("4 bytes"));
        let size = u32::from_be_bytes(frame[4..8].try_into().expect("4 bytes"));
        if pgno == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "a logged frame is for page 0",
            ));
        }
        pages.push((pgno, frame[FRAME_HEADER..].to_vec()));
        if size == 0 {
            continue;
        }
        let file = match &mut file {
            Some(file) => file,
            None => file.insert(
                File::options()
                    .write(true)
                    .create(true)
                    .truncate(false)
                    .open(db)?,
            ),
        };
        for (pgno, page) in pages.drain(..) {
            file.write_all_at(&page, u64::from(pgno - 1) * page_size)?;
        }
        file.set_len(u64::from(size) * page_size)?;
    }
    Ok(())
}

/// The database files under `dir`.
fn sqlite_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let files = commit_log::data_files(dir)?;
    Ok(files
        .into_iter()
        .filter(|f| f.extension().is_some_and(|e| e == "sqlite"))
        .collect())
}

/// Marks a restored database, which has no WAL, as a plain rollback-journal file (bytes 18
/// and 19 of its header: 1, not WAL's 2), so that reading it creates no WAL and
/// shared-memory files; the host switches it back to WAL when it opens it.
fn rollback_mode(db: &Path) -> std::io::Result<()> {
    let file = File::options().read(true).write(true).open(db)?;
    let mut header = [0u8; 20];
    match file.read_exact_at(&mut header, 0) {
        Ok(()) if &header[..16] == b"SQLite format 3\0" && header[18..20] == [2, 2] => {
            file.write_all_at(&[1, 1], 18)
        }
        // Empty, or not in WAL mode: nothing to change.
        _ => Ok(()),
    }
}
