//! Reading back what a commit appended to an object's WAL, for the host's commit log
//! (`durability = "full"`; see `host/src/commit_log/mod.rs`).
//!
//! SQLite's WAL hook tells, after each commit, how many frames the WAL's current generation
//! holds (`fail_stop.rs` keeps that count). The frames after those already logged are this
//! commit's (SQLite only ever rewrites frames of the transaction being written, and a
//! rolled-back transaction's frames are overwritten by the next), so they are read from the
//! file, which the commit has just written (they are in the page cache), with the WAL's
//! header. A new header (other salts) means SQLite restarted the WAL after a checkpoint: the
//! new generation is logged from its first frame.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use super::{wal_file, ObjectStorage};
use crate::commit_log::{WalFrames, WalPosition, FRAME_HEADER, WAL_HEADER};

pub(super) struct WalCapture {
    wal_path: PathBuf,
    db_path: PathBuf,
    wal: Option<File>,
    /// Where the logged part of the WAL ends.
    logged: Option<WalPosition>,
    /// The database file was created by this store: its first frames carry the file.
    base_pending: bool,
}

impl WalCapture {
    /// For the database at `db`. `known`: where its WAL stood when it last closed, if the
    /// host remembers; else the WAL is read to find its last commit. A `new` file's WAL
    /// holds nothing logged yet.
    pub fn new(db: &Path, new: bool, known: Option<WalPosition>) -> io::Result<WalCapture> {
        let wal_path = super::wal_path(db);
        let logged = match (new, known) {
            (true, _) => None,
            (false, Some(known)) => Some(known),
            (false, None) => {
                let contents = wal_file::read(&wal_path)?;
                contents.salt.map(|salt| WalPosition {
                    salt,
                    frames: contents.commits.last().copied().unwrap_or(0),
                })
            }
        };
        Ok(WalCapture {
            wal_path,
            db_path: db.to_owned(),
            wal: None,
            logged,
            base_pending: new,
        })
    }

    /// Where the logged part of the WAL ends (for the host to remember at close).
    pub fn position(&self) -> Option<WalPosition> {
        self.logged
    }

    /// The frames committed since the last call, given that the WAL's current generation
    /// now holds `frames` frames. `None` when there are none.
    pub fn take(&mut self, frames: u32) -> io::Result<Option<WalFrames>> {
        if frames == 0 {
            return Ok(None);
        }
        let wal = match &self.wal {
            Some(file) => file,
            None => self.wal.insert(File::open(&self.wal_path)?),
        };
        let mut header = [0u8; WAL_HEADER];
        wal.read_exact_at(&mut header, 0)?;
        let salt: [u8; 8] = header[16..24].try_into().expect("8 bytes");
        let page_size = match u32::from_be_bytes(header[8..12].try_into().expect("4 bytes")) {
            1 => 65_536,
            size => size,
        };
        let from = match self.logged {
            Some(logged) if logged.salt == salt => logged.frames,
            _ => 0,
        };
        if frames <= from {
            return Ok(None);
        }
        let frame_len = (FRAME_HEADER + page_size as usize) as u64;
        let mut bytes = vec![0u8; ((frames - from) as u64 * frame_len) as usize];
        wal.read_exact_at(&mut bytes, WAL_HEADER as u64 + u64::from(from) * frame_len)?;
        let base = match std::mem::take(&mut self.base_pending) {
            true => Some(std::fs::read(&self.db_path)?),
            false => None,
        };
        self.logged = Some(WalPosition { salt, frames });
        Ok(Some(WalFrames {
            wal_header: header,
            page_size,
            first_frame: from + 1,
            frames: bytes,
            base: base.filter(|b| !b.is_empty()),
        }))
    }
}

impl ObjectStorage {
    /// Full durability: the WAL frames committed since the last call (`None` if there are
    /// none, or with relaxed durability), for the commit log. Reads what the commits have
    /// just written (page cache).
    pub fn take_logged_frames(&mut self) -> std::io::Result<Option<WalFrames>> {
        let frames = self.durable.as_ref().map_or(0, |d| d.frames_now());
        match &mut self.capture {
            Some(capture) => capture.take(frames),
            None => Ok(None),
        }
    }

    /// Where the logged part of the WAL ends, for the host to remember when the object
    /// closes (see [`open_at`](Self::open_at)).
    pub fn wal_position(&self) -> Option<WalPosition> {
        self.capture.as_ref().and_then(|c| c.position())
    }
}
