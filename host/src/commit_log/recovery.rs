//! Recovery at start, before anything is served or migrated: every commit the log holds is
//! put back into its object's WAL, exactly as SQLite wrote it, and every WAL is cut after its
//! last logged commit.
//!
//! Why that is enough, for one object whose newest records are frames `a..=b` of WAL
//! generation `g` (earlier generations were checkpointed into the database file, synced,
//! before SQLite restarted the WAL; earlier frames of `g` were in segments deleted after a
//! `syncfs`, so they are durable in the WAL file):
//! - writing frames `a..=b` at their places repairs whatever a power cut left there (nothing,
//!   a torn write, or stale bytes), and the frames before `a` are on disk already, so the WAL
//!   holds `g`'s frames `1..=b` with a valid checksum chain;
//! - cutting the WAL after frame `b` drops the commits that reached the WAL but not the log:
//!   they were never acknowledged;
//! - if the WAL on disk has another header although `a > 1`, SQLite restarted the WAL after
//!   the last logged commit, which it does only once every frame of `g` is in the database
//!   file, durably: the WAL is emptied instead;
//! - the first commit of a new object also carries the database file as it was created, for
//!   the case where the file itself did not survive.
//!
//! Writing the same frames again gives the same bytes, so recovery can be interrupted and run
//! again any number of times. It writes without syncing: the caller syncs the data
//! directory's filesystem once (`syncfs`) before the log's old segments are deleted, and their
//! deletion need not be durable (replaying them again before newer segments changes nothing).

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, Read};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};

use super::record::{self, Body, ObjectKey, Record, WalFrames, WAL_HEADER};

/// What recovery found and did.
#[derive(Debug, Default)]
pub struct Recovered {
    /// The segments found; the caller deletes them once the data directory is synced.
    pub segments: Vec<u64>,
    /// The number the next segment gets.
    pub next_segment: u64,
    pub records: usize,
    /// Objects whose WAL was written back.
    pub objects: usize,
}

impl Recovered {
    /// Deletes the segments that recovery read (call it once the data directory is synced).
    /// They are not recycled (`recycle.rs`): a start needs no sync of the log directory, so
    /// that a host whose disk fails syncs still starts, to refuse what it cannot make durable.
    pub fn remove_segments(&self, log_dir: &Path) -> io::Result<()> {
        for &segment in &self.segments {
            super::recycle::remove(log_dir, segment)?;
        }
        Ok(())
    }
}

/// The database file of an object: `<data-dir>/<namespace>/<id in hex>.sqlite`.
pub fn object_path(data_dir: &Path, object: &ObjectKey) -> PathBuf {
    data_dir
        .join(&object.namespace)
        .join(format!("{}.sqlite", hex::encode(object.id)))
}

/// The WAL file of the database at `db`.
pub fn wal_path(db: &Path) -> PathBuf {
    let mut wal = db.as_os_str().to_owned();
    wal.push("-wal");
    PathBuf::from(wal)
}

/// Replays the log in `log_dir` into the object files under `data_dir`.
pub fn recover(log_dir: &Path, data_dir: &Path) -> anyhow::Result<Recovered> {
    if !log_dir.is_dir() {
        // Made durable by the caller's sync of the filesystem, like everything here.
        std::fs::create_dir(log_dir)
            .with_context(|| format!("cannot create the commit log {}", log_dir.display()))?;
    }
    let (segments, records, last_valid) = read_segments(log_dir)?;
    if let Some(&last) = segments.last() {
        cut_after(&log_dir.join(record::segment_name(last)), last_valid)
            .with_context(|| format!("cannot cut log segment {last} after its last record"))?;
    }
    let mut recovered = Recovered {
        next_segment: segments.last().map_or(1, |s| s + 1),
        segments,
        records: records.len(),
        ..Recovered::default()
    };
    // Per object, the records that matter: those after its last reset, of its newest WAL
    // generation.
    let mut pending: BTreeMap<ObjectKey, Vec<WalFrames>> = BTreeMap::new();
    for record in records {
        let kept = pending.entry(record.object).or_default();
        match record.body {
            Body::Reset => kept.clear(),
            Body::Time(_) => {}
            Body::Frames(frames) => {
                if kept
                    .last()
                    .is_some_and(|l| l.wal_header != frames.wal_header)
                {
                    kept.clear();
                }
                kept.push(frames);
            }
        }
    }
    for (object, frames) in &pending {
        if frames.is_empty() {
            continue;
        }
        let db = object_path(data_dir, object);
        apply(&db, frames)
            .with_context(|| format!("cannot recover {} from the commit log", db.display()))?;
        recovered.objects += 1;
    }
    Ok(recovered)
}

