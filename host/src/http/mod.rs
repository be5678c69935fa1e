//! The HTTP edge: the accept loops of the public and admin listeners, graceful shutdown,
//! the public front (`front.rs`: a request to its object and back), the URL router, the
//! admin API and metrics (`admin/`, behind the token check of `admin_auth.rs`), the
//! inspector web page the admin listener serves at `/` (`inspector/`: its files are built
//! into the binary and served without the token), the WebSocket upgrade handshake
//! (`upgrade.rs`) and response helpers (`response.rs`).
//!
//! Invariant: every request gets an answer that says what was wrong when it cannot be
//! served (400 bad input, 404 unknown namespace, 413 too large, 503 overloaded, 500 with an
//! error id); nothing here holds an object's state.
//!
//! May import: `host`, `objects`, `websocket`, `guest::bindings` (the request and response
//! records), `ids`, `metrics`, `config`. Nothing but `lib.rs` and the `wdo` binary imports
//! it.
//!
//! Shutdown: stop accepting, let requests in flight finish, let every object commit what it
//! has queued, then return.

pub mod admin;
mod admin_auth;
mod forward;
pub mod front;
mod inspector;
mod node_calls;
pub mod response;
pub mod router;
mod tunnel;
mod upgrade;
mod worker_front;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use crate::host::Host;
use response::Body;

/// Serves the public and admin listeners until `shutdown` is cancelled, then drains.
pub async fn run(
    host: Arc<Host>,
    listener: TcpListener,
    admin: TcpListener,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    if let Some(cluster) = host.registry.cluster() {
        host.registry.set_remote(Arc::new(node_calls::NodeCalls {
            cluster: cluster.clone(),
            call_timeout: host.config.call_timeout,
        }));
    }
    let alarms_host = host.clone();
    let scheduler = host.registry.scheduler.clone();
    tokio::spawn(scheduler.run(move |due| alarms_host.deliver_alarm(due), shutdown.clone()));
    if let Some(cluster) = host.registry.cluster() {
        let every = (cluster.lease_ttl / 2).max(std::time::Duration::from_secs(1));
        tokio::spawn(host.clone().fire_orphaned_alarms(every, shutdown.clone()));
    }
    let graceful = GracefulShutdown::new();
    // The listeners stop once a cluster node has said that it is leaving.
    let serving = CancellationToken::new();
    let leaving = (
        host.registry.cluster().cloned(),
        shutdown.clone(),
        serving.clone(),
    );
    tokio::spawn(async move {
        let (cluster, shutdown, serving) = leaving;
        shutdown.cancelled().await;
        if let Some(cluster) = cluster {
            cluster.mark_leaving().await;
        }
        serving.cancel();
    });
    let public = serve(
        listener,
        host.clone(),
        front::handle,
        &graceful,
        serving.clone(),
    );
    let admin_loop = serve(admin, host.clone(), admin::handle, &graceful, serving);
    tokio::join!(public, admin_loop);
    let grace = host.config.shutdown_grace;
    tracing::info!("shutting down: finishing requests in flight (up to {grace:?})");
    if tokio::time::timeout(grace, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("some connections were still open after {grace:?}");
    }
    if tokio::time::timeout(grace, host.registry.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("some objects were still busy after {grace:?}");
    }
    // A cluster node gives its lease back once its objects are closed: the other nodes take
    // them over at once instead of after the lease.
    if let Some(cluster) = host.registry.cluster() {
        cluster.leave().await;
    }
    tracing::info!("shut down");
    Ok(())
}

async fn serve<F, Fut>(
    listener: TcpListener,
    host: Arc<Host>,
    handler: F,
    graceful: &GracefulShutdown,
    shutdown: CancellationToken,
) where
    F: Fn(Arc<Host>, Request<Incoming>) -> Fut + Copy + Send + Sync + 'static,
    Fut: Future<Output = Response<Body>> + Send + 'static,
{
    let header_timeout = host.config.header_read_timeout;
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout);
    builder.http2().timer(TokioTimer::new());
    let connections = Arc::new(Semaphore::new(host.config.max_connections));
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(conn) => conn,
                Err(e) => {
                    // Out of file descriptors and the like: wait instead of spinning.
                    tracing::warn!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = shutdown.cancelled() => break,
        };
        // Beyond the cap a new connection is closed at once; those open keep working.
        let Ok(permit) = connections.clone().try_acquire_owned() else {
            tracing::debug!(
                "connection refused: {} connections are open",
                host.config.max_connections
            );
            drop(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let host = host.clone();
        let service = service_fn(move |mut request: Request<Incoming>| {
            request.extensions_mut().insert(admin::PeerAddr(peer));
            let host = host.clone();
            async move { Ok::<_, std::convert::Infallible>(handler(host, request).await) }
        });
        let builder = builder.clone();
        let watcher = graceful.watcher();
        tokio::spawn(async move {
            let _permit = permit;
            // hyper's header timer starts once it knows the protocol, which takes a first
            // byte: a connection that sends nothing at all is closed here.
            let mut first = [0u8; 1];
            if !matches!(
                tokio::time::timeout(header_timeout, stream.peek(&mut first)).await,
                Ok(Ok(1..))
            ) {
                return;
            }
            let connection = builder
                .serve_connection_with_upgrades(TokioIo::new(stream), service)
                .into_owned();
            if let Err(e) = watcher.watch(connection).await {
                tracing::debug!("connection ended with an error: {e}");
            }
        });
    }
}
