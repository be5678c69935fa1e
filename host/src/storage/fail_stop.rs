//! Fail-stop after a failed fsync (`durability = "full"`).
//!
//! When an fsync of an object's WAL (or a checkpoint's) fails, the writes it was to make
//! durable may or may not reach the disk, and on Linux the failed pages are then marked clean:
//! a later fsync "succeeds" without writing them. SQLite, reopening the file, would read those
//! frames back from the page cache and serve writes that were answered with an error (and a
//! later power cut could lose acknowledged commits that sit behind them). So the object stops
//! (the objects layer quarantines it) and its WAL is cut back to the last commit known durable,
//! which is then synced: what the object serves next is exactly what was acknowledged.
//!
//! What is known durable, tracked while the object is live:
//! - the WAL's generation at open (its salts): what an activation finds was made durable by
//!   the previous one (or by the host's start after an unclean stop);
//! - the WAL position (generation, frames) of the first commit of this activation: the
//!   commits before it in the same generation are the ones found at open;
//! - the position of the last commit covered by a successful WAL sync or checkpoint.

use std::cell::Cell;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};

use rusqlite::ffi;

use super::wal_file::{self, Salt};
use super::ObjectStorage;

/// A commit's place in the WAL: its generation and the frame count after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WalPoint {
    salt: Option<Salt>,
    frames: u32,
}

/// What of an object's WAL is known durable.
pub(super) struct DurableWal {
    db: PathBuf,
    wal: PathBuf,
    /// Frames in the WAL after the last commit, kept by SQLite's WAL hook (boxed: the hook
    /// holds its address for as long as the connection lives).
    frames: Box<AtomicU32>,
    /// The WAL's salts, read once while it holds frames and kept until a checkpoint may let
    /// it restart (a sync of a hot object would otherwise open and read the file each
    /// time). A WAL without frames restarts at its next write, so its salts are not kept.
    salt: Cell<Option<Salt>>,
    at_open: Option<Salt>,
    /// The file was created by this store: until a commit of it is durable, nothing of it is.
    created: bool,
    first_commit: Option<WalPoint>,
    synced: Option<WalPoint>,
}

unsafe extern "C" fn count_frames(
    frames: *mut std::ffi::c_void,
    _db: *mut ffi::sqlite3,
    _name: *const std::ffi::c_char,
    pages: std::ffi::c_int,
) -> std::ffi::c_int {
    // SAFETY: `frames` is the `AtomicU32` that `DurableWal::track` registered, which outlives
    // the connection (see `ObjectStorage`'s field order).
    unsafe { (*frames.cast::<AtomicU32>()).store(pages.max(0) as u32, Ordering::Relaxed) };
    ffi::SQLITE_OK
}

impl WalPoint {
    /// Frames in the WAL's current generation.
    pub fn frames(&self) -> u32 {
        self.frames
    }
}

impl DurableWal {
    /// Starts tracking the WAL of `db` on the connection `conn` (which must not use
    /// `wal_autocheckpoint`: it would replace the hook). A `new` file's WAL holds nothing
    /// durable yet: its schema was written without a sync.
    pub(super) fn track(
        db: &std::path::Path,
        new: bool,
        conn: &rusqlite::Connection,
    ) -> DurableWal {
        let wal = super::wal_path(db);
        let at_open = match new {
            true => None,
            false => wal_file::read_salt(&wal).ok().flatten(),
        };
        let frames = Box::new(AtomicU32::new(0));
        // SAFETY: the connection handle is live; the pointer stays valid while it is (the
        // box is dropped after the connection, see `ObjectStorage`).
        unsafe {
            ffi::sqlite3_wal_hook(
                conn.handle(),
                Some(count_frames),
                (&*frames as *const AtomicU32).cast_mut().cast(),
            )
        };
        DurableWal {
            db: db.to_owned(),
            wal,
            frames,
            salt: Cell::new(None),
            at_open,
            created: new,
            first_commit: None,
            synced: None,
        }
    }

    fn point(&self) -> WalPoint {
        let salt = match self.salt.get() {
            Some(salt) => Some(salt),
            None => {
                let salt = wal_file::read_salt(&self.wal).ok().flatten();
                if self.frames.load(Ordering::Relaxed) > 0 {
                    self.salt.set(salt);
                }
                salt
            }
        };
        WalPoint {
            salt,
            frames: self.frames.load(Ordering::Relaxed),
        }
    }

    /// Frames in the WAL's current generation after the last commit.
    pub(super) fn frames_now(&self) -> u32 {
        self.frames.load(Ordering::Relaxed)
    }

    /// Sets that count when a commit did not go through SQLite's WAL hook (the backup API's
    /// copy into a new file).
    pub(super) fn set_frames(&self, frames: u32) {
        self.frames.store(frames, Ordering::Relaxed);
        self.salt.set(None);
    }

    /// A checkpoint ran: the next commit may restart the WAL with new salts.
    pub(super) fn may_restart(&self) {
        self.salt.set(None);
    }

    /// After a commit that wrote.
    pub(super) fn committed(&mut self) {
        if self.first_commit.is_none() {
            self.first_commit = Some(self.point());
        }
    }

    /// The number of frames to keep: the commits known durable.
    fn durable_frames(&self) -> std::io::Result<(u32, u32)> {
        let contents = wal_file::read(&self.wal)?;
        let now = contents.salt;
        let frames = match (self.synced, self.first_commit) {
            (Some(synced), _) if synced.salt == now => synced.frames,
            // A WAL that restarted after its last sync starts over: the database file (synced
            // by the checkpoint that let it restart) holds everything durable.
            (Some(_), _) => 0,
            (None, Some(first)) if first.salt == now && self.at_open == now => contents
                .commits
                .iter()
                .copied()
                .filter(|&commit| commit < first.frames)
                .max()
                .unwrap_or(0),
            (None, Some(_)) => 0,
            (None, None) => contents.commits.last().copied().unwrap_or(0),
        };
        Ok((frames, contents.page_size))
    }
}

impl ObjectStorage {
    /// Where the WAL stands now: a sync that starts now makes everything up to here durable.
    pub fn wal_point(&self) -> Option<WalPoint> {
        self.durable.as_ref().map(DurableWal::point)
    }

    /// A sync (or checkpoint) that started at `point` succeeded.
    pub fn mark_durable(&mut self, point: WalPoint) {
        if let Some(durable) = &mut self.durable {
            durable.synced = Some(point);
        }
    }

    /// Closes the object after a failed fsync (or a commit the commit log could not take)
    /// without checkpointing, and cuts its WAL back to the last commit known durable
    /// (synced); a file created by this store of which nothing was made durable is removed.
    /// Blocking. An error means the WAL could not be
    /// cut or synced: the object must stay stopped until the host restarts.
    pub fn fail_stop(mut self) -> std::io::Result<()> {
        let Some(durable) = self.durable.take() else {
            return Ok(());
        };
        self.poisoned = true;
        // Closing the connection now writes nothing: no checkpoint, and the WAL stays.
        drop(self);
        if durable.created && durable.synced.is_none() {
            // No commit of the new file was ever durable (its first state neither, which the
            // commit log carries with the first one): it goes, and the object is new again.
            tracing::warn!(db = %durable.db.display(), "removing a new object's files: nothing of it was made durable");
            super::durable_fs::remove_if_exists(&durable.wal)?;
            return super::durable_fs::remove_if_exists(&durable.db);
        }
        let (frames, page_size) = durable.durable_frames()?;
        tracing::warn!(wal = %durable.wal.display(), frames, "cutting the WAL back to its last durable commit");
        wal_file::truncate(&durable.wal, frames, page_size)
    }
}
