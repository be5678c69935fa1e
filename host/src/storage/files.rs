//! An object's files across activations: whether opening is quick, what closing does (a
//! large WAL is checkpointed, a small one kept for the next activation), and keeping the WAL
//! file when the connection closes.

use std::path::Path;

use rusqlite::Connection;

use super::{ObjectStorage, Result, StorageError};

/// A WAL larger than this is checkpointed when the object closes.
pub(super) const CHECKPOINT_ON_CLOSE_BYTES: u64 = 256 << 10;

impl ObjectStorage {
    /// Whether opening the object's database is quick enough for an async worker: the file
    /// exists with content (so opening creates and syncs nothing) and its WAL is no larger
    /// than a cleanly closed object leaves (recovering a large WAL reads all of it).
    pub fn opens_quickly(path: &Path) -> bool {
        std::fs::metadata(path).is_ok_and(|m| m.len() > 0)
            && wal_bytes(path) <= CHECKPOINT_ON_CLOSE_BYTES
    }

    /// Whether closing (dropping) this store checkpoints its WAL (it is over
    /// [`CHECKPOINT_ON_CLOSE_BYTES`]), which writes and syncs files: the caller should then
    /// drop it on a blocking thread.
    pub fn closing_syncs(&self) -> bool {
        self.conn
            .path()
            .filter(|p| !p.is_empty())
            .is_some_and(|path| wal_bytes(Path::new(path)) > CHECKPOINT_ON_CLOSE_BYTES)
    }
}

/// The size of the WAL of the database at `db` (0 if it has none).
fn wal_bytes(db: &Path) -> u64 {
    std::fs::metadata(super::wal_path(db)).map_or(0, |m| m.len())
}

impl Drop for ObjectStorage {
    /// Closing checkpoints a large WAL (see [`ObjectStorage::closing_syncs`]).
    fn drop(&mut self) {
        if !self.poisoned && self.closing_syncs() {
            let path = self.conn.path().unwrap_or_default().to_owned();
            // Full durability commits with synchronous=OFF: the checkpoint must sync.
            if self.capture.is_some() {
                let _ = self.conn.execute_batch("PRAGMA synchronous=FULL");
            }
            if let Err(e) = self.conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)") {
                tracing::warn!("cannot checkpoint {path} on close: {e}");
            }
        }
    }
}

/// Keeps the WAL file when the connection closes (`SQLITE_FCNTL_PERSIST_WAL`).
pub(super) fn persist_wal(conn: &Connection) -> Result<()> {
    let mut on: std::os::raw::c_int = 1;
    // SAFETY: the handle is a live connection owned by `conn`, "main" is NUL-terminated, and
    // this opcode reads and writes one int through the pointer, which outlives the call.
    let rc = unsafe {
        rusqlite::ffi::sqlite3_file_control(
            conn.handle(),
            c"main".as_ptr(),
            rusqlite::ffi::SQLITE_FCNTL_PERSIST_WAL,
            (&mut on as *mut std::os::raw::c_int).cast(),
        )
    };
    if rc != rusqlite::ffi::SQLITE_OK {
        return Err(StorageError::Sqlite(rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rc),
            Some("cannot keep the WAL file on close".into()),
        )));
    }
    Ok(())
}
