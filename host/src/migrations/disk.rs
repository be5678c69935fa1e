//! The data directory as migrations see it: which namespaces have a directory and which of
//! them hold data, and the steps done to it, each made durable (the directory is fsynced
//! after every rename).

use std::collections::BTreeMap;
use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};

use super::plan::{Present, Step};
use super::MigrationError;
use crate::config::valid_namespace_name;

/// Files of a namespace directory that are not objects: its metadata (id key, id → name,
/// alarm index). A directory with nothing else holds no object's data.
const METADATA_FILES: [&str; 4] = [
    "metadata.sqlite",
    "metadata.sqlite-wal",
    "metadata.sqlite-shm",
    "metadata.sqlite-journal",
];

/// A removed namespace goes here first (one atomic rename), then is deleted; a start that
/// finds one finishes the deletion. Namespace names cannot start with a dot.
const TRASH_PREFIX: &str = ".removed-";

fn io_error(what: String) -> impl FnOnce(io::Error) -> MigrationError {
    move |error| MigrationError::Io { what, error }
}

/// Every namespace directory of the data directory, and whether it holds object data.
/// `cache_dir` is not one, even when it is configured inside the data directory.
pub fn scan(
    data_dir: &Path,
    cache_dir: &Path,
) -> Result<BTreeMap<String, Present>, MigrationError> {
    let cache = std::fs::canonicalize(cache_dir).ok();
    let mut found = BTreeMap::new();
    let entries = std::fs::read_dir(data_dir)
        .map_err(io_error(format!("cannot list {}", data_dir.display())))?;
    for entry in entries {
        let entry = entry.map_err(io_error(format!("cannot list {}", data_dir.display())))?;
        let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
            continue;
        };
        let is_cache = cache.is_some() && std::fs::canonicalize(entry.path()).ok() == cache;
        if valid_namespace_name(&name) && entry.path().is_dir() && !is_cache {
            let data = has_data(&entry.path())?;
            found.insert(name, Present { dir: true, data });
        }
    }
    Ok(found)
}

/// Whether a namespace directory holds anything but its metadata: an object's database.
pub fn has_data(dir: &Path) -> Result<bool, MigrationError> {
    let entries =
        std::fs::read_dir(dir).map_err(io_error(format!("cannot list {}", dir.display())))?;
    for entry in entries {
        let entry = entry.map_err(io_error(format!("cannot list {}", dir.display())))?;
        let name = entry.file_name();
        if !METADATA_FILES.iter().any(|m| name == *m) {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Runs one step. Safe to run again after a crash at any point inside it.
pub fn run_step(data_dir: &Path, tags: &str, step: &Step) -> Result<(), MigrationError> {
    match step {
        Step::Move { from, to } => {
            let (source, target) = (data_dir.join(from), data_dir.join(to));
            if !source.exists() {
                return Ok(());
            }
            if target.exists() {
                // The plan removed an unused target first; anything there now came after it.
                return Err(MigrationError::TargetExists {
                    tags: tags.to_string(),
                    from: source,
                    to: target,
                });
            }
            std::fs::rename(&source, &target).map_err(io_error(format!(
                "cannot rename {} to {}",
                source.display(),
                target.display()
            )))?;
            sync_dir(data_dir)
        }
        Step::Remove { namespace } => {
            let dir = data_dir.join(namespace);
            if !dir.exists() {
                return Ok(());
            }
            let trash = trash_path(data_dir, namespace);
            if trash.exists() {
                remove_all(&trash)?;
            }
            std::fs::rename(&dir, &trash).map_err(io_error(format!(
                "cannot rename {} to {}",
                dir.display(),
                trash.display()
            )))?;
            sync_dir(data_dir)?;
            remove_all(&trash)
        }
    }
}

fn trash_path(data_dir: &Path, namespace: &str) -> PathBuf {
    data_dir.join(format!("{TRASH_PREFIX}{namespace}"))
}

fn remove_all(dir: &Path) -> Result<(), MigrationError> {
    std::fs::remove_dir_all(dir).map_err(io_error(format!("cannot remove {}", dir.display())))
}

/// Finishes removals a crash interrupted (their rename was durable, so they are decided).
pub fn empty_trash(data_dir: &Path) -> Result<(), MigrationError> {
    let entries = std::fs::read_dir(data_dir)
        .map_err(io_error(format!("cannot list {}", data_dir.display())))?;
    for entry in entries.flatten() {
        let is_trash = entry
            .file_name()
            .to_str()
            .is_some_and(|n| n.starts_with(TRASH_PREFIX));
        if is_trash && entry.path().is_dir() {
            remove_all(&entry.path())?;
        }
    }
    Ok(())
}

/// Makes the renames inside `dir` durable.
pub fn sync_dir(dir: &Path) -> Result<(), MigrationError> {
    File::open(dir)
        .and_then(|f| f.sync_all())
        .map_err(io_error(format!("cannot fsync {}", dir.display())))
}
