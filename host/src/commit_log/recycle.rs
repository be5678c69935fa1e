//! Recycled segment files. A write past a file's end changes its size (and, for a new block,
//! its allocation), so every `fdatasync` after an append also commits the filesystem's
//! journal; a write over blocks the file has already only needs its data written. On this
//! machine's ext4 that is 345 -> 194 us for a 32 KiB group and its fdatasync (BENCHMARKS.md).
//! So a trimmed segment's file is not deleted but kept as the next segment's (`recycled`, at
//! most one), and the next segment overwrites it in place.
//!
//! Its old records stay behind the new ones until they are overwritten, harmlessly: a
//! record's checksum covers its segment's number and its offset (`record.rs`), so bytes of an
//! earlier segment end the new one instead of being read as its records. A sealed segment is
//! cut to its records (and synced) before the next one takes any, and so is the last segment
//! after recovery, so that a segment is exactly its records once it is not the active one.
//!
//! Crash safety, by the order of the steps:
//! - the trimmer renames a trimmed segment to `recycling`, syncs the directory (its old name
//!   can no longer come back), then renames it to `recycled`: the writer never writes into a
//!   file whose old segment name could reappear after a crash;
//! - the writer writes the new segment's header into `recycled` and syncs it before renaming
//!   it to the segment's name (and its first group syncs the directory, as for a new file):
//!   under that name the file always has its own header.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::Path;

use super::record;

/// A trimmed segment's file, waiting to become the next segment.
pub const RECYCLED: &str = "recycled";
/// A trimmed segment's file on its way to `RECYCLED`.
const RECYCLING: &str = "recycling";

/// Keeps segment `segment`'s file (trimmed: its records are durable elsewhere) for a next
/// segment if none is kept yet, or removes it.
pub fn recycle_or_remove(log_dir: &Path, segment: u64) -> io::Result<()> {
    if log_dir.join(RECYCLED).exists() {
        return remove(log_dir, segment);
    }
    let path = log_dir.join(record::segment_name(segment));
    match std::fs::rename(&path, log_dir.join(RECYCLING)) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        other => other?,
    }
    File::open(log_dir)?.sync_all()?;
    std::fs::rename(log_dir.join(RECYCLING), log_dir.join(RECYCLED))
}

/// Deletes segment `segment`'s file, if it is there.
pub fn remove(log_dir: &Path, segment: u64) -> io::Result<()> {
    match std::fs::remove_file(log_dir.join(record::segment_name(segment))) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// The recycled file as segment `number` (its header written and synced, renamed), or None
/// if there is none.
pub fn take(log_dir: &Path, number: u64) -> io::Result<Option<File>> {
    let recycled = log_dir.join(RECYCLED);
    let file = match File::options().read(true).write(true).open(&recycled) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    file.write_all_at(&record::segment_header(number), 0)?;
    file.sync_data()?;
    drop(file);
    let path = log_dir.join(record::segment_name(number));
    std::fs::rename(&recycled, &path)?;
    // Opened again under its new name, so that no descriptor outlives a name it had.
    Ok(Some(File::options().read(true).write(true).open(&path)?))
}

/// At start: a file left on its way to `RECYCLED` by a stop goes there (or away).
pub fn tidy(log_dir: &Path) -> io::Result<()> {
    let recycling = log_dir.join(RECYCLING);
    if !recycling.exists() {
        return Ok(());
    }
    if log_dir.join(RECYCLED).exists() {
        std::fs::remove_file(recycling)
    } else {
        std::fs::rename(recycling, log_dir.join(RECYCLED))
    }
}
