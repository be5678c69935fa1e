//! After a restore: each namespace's metadata made to match its restored objects (the alarm
//! index from their alarm rows, ids the metadata did not know yet).

use std::path::Path;

use anyhow::Context;

use crate::metadata::Metadata;

/// Rebuilds the metadata of every namespace in the data directory `data_dir`; returns the
/// number of objects.
pub fn rebuild(data_dir: &Path) -> anyhow::Result<usize> {
    let mut total = 0;
    for entry in std::fs::read_dir(data_dir)? {
        let dir = entry?.path();
        let name = dir.file_name().map(|n| n.to_string_lossy().into_owned());
        if !dir.is_dir() || name.is_none_or(|n| n.starts_with('.')) {
            continue;
        }
        let mut objects = Vec::new();
        for file in std::fs::read_dir(&dir)? {
            let path = file?.path();
            let Some(id) = object_id(&path) else { continue };
            let alarm = crate::storage::alarm_in_file(&path)
                .with_context(|| format!("cannot read the alarm of {}", path.display()))?;
            objects.push((id, alarm));
        }
        if !dir.join("metadata.sqlite").exists() {
            tracing::warn!(
                "{} has no metadata (its namespace is newer than the snapshot): its id key is \
                 lost, and ids made from names will differ",
                dir.display()
            );
        }
        let metadata = Metadata::open(&dir)
            .with_context(|| format!("cannot open the metadata of {}", dir.display()))?;
        metadata
            .rebuild(&objects)
            .with_context(|| format!("cannot rebuild the metadata of {}", dir.display()))?;
        total += objects.len();
    }
    Ok(total)
}

/// The id of an object database file (`<64 hex digits>.sqlite`).
fn object_id(path: &Path) -> Option<String> {
    let stem = path.file_name()?.to_str()?.strip_suffix(".sqlite")?;
    (stem.len() == 64 && stem.bytes().all(|b| b.is_ascii_hexdigit())).then(|| stem.to_owned())
}
