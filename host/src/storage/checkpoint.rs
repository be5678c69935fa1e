//! Checkpoints of a full-durability object's WAL into its database file: when they are due
//! (`checkpoint-pages`), and what makes them safe with the host's commit log.

use rusqlite::ffi;

use super::{io_failure, ObjectStorage, Result};

impl ObjectStorage {
    /// Whether enough was written since the last checkpoint to run [`checkpoint`](Self::checkpoint).
    pub fn checkpoint_due(&self) -> bool {
        self.syncs_apart()
            && self.pages_written().wrapping_sub(self.pages_at_checkpoint)
                >= self.limits.checkpoint_pages as i32
    }

    /// Copies the WAL into the database file and syncs the database file (blocking; outside
    /// a batch). The next commit then starts the WAL over, which is safe only once the
    /// database file holds the WAL durably: hence the sync, before this returns.
    ///
    /// The WAL itself is not synced first (SQLite's `synchronous=FULL` or `NORMAL` would,
    /// and that fsync flushed the ~4 MiB of WAL frames the commits wrote since the last
    /// checkpoint, while the actor waited): a crash in the middle of the copy leaves the WAL
    /// as recovery rebuilds it anyway, its frames in the log's segments written back and the
    /// older ones durable since the `syncfs` that came before their segments were deleted
    /// (`commit_log/recovery.rs`), and SQLite copies it again.
    ///
    /// Call it only when every commit so far is durable: a checkpoint copies every frame
    /// into the database file, and after a failed sync nothing of a non-durable commit may
    /// be there (`fail_stop.rs`).
    pub fn checkpoint(&mut self) -> Result<()> {
        self.pages_at_checkpoint = self.pages_written();
        let point = self.wal_point();
        let done = self
            .conn
            .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()));
        if let Some(durable) = &self.durable {
            durable.may_restart();
        }
        done?;
        self.sync_database_file()?;
        if let Some(point) = point {
            self.mark_durable(point);
        }
        Ok(())
    }

    /// The database file as it is, if every frame of the WAL is in it (right after a
    /// checkpoint that nothing held up): its page size and bytes. For a snapshot (cluster
    /// mode): the file is then byte for byte the database as of the last commit. Blocking.
    pub fn database_image(&mut self) -> Result<Option<(u32, Vec<u8>)>> {
        let (busy, frames, copied): (i64, i64, i64) =
            self.conn
                .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |row| {
                    Ok((row.get(0)?, row.get(1)?, row.get(2)?))
                })?;
        if busy != 0 || frames != copied {
            return Ok(None);
        }
        let page_size: u32 = self
            .conn
            .query_row("PRAGMA page_size", [], |row| row.get(0))?;
        let pages: u64 = self
            .conn
            .query_row("PRAGMA page_count", [], |row| row.get(0))?;
        let path = self.conn.path().unwrap_or_default().to_owned();
        let mut image = std::fs::read(&path)
            .map_err(|e| io_failure(&format!("cannot read {path} for a snapshot"), &e))?;
        let len = pages * page_size as u64;
        if (image.len() as u64) < len {
            return Ok(None);
        }
        image.truncate(len as usize);
        Ok(Some((page_size, image)))
    }

    /// fsync of the database file (not of its WAL).
    fn sync_database_file(&self) -> Result<()> {
        let path = self.conn.path().unwrap_or_default();
        std::fs::File::open(path)
            .and_then(|file| file.sync_data())
            .map_err(|e| io_failure(&format!("cannot sync {path} after a checkpoint"), &e))
    }

    /// SQLite's running count of pages this connection wrote (to the WAL).
    fn pages_written(&self) -> i32 {
        let (mut current, mut highwater) = (0, 0);
        // SAFETY: the handle is this open connection's, and the call only reads a counter.
        unsafe {
            ffi::sqlite3_db_status(
                self.conn.handle(),
                ffi::SQLITE_DBSTATUS_CACHE_WRITE,
                &mut current,
                &mut highwater,
                0,
            )
        };
        current
    }
}
