//! Syncing an object's WAL apart from its connection: the pipelined group commit of
//! `durability = "full"` namespaces (see `host/src/objects/output_gate.rs`).
//!
//! The connection commits with `synchronous=OFF`: COMMIT appends the batch's frames to the
//! WAL file and returns without an fsync, so the next batch's events can run at once. This
//! handle then fsyncs the WAL file (`fdatasync` through a descriptor of its own; Linux syncs
//! the file, whichever descriptor asks) on a blocking thread, and the actor releases a
//! batch's responses only after an fsync that started after the batch's COMMIT returned.
//! SQLite's own checkpoints would copy unsynced frames into the database file without syncing
//! it, so automatic checkpoints are off and `ObjectStorage::checkpoint` runs them with
//! `synchronous=FULL` (sync the WAL, copy, sync the database) before the WAL is reused.

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

pub struct WalSync {
    wal: PathBuf,
    dir: PathBuf,
    file: Mutex<Option<File>>,
    /// A WAL file created during this activation must also have its directory entry synced.
    dir_synced: AtomicBool,
}

impl WalSync {
    /// The WAL file of the database at `db`.
    pub fn wal_path(db: &Path) -> PathBuf {
        let mut wal = db.as_os_str().to_owned();
        wal.push("-wal");
        PathBuf::from(wal)
    }

    /// For the database at `db`. `wal_existed`: whether its WAL file existed before the
    /// connection was opened (opening may create it); if not, the first sync also syncs the
    /// directory, which makes both new entries durable, the database's and the WAL's.
    pub fn new(db: &Path, wal_existed: bool) -> WalSync {
        let wal = Self::wal_path(db);
        let dir = db
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."))
            .to_path_buf();
        WalSync {
            wal,
            dir,
            file: Mutex::new(None),
            dir_synced: AtomicBool::new(wal_existed),
        }
    }

    /// Makes everything committed so far durable. Blocking: run it on a blocking thread.
    pub fn sync(&self) -> io::Result<()> {
        let mut file = self.file.lock().expect("wal file lock");
        let file = match file.as_mut() {
            Some(file) => file,
            None => file.insert(File::open(&self.wal)?),
        };
        file.sync_data()?;
        if !self.dir_synced.load(Ordering::Acquire) {
            super::durable_fs::sync_dir(&self.dir)?;
            self.dir_synced.store(true, Ordering::Release);
        }
        Ok(())
    }
}

#[cfg(test)]
impl WalSync {
    /// Whether the directory holding the WAL is known synced.
    pub fn dir_synced(&self) -> bool {
        self.dir_synced.load(Ordering::Acquire)
    }
}
