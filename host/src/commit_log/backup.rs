//! Continuous backup: the log's segments and snapshots of the data directory, copied to
//! `backup-dir`.
//!
//! Layout (flat names of files written once and never changed, so that the same layout works
//! on an S3-compatible store, where a finished upload is what a rename is here):
//! - `segments/<number, 20 digits>.log`: every segment of the log, copied whole before the
//!   host deletes it (sealed segments by the trimmer; the segments a start recovered, before
//!   they are removed). A segment is sealed at its size or, with a backup, after
//!   `backup-interval`, which bounds what a lost machine can lose of the backup.
//! - `snapshots/<next segment, 20 digits>-<Unix ms, 13 digits>/`: the data directory's files
//!   (object databases with their WALs, each namespace's metadata, the migrations journal) as
//!   they were with every segment before `next segment` applied, and `manifest.json` last.
//!   The host takes one at a start whose data directory the backup does not cover
//!   continuously (nothing runs then, so the copy is consistent); restoring rebuilds later
//!   states from a snapshot and the segments after it (`restore.rs` of the host).

use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::record;

/// A backup directory.
#[derive(Debug, Clone)]
pub struct Backup {
    dir: PathBuf,
}

/// A snapshot found in a backup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    pub dir: PathBuf,
    pub manifest: Manifest,
}

/// `manifest.json` of a snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// The layout's version.
    pub format: u32,
    /// When the snapshot's state was the data directory's (Unix milliseconds).
    pub taken_ms: u64,
    /// The first segment that is not in it.
    pub next_segment: u64,
    /// Files in it (besides the manifest).
    pub files: usize,
    pub bytes: u64,
}

const FORMAT: u32 = 1;

impl Backup {
    /// The backup in `dir`, created if missing.
    pub fn open(dir: &Path) -> io::Result<Backup> {
        for sub in ["segments", "snapshots"] {
            std::fs::create_dir_all(dir.join(sub))?;
        }
        Ok(Backup {
            dir: dir.to_owned(),
        })
    }

