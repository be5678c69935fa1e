//! The host-wide commit log: one append-only log for the commits of every object of
//! `durability = "full"` namespaces, so that one fsync makes the batches of every object that
//! committed meanwhile durable.
//!
//! Owns: `<data-dir>/.commit-log/` (segment files, `record.rs`), the thread that appends and syncs
//! them (`writer.rs`), the thread that trims them (`trim.rs`) and keeps one for the next segment
//! (`recycle.rs`), and recovery at start (`recovery.rs`). Knows files, bytes and SQLite's WAL layout (where a frame goes), nothing
//! of SQLite's API, wasm or objects: the storage layer hands it WAL frames
//! (`storage/wal_capture.rs`) and the objects layer's output gate waits for them.
//!
//! May import: `metrics`. Must never import `storage` (which hands it frames), `objects`,
//! `guest`, `http` or `host`.
//!
//! The protocol, for one object:
//! 1. its batch commits into its own WAL without an fsync (`synchronous=OFF`);
//! 2. the frames that commit appended are read back and appended here as one record (with
//!    the WAL's header, so recovery knows their generation);
//! 3. the writer thread writes every record queued meanwhile, of any object, and syncs the
//!    segment once: then each of those commits is durable and its outputs are released;
//! 4. object files are synced later, all at once (`syncfs` of the data directory, by the
//!    trimmer), after which the sealed segments before that sync are deleted;
//! 5. after any stop, recovery writes the frames the log holds back into each object's WAL
//!    at their places, and cuts each WAL after its last logged commit, before anything is
//!    served (`recovery.rs`).
//!
//! Checkpoints stay with SQLite, and the database file is synced after each one, before the
//! WAL can restart (`ObjectStorage::checkpoint`): a WAL restarts only after the database file
//! holds every frame of it durably, so the log never needs frames of an older generation
//! than an object's newest.

mod backup;
mod record;
mod recovery;
mod recycle;
mod trim;
mod writer;

#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::oneshot;

pub use backup::{data_files, Backup, Manifest, Snapshot};
pub use record::{
    read_segment, segment_name, Body, ObjectKey, Record, WalFrames, FRAME_HEADER, WAL_HEADER,
};
pub use recovery::{object_path, read_log, recover, wal_path, Recovered};
pub use trim::sync_filesystem;

use crate::metrics::Metrics;

/// The wall clock in Unix milliseconds (the log's time markers; backups and restores).
pub fn unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// How a wait for durability ended: the fsync's result and how long the fsync took.
pub type Synced = (io::Result<()>, Duration);

/// Resolves once the records appended before it are durable (or the log failed).
pub type Ticket = oneshot::Receiver<Synced>;

/// Where an object's WAL stood after its last logged commit: the generation's salts and the
/// frames in it. An actor reads it when the object opens again, so that only new frames are
/// logged (see `storage/wal_capture.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WalPosition {
    pub salt: [u8; 8],
    pub frames: u32,
}

/// Positions remembered at most: beyond it the map starts over, and objects opening then read
/// their WAL once to find where it stands.
const MAX_POSITIONS: usize = 200_000;

/// Settings of the log.
#[derive(Debug, Clone)]
pub struct LogOptions {
    /// A segment is sealed once it holds this many bytes (a new one is started).
    pub segment_bytes: u64,
    /// The filesystem holding the object files, synced (`syncfs`) before sealed segments go.
    pub data_dir: PathBuf,
    /// Continuous backup: every segment is copied there before it is deleted.
    pub backup: Option<Backup>,
    /// A segment holding records this old is sealed even if it is not full (with a backup:
    /// so that it is copied).
    pub seal_after: Option<Duration>,
}

impl LogOptions {
    /// Segments of `segment_bytes` under `data_dir`, without a backup.
    pub fn new(segment_bytes: u64, data_dir: &Path) -> LogOptions {
        LogOptions {
            segment_bytes,
            data_dir: data_dir.to_owned(),
            backup: None,
            seal_after: None,
        }
    }
}

/// The log of a running host (`CommitLog::open` after [`recover`]).
pub struct CommitLog {
    writer: writer::Writer,
    trimmer: trim::Trimmer,
    positions: Mutex<HashMap<ObjectKey, WalPosition>>,
    dir: PathBuf,
    backup: Option<Backup>,
}

impl Drop for CommitLog {
    /// With a backup, the active segment is copied there once its last records are written
    /// (it stays here too, for the next start to recover, which copies it again: the same
    /// bytes, so nothing is written).
    fn drop(&mut self) {
        self.writer.stop();
        if let Some(backup) = &self.backup {
            let active = self.writer.active_segment();
            if let Err(e) = backup.ship(&self.dir, active) {
                tracing::error!("cannot copy the active log segment {active} to the backup: {e}; the next start copies it");
            }
        }
    }
}

/// The directory of the log in a data directory.
pub fn log_dir(data_dir: &Path) -> PathBuf {
    data_dir.join(".commit-log")
}

impl CommitLog {
    /// Starts a log in `dir` at segment `first_segment` (after what [`recover`] found), with
    /// its writer and trimmer threads.
    pub fn open(
        dir: &Path,
        first_segment: u64,
        options: LogOptions,
        metrics: Arc<Metrics>,
    ) -> io::Result<CommitLog> {
        let sealed = Arc::new(trim::Sealed::default());
        let writer = writer::Writer::start(
            dir,
            first_segment,
            (options.segment_bytes, options.seal_after),
            sealed.clone(),
            metrics.clone(),
        )?;
        let trimmer = trim::Trimmer::start(
            dir,
            &options.data_dir,
            options.backup.clone(),
            sealed,
            metrics,
        );
        Ok(CommitLog {
            writer,
            trimmer,
            positions: Mutex::new(HashMap::new()),
            dir: dir.to_owned(),
            backup: options.backup,
        })
    }

    /// Appends `record`; the ticket resolves once it is durable. A record of frames larger
    /// than a segment's records may be is split into several, in order.
    pub fn append(&self, record: Record) -> Ticket {
        self.writer.append(record)
    }

    /// Where the object's WAL stood when it last closed, if this host remembers.
    pub fn position(&self, object: &ObjectKey) -> Option<WalPosition> {
        self.positions
            .lock()
            .expect("positions lock")
            .get(object)
            .copied()
    }

    /// Remembers where the object's WAL stands as it closes (`None`: forget it).
    pub fn remember(&self, object: ObjectKey, position: Option<WalPosition>) {
        let mut positions = self.positions.lock().expect("positions lock");
        match position {
            Some(position) => {
                if positions.len() >= MAX_POSITIONS && !positions.contains_key(&object) {
                    positions.clear();
                }
                positions.insert(object, position);
            }
            None => {
                positions.remove(&object);
            }
        }
    }

    /// Syncs the object files and deletes the sealed segments now (the trimmer does this
    /// on its own whenever a segment is sealed). Blocking.
    pub fn trim_now(&self) -> io::Result<usize> {
        self.trimmer.trim_now()
    }

    /// The segment being written.
    pub fn active_segment(&self) -> u64 {
        self.writer.active_segment()
    }
}
