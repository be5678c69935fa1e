//! A socket accepted by a committed turn whose upgrade has not started yet. The reply that
//! carries it to the HTTP front may never be read (the client hung up before the `101`, and
//! hyper dropped the request's task): then the socket must not stay in the hub, listed and
//! counted by its object forever. The guard's drop closes it as a vanished client would.

use std::sync::Arc;

use super::{Hub, Owner, SocketId, WsEvent};

/// A committed, accepted socket on its way to the front. Dropped without
/// [`PendingSocket::upgrade`], it gets the close of a client that vanished (1006).
pub struct PendingSocket {
    id: SocketId,
    /// Set once the accept is durable: before that, a failed commit forgets the socket.
    abort: Option<(Arc<Hub>, Owner)>,
}

impl PendingSocket {
    pub fn new(id: SocketId) -> PendingSocket {
        PendingSocket { id, abort: None }
    }

    pub fn id(&self) -> SocketId {
        self.id
    }

    /// From now on, dropping it closes the socket for its object.
    pub fn arm(&mut self, hub: Arc<Hub>, owner: Owner) {
        self.abort = Some((hub, owner));
    }

    /// The front takes the socket to complete the upgrade.
    pub fn upgrade(mut self) -> SocketId {
        self.abort = None;
        self.id
    }
}

impl Drop for PendingSocket {
    fn drop(&mut self) {
        let Some((hub, owner)) = self.abort.take() else {
            return;
        };
        let id = self.id;
        tracing::debug!(namespace = %owner.namespace, object = %owner.object, socket = id, "the client left before the WebSocket upgrade");
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn(async move {
                    let event = WsEvent::Close {
                        code: 1006,
                        reason: "the client left before the WebSocket upgrade completed".into(),
                        was_clean: false,
                    };
                    close_for_object(&hub, &owner, id, &event).await;
                });
            }
            // No runtime left (the process is ending): nobody will list the socket again.
            Err(_) => hub.remove(id),
        }
    }
}

/// Hides the socket and hands its close to the object, whose close turn forgets it; at
/// shutdown it is forgotten at once.
pub(super) async fn close_for_object(hub: &Hub, owner: &Owner, id: SocketId, event: &WsEvent) {
    hub.mark_closing(id);
    if !owner.deliver(id, event).await {
        hub.remove(id);
    }
}
