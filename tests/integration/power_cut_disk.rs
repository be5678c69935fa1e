//! What a disk holds after a power cut, rebuilt from the trace of file operations that
//! `tests/powercut/shim.c` records in the real binary.
//!
//! The model is POSIX's, taken strictly: a file's bytes are durable once the file is synced
//! (`fsync`, `fdatasync`) or its filesystem is (`syncfs`); a directory entry (a created,
//! removed or new directory) is durable once its directory is synced, or the filesystem.
//! At the cut, every file whose entry is durable holds its synced bytes plus some of the
//! writes and truncations made since, each kept, dropped or torn (a prefix of its 512-byte
//! sectors) at random, in their order; a file whose entry is not durable is gone. SQLite's
//! `-shm` files (shared memory, rebuilt on open) are not written.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use rand::Rng;

/// One recorded operation.
#[derive(Debug, Clone)]
pub enum Op {
    /// Opened with O_CREAT or O_TRUNC (`truncate`).
    Create {
        path: String,
        truncate: bool,
    },
    Write {
        path: String,
        at: u64,
        data: Vec<u8>,
    },
    Truncate {
        path: String,
        len: u64,
    },
    /// `fsync` or `fdatasync` of a file or a directory.
    Sync {
        path: String,
    },
    SyncFs,
    Unlink {
        path: String,
    },
    Mkdir {
        path: String,
    },
    /// Within one directory, to a name that is free.
    Rename {
        from: String,
        to: String,
    },
    Unsupported(String),
}

/// The operations of a trace, each with the trace offset where its record ends.
pub fn parse(bytes: &[u8]) -> Vec<(Op, u64)> {
    let mut ops = Vec::new();
    let mut at = 0usize;
    let take = |at: &mut usize, n: usize| -> Option<&[u8]> {
        let slice = bytes.get(*at..*at + n)?;
        *at += n;
        Some(slice)
    };
    loop {
        let start = at;
        let Some(op) = take(&mut at, 1).map(|b| b[0]) else {
            break;
        };
        let string = |at: &mut usize| -> Option<String> {
            let len = u32::from_le_bytes(take(at, 4)?.try_into().ok()?) as usize;
            Some(String::from_utf8_lossy(take(at, len)?).into_owned())
        };
        let Some(path) = string(&mut at) else { break };
        let second = match op {
            b'R' => match string(&mut at) {
                Some(s) => Some(s),
                None => break,
            },
            _ => None,
        };
        let Some(nums) = take(&mut at, 16) else { break };
        let a = u64::from_le_bytes(nums[..8].try_into().unwrap());
        let b = u64::from_le_bytes(nums[8..].try_into().unwrap());
        let parsed = match op {
            b'C' => Op::Create {
                path,
                truncate: a == 1,
            },
            b'W' => match take(&mut at, b as usize) {
                Some(data) => Op::Write {
                    path,
                    at: a,
                    data: data.to_vec(),
                },
                None => break,
            },
            b'T' => Op::Truncate { path, len: a },
            b'S' => Op::Sync { path },
            b'F' => Op::SyncFs,
            b'U' => Op::Unlink { path },
            b'M' => Op::Mkdir { path },
            b'R' => Op::Rename {
                from: path,
                to: second.unwrap_or_default(),
            },
            b'D' => Op::Unsupported(format!("rmdir {path}")),
            other => panic!("unknown trace op {other} at {start}"),
        };
        ops.push((parsed, at as u64));
    }
    ops
}

#[derive(Default, Clone)]
struct File {
    /// As the page cache has it.
    data: Vec<u8>,
    /// As the disk has it.
    durable: Vec<u8>,
    /// Writes and truncations since the last sync, in order.
    pending: Vec<Op>,
    exists: bool,
    entry_durable: bool,
    /// Renamed since its directory was last synced: the name whose entry is durable. A cut
    /// finds the file under either name (a rename is atomic, not durable).
    renamed_from: Option<String>,
}

/// The state of the traced directory tree after a prefix of the trace.
#[derive(Default)]
pub struct Disk {
    files: BTreeMap<String, File>,
    /// Directories, and whether their own entry is durable.
    dirs: BTreeMap<String, bool>,
}

fn parent(path: &str) -> &str {
    path.rsplit_once('/').map_or("", |(p, _)| p)
}

fn apply(data: &mut Vec<u8>, op: &Op) {
    match op {
        Op::Write {
            at, data: bytes, ..
        } => {
            let end = *at as usize + bytes.len();
            if data.len() < end {
                data.resize(end, 0);
            }
            data[*at as usize..end].copy_from_slice(bytes);
        }
        Op::Truncate { len, .. } => data.resize(*len as usize, 0),
        _ => {}
    }
}

impl Disk {
    /// `root`: the traced directory, which existed (durably) before the trace began.
    pub fn new(root: &str) -> Disk {
        let mut disk = Disk::default();
        disk.dirs.insert(root.to_string(), true);
        disk
    }

