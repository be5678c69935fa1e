//! An object that has never written has no file. Its store starts as a temporary database
//! (in memory while small), with the same schema, rules and limits, and the first batch
//! that writes creates the file: once that batch's COMMIT has run, the database is copied
//! into a new file (the backup API), which is the store from then on. The copy is part of
//! the batch's commit, so it is durable before the batch is acknowledged, as any commit:
//! with full durability the copy sits in the new file's WAL, and the commit log takes it from
//! there with the new file's first state (`wal_capture.rs`).
//!
//! An object that only reads (a `get` of a name never used) so leaves no file, no WAL and
//! (see the objects layer) no metadata row behind.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::backup::Backup;
use rusqlite::{Connection, OpenFlags};

use super::{configure_sqlite, wal_path, Limits, ObjectStorage, Result};
use crate::config::Durability;

/// Where an in-memory store goes when it first writes.
pub(super) struct Unsaved {
    path: PathBuf,
    durability: Durability,
}

/// Pages copied per step of the backup: all of them in one step.
const PAGES_PER_STEP: std::os::raw::c_int = std::os::raw::c_int::MAX;

impl ObjectStorage {
    /// Whether the object at `path` has files (its database or its WAL).
    pub fn exists(path: &Path) -> bool {
        path.exists() || wal_path(path).exists()
    }

    /// The store of an object that has no file at `path` yet: temporary until a batch
    /// writes, then the file at `path`.
    pub fn open_unsaved(
        path: &Path,
        durability: Durability,
        limits: Limits,
    ) -> Result<ObjectStorage> {
        configure_sqlite();
        // SQLite's temporary database (an empty file name): in memory while small, spilled
        // to a temporary file (not in the data directory) beyond its page cache, so that a
        // first batch that writes much does not hold it all in the host's memory.
        let conn = Connection::open_with_flags("", OpenFlags::default())?;
        let mut storage = Self::with_connection(conn, limits)?;
        storage.unsaved = Some(Unsaved {
            path: path.to_owned(),
            durability,
        });
        Ok(storage)
    }

    /// Whether the store has no file yet: its next commit that writes creates one.
    pub fn is_unsaved(&self) -> bool {
        self.unsaved.is_some()
    }

    /// After a COMMIT that wrote: if the store has no file yet, creates its file with
    /// what was committed and becomes that file's store. If that fails, the batch's
    /// writes are dropped too (they were never durable and must not be seen) and whatever
    /// was created is removed.
    pub(super) fn persist(&mut self) -> Result<()> {
        let Some(unsaved) = self.unsaved.take() else {
            return Ok(());
        };
        let copied =
            Self::open(&unsaved.path, unsaved.durability, self.limits).and_then(|mut file| {
                Backup::new(&self.conn, &mut file.conn)?.run_to_completion(
                    PAGES_PER_STEP,
                    Duration::ZERO,
                    None,
                )?;
                // The copy commits outside SQLite's WAL hook: count its frames from the file.
                if let Some(durable) = &file.durable {
                    let wal = super::wal_file::read(&wal_path(&unsaved.path))
                        .map_err(|e| super::io_failure("cannot read the new WAL", &e))?;
                    durable.set_frames(wal.commits.last().copied().unwrap_or(0));
                }
                Ok(file)
            });
        match copied {
            Ok(file) => {
                *self = file;
                Ok(())
            }
            Err(error) => {
                let _ = std::fs::remove_file(wal_path(&unsaved.path));
                let _ = std::fs::remove_file(&unsaved.path);
                *self = Self::open_unsaved(&unsaved.path, unsaved.durability, self.limits)?;
                Err(error)
            }
        }
    }
}
