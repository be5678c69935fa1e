//! `wdo dev`: a namespace whose component file changes (rebuilt by `wdo build`, `cargo
//! build`, ... in another terminal) is reloaded: its live objects finish what is queued and
//! restart with the new code on their next event; their storage and sockets stay.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use tokio_util::sync::CancellationToken;

use crate::host::Host;

/// How often the component files are looked at.
const POLL: Duration = Duration::from_millis(500);

/// What tells a file's versions apart.
type Stamp = (SystemTime, u64);

fn stamp(path: &Path) -> Option<Stamp> {
    let metadata = std::fs::metadata(path).ok()?;
    Some((metadata.modified().ok()?, metadata.len()))
}

/// Watches every namespace's component file until `shutdown`.
pub async fn watch_components(host: Arc<Host>, shutdown: CancellationToken) {
    // The namespaces' files by index, then the workers'.
    let paths: Vec<PathBuf> = host
        .namespaces()
        .iter()
        .map(|ns| ns.component_path.clone())
        .chain(
            host.workers()
                .iter()
                .map(|w| host.config.resolve(&w.config.component)),
        )
        .collect();
    let namespaces = host.namespaces().len();
    let mut loaded: Vec<Option<Stamp>> = paths.iter().map(|p| stamp(p)).collect();
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(POLL) => {}
        }
        for (index, path) in paths.iter().enumerate() {
            let now = stamp(path);
            if now.is_none() || now == loaded[index] {
                continue;
            }
            // A build may still be writing it: reload once it has stayed the same for a poll.
            tokio::time::sleep(POLL).await;
            if stamp(path) != now {
                continue;
            }
            loaded[index] = now;
            tracing::info!("{} changed: reloading", path.display());
            let host = host.clone();
            let reload = move || match index < namespaces {
                true => host.reload(index),
                false => host.reload_worker(index - namespaces),
            };
            match tokio::task::spawn_blocking(reload).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::error!(
                    "cannot reload {}: {e:#}; the previous code keeps serving",
                    path.display()
                ),
                Err(e) => tracing::error!("reloading {} failed: {e}", path.display()),
            }
        }
    }
}