    /// The backup in `dir`, which must exist (for reading it).
    pub fn existing(dir: &Path) -> io::Result<Backup> {
        if !dir.join("segments").is_dir() || !dir.join("snapshots").is_dir() {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!(
                    "{} is not a wdo backup (it has no segments/ and snapshots/)",
                    dir.display()
                ),
            ));
        }
        Ok(Backup {
            dir: dir.to_owned(),
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// A directory for building a snapshot in (its name is never taken for one).
    pub fn scratch_dir(&self) -> PathBuf {
        self.dir.join("snapshots").join("building.tmp")
    }

    pub fn segment_path(&self, segment: u64) -> PathBuf {
        self.dir
            .join("segments")
            .join(record::segment_name(segment))
    }

    /// Copies segment `segment` of the log in `log_dir` to the backup, durably. A copy there
    /// already is replaced if it is the start of the segment (the segment grew since), and is
    /// an `AlreadyExists` error if it is not (another history).
    pub fn ship(&self, log_dir: &Path, segment: u64) -> io::Result<()> {
        let from = log_dir.join(record::segment_name(segment));
        let bytes = match std::fs::read(&from) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e),
        };
        let to = self.segment_path(segment);
        match std::fs::read(&to) {
            Ok(there) if bytes.starts_with(&there) && there.len() == bytes.len() => return Ok(()),
            Ok(there) if !bytes.starts_with(&there) => {
                return Err(io::Error::new(
                    io::ErrorKind::AlreadyExists,
                    format!(
                        "the backup's {} is not the start of the log's {}: they are of other \
                         histories",
                        to.display(),
                        from.display()
                    ),
                ))
            }
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
        write_durably(&to, &bytes)
    }

    /// The segments in the backup, in order.
    pub fn segments(&self) -> io::Result<Vec<u64>> {
        let mut segments = Vec::new();
        for entry in std::fs::read_dir(self.dir.join("segments"))? {
            if let Some(n) = entry?.file_name().to_str().and_then(record::segment_number) {
                segments.push(n);
            }
        }
        segments.sort_unstable();
        Ok(segments)
    }

    /// The complete snapshots in the backup, oldest first.
    pub fn snapshots(&self) -> io::Result<Vec<Snapshot>> {
        let mut snapshots = Vec::new();
        for entry in std::fs::read_dir(self.dir.join("snapshots"))? {
            let dir = entry?.path();
            if dir.extension().is_some_and(|e| e == "tmp") {
                continue;
            }
            let Ok(text) = std::fs::read_to_string(dir.join("manifest.json")) else {
                continue;
            };
            let manifest: Manifest = serde_json::from_str(&text).map_err(|e| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("{}/manifest.json: {e}", dir.display()),
                )
            })?;
            snapshots.push(Snapshot { dir, manifest });
        }
        snapshots.sort_by_key(|s| (s.manifest.next_segment, s.manifest.taken_ms));
        Ok(snapshots)
    }

    /// The number a host's next segment gets so that it follows everything in the backup.
    pub fn next_segment(&self) -> io::Result<u64> {
        let segments = self.segments()?.last().map_or(1, |s| s + 1);
        let snapshots = self.snapshots()?;
        let snapshot = snapshots.last().map_or(1, |s| s.manifest.next_segment);
        Ok(segments.max(snapshot))
    }

    /// Whether the backup holds a snapshot and every segment after it before `next_segment`:
    /// then it covers a data directory whose log continues at `next_segment`.
    pub fn covers(&self, next_segment: u64) -> io::Result<bool> {
        let Some(snapshot) = self.snapshots()?.pop() else {
            return Ok(false);
        };
        let segments = self.segments()?;
        Ok((snapshot.manifest.next_segment..next_segment).all(|s| segments.contains(&s)))
    }

    /// Copies the files of the data directory `data_dir` (which nothing may write meanwhile)
    /// as a snapshot whose next segment is `next_segment`.
    pub fn take_snapshot(
        &self,
        data_dir: &Path,
        next_segment: u64,
        taken_ms: u64,
    ) -> io::Result<Snapshot> {
        let name = format!("{next_segment:020}-{taken_ms:013}");
        let done = self.dir.join("snapshots").join(&name);
        let tmp = done.with_extension("tmp");
        if tmp.exists() {
            std::fs::remove_dir_all(&tmp)?;
        }
        std::fs::create_dir_all(&tmp)?;
        let (mut files, mut bytes) = (0, 0);
        for file in data_files(data_dir)? {
            let relative = file
                .strip_prefix(data_dir)
                .expect("under the data directory");
            let to = tmp.join(relative);
            if let Some(parent) = to.parent() {
                std::fs::create_dir_all(parent)?;
            }
            bytes += std::fs::copy(&file, &to)?;
            files += 1;
        }
        let manifest = Manifest {
            format: FORMAT,
            taken_ms,
            next_segment,
            files,
            bytes,
        };
        let json = serde_json::to_vec_pretty(&manifest).map_err(io::Error::other)?;
        File::create(tmp.join("manifest.json"))?.write_all(&json)?;
        // Everything in it durable before it gets its name.
        super::sync_filesystem(&tmp)?;
        std::fs::rename(&tmp, &done)?;
        File::open(self.dir.join("snapshots"))?.sync_all()?;
        Ok(Snapshot {
            dir: done,
            manifest,
        })
    }
}

/// The files of a data directory that make its state: everything but the log, the compile
/// cache and other dot-entries at its top, its lock file and SQLite's shared-memory files.
pub fn data_files(data_dir: &Path) -> io::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    let mut dirs = vec![data_dir.to_owned()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let entry = entry?;
            let path = entry.path();
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if dir == data_dir && (name.starts_with('.') || name == "wdo.lock") {
                continue;
            }
            let kind = entry.file_type()?;
            if kind.is_dir() {
                dirs.push(path);
            } else if kind.is_file() && !name.ends_with("-shm") {
                files.push(path);
            }
        }
    }
    files.sort();
    Ok(files)
}

/// Writes `bytes` to `path` through a temporary name, synced, then synced into its directory.
fn write_durably(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let mut file = File::create(&tmp)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    std::fs::rename(&tmp, path)?;
    File::open(path.parent().expect("a file in a directory"))?.sync_all()
}
