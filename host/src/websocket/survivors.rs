//! Cluster mode: an object's sockets outlive its node as records. The object writes the
//! sockets it has (id, tags, attachment) into its own database whenever they change, in
//! the commit of the batch that changed them, so the records travel with the replicated
//! log. When the object activates on another node (its node died), the sockets it recorded
//! are gone with their connections: each is brought back here as a closing socket, readable
//! by the object's close handler, which then runs once for it (1006, not clean). The close
//! turn's commit drops its record, so a close is delivered once.

use super::{queue, Hub, Socket, SocketId, SocketState};
use crate::ids::Key;

/// A socket as its object records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Survivor {
    pub id: SocketId,
    pub tags: Vec<String>,
    pub attachment: Option<Vec<u8>>,
}

impl Hub {
    /// Whether the object's sockets changed since the last call (which resets it).
    pub fn take_sockets_changed(&self, key: Key) -> bool {
        self.lock()
            .objects
            .get_mut(&key)
            .is_some_and(|object| std::mem::take(&mut object.changed))
    }

    /// The object's sockets as it would record them, oldest first, but for `except`.
    pub fn survivors(&self, key: Key, except: impl Fn(SocketId) -> bool) -> Vec<Survivor> {
        let inner = self.lock();
        let Some(object) = inner.objects.get(&key) else {
            return Vec::new();
        };
        object
            .ids
            .iter()
            .filter(|id| !except(**id))
            .map(|id| {
                let socket = &inner.sockets[id];
                Survivor {
                    id: *id,
                    tags: socket.tags.clone(),
                    attachment: socket.attachment.clone(),
                }
            })
            .collect()
    }

    /// Whether `id` is a socket of `key` on this host.
    pub fn has_socket(&self, key: Key, id: SocketId) -> bool {
        self.lock()
            .sockets
            .get(&id)
            .is_some_and(|socket| socket.key == key)
    }

    /// Brings back a recorded socket whose connection is gone, as a closing socket of `key`
    /// (its close handler may read its tags and attachment); under a new id.
    pub fn restore_closing(&self, key: Key, survivor: Survivor) -> SocketId {
        let id = self
            .next_id
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let (outbound, _) = queue::queue();
        let mut inner = self.lock();
        let object = inner.objects.entry(key).or_default();
        object.ids.insert(id);
        object.changed = true;
        inner.sockets.insert(
            id,
            Socket {
                key,
                tags: survivor.tags,
                attachment: survivor.attachment,
                state: SocketState::Closing,
                outbound,
                receiver: None,
                last_auto_response_ms: None,
            },
        );
        id
    }
}
