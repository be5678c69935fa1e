//! `wdo serve` and `wdo dev` reload every namespace's component on SIGHUP (a deploy: copy
//! the new files, then `kill -HUP`): each is compiled first; one that fails is refused and
//! its old code keeps serving; live objects finish what is queued and restart on the new
//! code at their next event; storage and sockets stay.

use std::sync::Arc;

use tokio::signal::unix::{signal, SignalKind};
use tokio_util::sync::CancellationToken;

use crate::host::Host;

/// Reloads every namespace on each SIGHUP until `shutdown`.
pub async fn reload_on_sighup(host: Arc<Host>, shutdown: CancellationToken) {
    let mut hangup = match signal(SignalKind::hangup()) {
        Ok(hangup) => hangup,
        Err(e) => {
            tracing::warn!("cannot listen for SIGHUP, reloading by signal is off: {e}");
            return;
        }
    };
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            received = hangup.recv() => if received.is_none() { return },
        }
        tracing::info!("SIGHUP: reloading every namespace's component");
        for index in 0..host.namespaces().len() {
            let name = host.namespaces()[index].name.clone();
            let reloading = host.clone();
            match tokio::task::spawn_blocking(move || reloading.reload(index)).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::error!(namespace = %name,
                    "cannot reload: {e:#}; the previous code keeps serving"),
                Err(e) => tracing::error!(namespace = %name, "reloading failed: {e}"),
            }
        }
        for index in 0..host.workers().len() {
            let name = host.workers()[index].config.name.clone();
            let reloading = host.clone();
            match tokio::task::spawn_blocking(move || reloading.reload_worker(index)).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::error!(
                    "cannot reload worker {name:?}: {e:#}; the previous code keeps serving"
                ),
                Err(e) => tracing::error!("reloading worker {name:?} failed: {e}"),
            }
        }
    }
}
