//! Trimming the log behind the object files. A record is needed until the WAL writes it
//! stands for are durable in the object's own files. Every record of a sealed segment was
//! appended after its frames were written to the object's WAL, so one `syncfs` of the data
//! directory's filesystem, started after the segment was sealed, makes all of them durable
//! at once (however many objects they are about); then the segment is deleted, or kept as
//! the next segment's file (`recycle.rs`); with a backup, once it is copied there (a backup
//! that cannot be written keeps segments here). Segments go oldest first, so a segment is
//! never deleted while an older one is kept.

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};

use super::backup::Backup;
use super::recycle;
use crate::metrics::Metrics;

/// Sealed segments waiting to be deleted, oldest first.
#[derive(Default)]
pub struct Sealed {
    state: Mutex<SealedState>,
    wake: Condvar,
}

#[derive(Default)]
struct SealedState {
    segments: Vec<u64>,
    closed: bool,
}

impl Sealed {
    pub fn push(&self, segment: u64) {
        self.state
            .lock()
            .expect("sealed lock")
            .segments
            .push(segment);
        self.wake.notify_one();
    }
}

pub struct Trimmer {
    sealed: Arc<Sealed>,
    log_dir: PathBuf,
    data_dir: PathBuf,
    backup: Option<Backup>,
    metrics: Arc<Metrics>,
    /// One trim at a time (the thread's, or `trim_now`'s).
    running: Arc<Mutex<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Trimmer {
    pub fn start(
        log_dir: &Path,
        data_dir: &Path,
        backup: Option<Backup>,
        sealed: Arc<Sealed>,
        metrics: Arc<Metrics>,
    ) -> Trimmer {
        let running = Arc::new(Mutex::new(()));
        let thread = {
            let (sealed, log_dir, data_dir, backup, metrics, running) = (
                sealed.clone(),
                log_dir.to_owned(),
                data_dir.to_owned(),
                backup.clone(),
                metrics.clone(),
                running.clone(),
            );
            std::thread::Builder::new()
                .name("wdo-log-trim".into())
                .spawn(move || loop {
                    {
                        let mut state = sealed.state.lock().expect("sealed lock");
                        while state.segments.is_empty() && !state.closed {
                            state = sealed.wake.wait(state).expect("sealed lock");
                        }
                        if state.closed {
                            return;
                        }
                    }
                    let _one = running.lock().expect("trim lock");
                    if let Err(e) = trim(&sealed, &log_dir, &data_dir, backup.as_ref(), &metrics) {
                        // The segments stay; tried again in a second.
                        tracing::error!("cannot trim the commit log: {e}");
                        std::thread::sleep(std::time::Duration::from_secs(1));
                    }
                })
                .ok()
        };
        Trimmer {
            sealed,
            log_dir: log_dir.to_owned(),
            data_dir: data_dir.to_owned(),
            backup,
            metrics,
            running,
            thread,
        }
    }

    pub fn trim_now(&self) -> io::Result<usize> {
        let _one = self.running.lock().expect("trim lock");
        trim(
            &self.sealed,
            &self.log_dir,
            &self.data_dir,
            self.backup.as_ref(),
            &self.metrics,
        )
    }
}

impl Drop for Trimmer {
    fn drop(&mut self) {
        self.sealed.state.lock().expect("sealed lock").closed = true;
        self.sealed.wake.notify_one();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Syncs the data directory's filesystem, then deletes the segments sealed before it (each
/// copied to the backup first, if there is one).
fn trim(
    sealed: &Sealed,
    log_dir: &Path,
    data_dir: &Path,
    backup: Option<&Backup>,
    metrics: &Metrics,
) -> io::Result<usize> {
    let segments = sealed.state.lock().expect("sealed lock").segments.clone();
    if segments.is_empty() {
        return Ok(0);
    }
    sync_filesystem(data_dir)?;
    for &segment in &segments {
        if let Some(backup) = backup {
            backup.ship(log_dir, segment).map_err(|e| {
                io::Error::new(
                    e.kind(),
                    format!("cannot copy segment {segment} to the backup: {e}"),
                )
            })?;
        }
        recycle::recycle_or_remove(log_dir, segment)?;
    }
    // The deletions need not be durable: a segment found again is replayed again, which
    // changes nothing (`recovery.rs`).
    sealed
        .state
        .lock()
        .expect("sealed lock")
        .segments
        .retain(|s| !segments.contains(s));
    metrics.log_segments.dec_by(segments.len() as i64);
    tracing::debug!(segments = segments.len(), "commit log trimmed");
    Ok(segments.len())
}

/// `syncfs` of the filesystem holding `dir`.
pub fn sync_filesystem(dir: &Path) -> io::Result<()> {
    let file = File::open(dir)?;
    // SAFETY: syncfs only reads the descriptor, which `file` keeps open for the call.
    if unsafe { libc::syncfs(file.as_raw_fd()) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}