    pub fn run(&mut self, op: &Op) {
        match op {
            Op::Create { path, truncate } => {
                let file = self.files.entry(path.clone()).or_default();
                if !file.exists {
                    file.exists = true;
                    file.data.clear();
                    file.pending.clear();
                    // A re-created path is a new file: none of its bytes are durable.
                    if !file.entry_durable {
                        file.durable.clear();
                    }
                }
                if *truncate {
                    let op = Op::Truncate {
                        path: path.clone(),
                        len: 0,
                    };
                    apply(&mut file.data, &op);
                    file.pending.push(op);
                }
            }
            Op::Write { path, .. } | Op::Truncate { path, .. } => {
                let file = self
                    .files
                    .get_mut(path)
                    .unwrap_or_else(|| panic!("a write to {path}, which was never opened"));
                apply(&mut file.data, op);
                file.pending.push(op.clone());
            }
            Op::Sync { path } => {
                if self.dirs.contains_key(path) {
                    self.sync_entries(path);
                } else if let Some(file) = self.files.get_mut(path) {
                    file.durable = file.data.clone();
                    file.pending.clear();
                }
            }
            Op::SyncFs => {
                for file in self.files.values_mut() {
                    file.durable = file.data.clone();
                    file.pending.clear();
                    file.entry_durable = file.exists;
                    file.renamed_from = None;
                }
                for durable in self.dirs.values_mut() {
                    *durable = true;
                }
            }
            Op::Unlink { path } => {
                if let Some(file) = self.files.get_mut(path) {
                    file.exists = false;
                }
            }
            Op::Mkdir { path } => {
                self.dirs.entry(path.clone()).or_insert(false);
            }
            Op::Rename { from, to } => {
                assert_eq!(
                    parent(from),
                    parent(to),
                    "the power-cut model does not cover a rename across directories: {from} -> {to}"
                );
                assert!(
                    !self.files.get(to).is_some_and(|f| f.exists),
                    "the power-cut model does not cover a rename over a file: {from} -> {to}"
                );
                let mut file = self
                    .files
                    .remove(from)
                    .unwrap_or_else(|| panic!("a rename of {from}, which was never opened"));
                file.renamed_from = match file.entry_durable {
                    true => Some(from.clone()),
                    false => file.renamed_from.take(),
                };
                file.entry_durable = false;
                self.files.insert(to.clone(), file);
            }
            Op::Unsupported(what) => panic!("the power-cut model does not cover {what}"),
        }
    }

    /// A directory was synced: the entries in it are as the page cache has them.
    fn sync_entries(&mut self, dir: &str) {
        for (path, file) in self.files.iter_mut() {
            if parent(path) == dir {
                file.entry_durable = file.exists;
                file.renamed_from = None;
                if !file.exists {
                    file.durable.clear();
                    file.pending.clear();
                }
            }
        }
        for (path, durable) in self.dirs.iter_mut() {
            if parent(path) == dir {
                *durable = true;
            }
        }
    }

    /// Writes what the disk would hold after a power cut now into `target` (the root's
    /// place), choosing with `rng` what of the unsynced writes survived. Returns the files
    /// written, relative to the root.
    pub fn cut(&self, root: &str, target: &Path, rng: &mut impl Rng) -> BTreeSet<PathBuf> {
        let mut written = BTreeSet::new();
        let dir_durable = |dir: &str| -> bool {
            // Every directory from the root down must have a durable entry.
            let mut d = dir;
            while d.len() > root.len() {
                if !self.dirs.get(d).copied().unwrap_or(false) {
                    return false;
                }
                d = parent(d);
            }
            true
        };
        for (path, durable) in &self.dirs {
            if *durable && dir_durable(path) {
                let relative = path.strip_prefix(root).unwrap().trim_start_matches('/');
                std::fs::create_dir_all(target.join(relative)).unwrap();
            }
        }
        // Names whose entries are durable: a rename that did not take effect cannot go back
        // to one of them.
        let mut taken: BTreeSet<&str> = (self.files.iter())
            .filter(|(_, f)| f.entry_durable)
            .map(|(path, _)| path.as_str())
            .collect();
        for (path, file) in &self.files {
            // A rename not yet durable took effect, or did not.
            let path = match (&file.renamed_from, file.entry_durable) {
                (_, true) => path,
                (None, false) => continue,
                (Some(old), false) => {
                    let (old_free, new_free) = (
                        !taken.contains(old.as_str()),
                        !taken.contains(path.as_str()),
                    );
                    match (old_free, new_free) {
                        (true, true) if rng.random_bool(0.5) => old,
                        (_, true) => path,
                        (true, false) => old,
                        (false, false) => panic!("two files for {path} and {old} at the cut"),
                    }
                }
            };
            taken.insert(path);
            // Removed durably, or never made durable: gone.
            if path.ends_with("-shm") || !dir_durable(parent(path)) {
                continue;
            }
            let mut data = file.durable.clone();
            for op in &file.pending {
                let roll: f64 = rng.random();
                match op {
                    Op::Write {
                        at, data: bytes, ..
                    } if roll >= 0.9 && bytes.len() > 512 => {
                        // Torn: only its first sectors reached the disk.
                        let sectors = bytes.len().div_ceil(512);
                        let kept = rng.random_range(1..sectors) * 512;
                        let torn = Op::Write {
                            path: path.clone(),
                            at: *at,
                            data: bytes[..kept].to_vec(),
                        };
                        apply(&mut data, &torn);
                    }
                    _ if roll < 0.45 => {}
                    op => apply(&mut data, op),
                }
            }
            let relative = path.strip_prefix(root).unwrap().trim_start_matches('/');
            let out = target.join(relative);
            std::fs::create_dir_all(out.parent().unwrap()).unwrap();
            std::fs::write(&out, &data).unwrap();
            written.insert(PathBuf::from(relative));
        }
        written
    }
}
