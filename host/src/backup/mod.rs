//! Continuous backup and restore, around the commit log's backup directory
//! (`commit_log/backup.rs` owns its layout and the copying of segments).
//!
//! - At start (`at_start`), with `backup-dir`: the segments recovery read are copied to the
//!   backup before they are removed, the log's numbering continues after everything in the
//!   backup, and a snapshot of the data directory is taken if the backup does not cover it
//!   continuously (a first start with a backup, a run without it, a migration).
//! - While the host runs, the trimmer copies each sealed segment before deleting it, and
//!   every `backup-snapshot-interval` a new snapshot is built from the backup itself
//!   (`compact.rs`), so that a restore never replays more than that.
//! - `restore.rs`: `wdo restore` rebuilds a data directory from a snapshot and the segments
//!   after it, as it was at a given moment.
//!
//! May import: `commit_log`, `storage`, `metadata`, `config`. Nothing imports it but
//! `host` and `cli`.

mod compact;
mod index;
mod restore;

#[cfg(test)]
mod tests;

use std::path::Path;
use std::time::Instant;

use anyhow::Context;

use crate::commit_log::{Backup, Recovered};
use crate::config::Config;

pub use compact::{compact, Compactor};
pub use restore::{restore, Restored};

/// A moment for messages: RFC 3339, UTC, to the millisecond.
pub fn format_ms(ms: u64) -> String {
    let time = std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms);
    humantime::format_rfc3339_millis(time).to_string()
}

/// A moment given on the command line: RFC 3339 (`2026-12-07T11:30:00Z`, UTC) or Unix
/// milliseconds.
pub fn parse_moment(text: &str) -> Result<u64, String> {
    if let Ok(ms) = text.parse::<u64>() {
        return Ok(ms);
    }
    humantime::parse_rfc3339_weak(text)
        .map_err(|e| {
            format!("{text:?} is not a moment: give RFC 3339 in UTC (2026-12-07T11:30:00Z) or Unix milliseconds ({e})")
        })?
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .map_err(|_| format!("{text:?} is before 1970"))
}

pub use crate::commit_log::unix_ms as now_ms;

/// Copies the segments recovery read to the backup (call before they are removed). Returns
/// the backup, if the config has one, and whether the backup must get a snapshot because
/// it misses part of this data directory's history.
pub fn ship_recovered(
    config: &Config,
    log_dir: &Path,
    recovered: &Recovered,
) -> anyhow::Result<Option<(Backup, bool)>> {
    let Some(dir) = &config.backup_dir else {
        return Ok(None);
    };
    let backup = Backup::open(dir)
        .with_context(|| format!("cannot open the backup directory {}", dir.display()))?;
    let mut diverged = false;
    for &segment in &recovered.segments {
        match backup.ship(log_dir, segment) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                tracing::warn!("{e}; the backup gets a new snapshot instead");
                diverged = true;
            }
            Err(e) => {
                return Err(e).with_context(|| {
                    format!(
                        "cannot copy log segment {segment} to the backup {}",
                        dir.display()
                    )
                })
            }
        }
    }
    Ok(Some((backup, diverged)))
}

/// After migrations and once every namespace is loaded (their metadata holds their id keys):
/// the number of the log's first segment, and a snapshot if the backup needs one (`force`,
/// it does not cover the history up to that segment, or a namespace is newer than its last
/// snapshot). Nothing may write the data directory meanwhile.
pub fn at_start(
    data_dir: &Path,
    backup: Option<&Backup>,
    next_segment: u64,
    force: bool,
) -> anyhow::Result<u64> {
    let Some(backup) = backup else {
        return Ok(next_segment);
    };
    let next = next_segment.max(backup.next_segment().context("cannot read the backup")?);
    let covered = backup.covers(next).context("cannot read the backup")?;
    if force || !covered || new_namespace(data_dir, backup)? {
        let started = Instant::now();
        let snapshot = backup
            .take_snapshot(data_dir, next, now_ms())
            .context("cannot take a snapshot of the data directory for the backup")?;
        tracing::info!(
            files = snapshot.manifest.files,
            bytes = snapshot.manifest.bytes,
            took_ms = started.elapsed().as_millis() as u64,
            "backup snapshot {}",
            snapshot.dir.display()
        );
    }
    Ok(next)
}

/// Whether a namespace of the data directory has metadata that the backup's last snapshot
/// does not hold (a namespace added since).
fn new_namespace(data_dir: &Path, backup: &Backup) -> anyhow::Result<bool> {
    let Some(snapshot) = backup.snapshots()?.pop() else {
        return Ok(true);
    };
    for entry in std::fs::read_dir(data_dir)? {
        let entry = entry?;
        let name = entry.file_name();
        if entry.path().join("metadata.sqlite").exists()
            && !snapshot.dir.join(&name).join("metadata.sqlite").exists()
        {
            return Ok(true);
        }
    }
    Ok(false)
}
