//! Making files and directories durable: a new directory entry survives a power cut only
//! once its parent directory is synced, and after an unclean stop the page cache may still
//! hold writes that were never synced.

use std::fs::File;
use std::io;
use std::path::Path;

/// Syncs a directory, making the entries created in it (files, subdirectories) durable.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Creates `dir` and any missing parents, syncing each parent that gained an entry.
pub fn create_dir_all(dir: &Path) -> io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
        create_dir_all(parent)?;
    }
    match std::fs::create_dir(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => return Ok(()),
        Err(e) => return Err(e),
    }
    let parent = dir
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    sync_dir(parent)
}

/// Makes everything written to the filesystem holding `dir` durable (`syncfs`). At start,
/// this turns whatever an earlier process left in the page cache (WAL frames it never
/// synced, say, before a crash) into what is on disk, before any of it is served.
pub fn sync_filesystem(dir: &Path) -> io::Result<()> {
    crate::commit_log::sync_filesystem(dir)
}

/// Removes the file at `path`; one that is not there is no error.
pub fn remove_if_exists(path: &Path) -> io::Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}
