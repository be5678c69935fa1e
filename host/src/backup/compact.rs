//! Periodic snapshots, built from the backup itself: the newest snapshot with the segments
//! after it, restored into a scratch directory of the backup and taken as a new snapshot.
//! So a restore reads at most `backup-snapshot-interval` of segments after a snapshot, and
//! the running host's files are never read for it (nothing to keep consistent with writes).

use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::{Duration, Instant};

use anyhow::Context;

use crate::commit_log::{Backup, Snapshot};

/// Builds a new snapshot if segments were copied after the newest one. Blocking.
pub fn compact(backup: &Backup) -> anyhow::Result<Option<Snapshot>> {
    let Some(latest) = backup.snapshots()?.pop() else {
        return Ok(None);
    };
    if !backup.segments()?.contains(&latest.manifest.next_segment) {
        return Ok(None);
    }
    let scratch = backup.scratch_dir();
    if scratch.exists() {
        std::fs::remove_dir_all(&scratch)
            .with_context(|| format!("cannot remove {}", scratch.display()))?;
    }
    let restored = super::restore(backup.dir(), &scratch, None)?;
    let snapshot = backup
        .take_snapshot(&scratch, restored.next_segment, restored.restored_to_ms)
        .context("cannot take the snapshot")?;
    std::fs::remove_dir_all(&scratch)
        .with_context(|| format!("cannot remove {}", scratch.display()))?;
    Ok(Some(snapshot))
}

/// The thread that compacts every `every` while the host runs.
pub struct Compactor {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Compactor {
    pub fn start(backup: Backup, every: Duration) -> std::io::Result<Compactor> {
        let (stop, stopped) = mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("wdo-backup-snapshots".into())
            .spawn(move || loop {
                match stopped.recv_timeout(every) {
                    Err(RecvTimeoutError::Timeout) => {}
                    _ => return,
                }
                let started = Instant::now();
                match compact(&backup) {
                    Ok(Some(snapshot)) => tracing::info!(
                        files = snapshot.manifest.files,
                        bytes = snapshot.manifest.bytes,
                        took_ms = started.elapsed().as_millis() as u64,
                        "backup snapshot {}",
                        snapshot.dir.display()
                    ),
                    Ok(None) => {}
                    Err(e) => tracing::error!("cannot build a backup snapshot: {e:#}"),
                }
            })?;
        Ok(Compactor {
            stop: Some(stop),
            thread: Some(thread),
        })
    }
}

impl Drop for Compactor {
    /// Stops the thread (after the snapshot it may be building).
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