/// The segments of the log in `log_dir` and their records (but the time markers), in order.
/// Only the last segment may end in a torn or damaged record (it ends the log there).
pub fn read_log(log_dir: &Path) -> anyhow::Result<(Vec<u64>, Vec<Record>)> {
    read_segments(log_dir).map(|(segments, records, _)| (segments, records))
}

/// [`read_log`], and where the last segment's valid part ends.
fn read_segments(log_dir: &Path) -> anyhow::Result<(Vec<u64>, Vec<Record>, u64)> {
    let segments = list_segments(log_dir)?;
    let mut all = Vec::new();
    let mut last_valid = 0;
    for (i, &segment) in segments.iter().enumerate() {
        let path = log_dir.join(record::segment_name(segment));
        let bytes = std::fs::read(&path)
            .with_context(|| format!("cannot read the commit log segment {}", path.display()))?;
        let (records, valid) = record::read_segment(segment, &bytes)
            .with_context(|| format!("commit log segment {}", path.display()))?;
        if i + 1 < segments.len() && valid < bytes.len() as u64 {
            bail!(
                "commit log segment {} is damaged at byte {valid} of {} although a later segment \
                 exists (a sealed segment is synced whole): the host will not start on a log it \
                 cannot trust",
                path.display(),
                bytes.len()
            );
        }
        all.extend(
            records
                .into_iter()
                .filter(|r| !matches!(r.body, Body::Time(_))),
        );
        last_valid = valid;
    }
    Ok((segments, all, last_valid))
}

/// Cuts the last segment after its valid part (a torn record, or bytes of a recycled file,
/// `recycle.rs`), so that a backup copies only its records; made durable, like everything
/// recovery writes, by the caller's sync of the filesystem.
fn cut_after(path: &Path, valid: u64) -> io::Result<()> {
    let file = std::fs::OpenOptions::new().write(true).open(path)?;
    if file.metadata()?.len() > valid {
        file.set_len(valid)?;
    }
    Ok(())
}

fn list_segments(log_dir: &Path) -> anyhow::Result<Vec<u64>> {
    let mut segments = Vec::new();
    for entry in std::fs::read_dir(log_dir)
        .with_context(|| format!("cannot list the commit log {}", log_dir.display()))?
    {
        let entry = entry.with_context(|| format!("cannot list {}", log_dir.display()))?;
        if let Some(number) = entry.file_name().to_str().and_then(record::segment_number) {
            segments.push(number);
        }
    }
    segments.sort_unstable();
    Ok(segments)
}

/// Puts one object's logged frames (of one WAL generation, in order) back into its WAL.
fn apply(db: &Path, frames: &[WalFrames]) -> io::Result<()> {
    let first = &frames[0];
    let last = frames.last().expect("not empty");
    let dir = db
        .parent()
        .expect("an object file is in a namespace directory");
    if !dir.is_dir() {
        std::fs::create_dir_all(dir)?;
    }
    if let Some(base) = first.base.as_ref().filter(|_| first.first_frame == 1) {
        let len = std::fs::metadata(db).map_or(0, |m| m.len());
        if len < base.len() as u64 {
            let file = File::options()
                .write(true)
                .create(true)
                .truncate(false)
                .open(db)?;
            file.write_all_at(base, 0)?;
        }
    }
    let wal_path = wal_path(db);
    let wal = File::options()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&wal_path)?;
    let mut on_disk = [0u8; WAL_HEADER];
    let has_header = (&wal).read_exact(&mut on_disk).is_ok();
    if first.first_frame > 1 && !(has_header && on_disk == first.wal_header) {
        // The WAL restarted after the last logged commit: the database file holds them all.
        wal.set_len(0)?;
    } else {
        let frame_len = first.frame_len() as u64;
        wal.write_all_at(&first.wal_header, 0)?;
        for part in frames {
            let at = WAL_HEADER as u64 + u64::from(part.first_frame - 1) * frame_len;
            wal.write_all_at(&part.frames, at)?;
        }
        wal.set_len(WAL_HEADER as u64 + u64::from(last.end_frame() - 1) * frame_len)?;
    }
    Ok(())
}
