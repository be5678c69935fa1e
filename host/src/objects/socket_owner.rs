//! The objects layer's end of a WebSocket: what a connection task (`crate::websocket`) is
//! handed so that its client's messages and close reach the object that accepted it, waking
//! the object if it hibernates. The WebSocket layer knows only the [`EventSink`] trait.

use std::sync::Arc;

use super::event::Event;
use super::namespace::Namespace;
use super::registry::{DispatchError, Registry};
use crate::ids::ObjectId;
use crate::websocket::{EventSink, Owner, Refused, SocketId, WsEvent};

struct SocketOwner {
    registry: Arc<Registry>,
    namespace: Arc<Namespace>,
    ns_index: usize,
    id: ObjectId,
    name: Option<String>,
}

impl EventSink for SocketOwner {
    fn deliver(&self, socket: SocketId, event: WsEvent) -> Result<(), Refused> {
        let event = Event::WebSocket { socket, event };
        let name = self.name.as_deref();
        match (self.registry).dispatch(&self.namespace, self.ns_index, self.id, name, event) {
            Ok(()) => Ok(()),
            // A quarantined object takes no more events: its sockets close.
            Err(DispatchError::ShuttingDown | DispatchError::Quarantined(_)) => {
                Err(Refused::ShuttingDown)
            }
            Err(
                DispatchError::Overloaded
                | DispatchError::HostFull(_)
                | DispatchError::MemoryFull(_),
            ) => Err(Refused::Busy),
        }
    }
}

impl Registry {
    /// The owner of a socket that the object (`ns_index`, `id`) accepted.
    pub fn socket_owner(
        self: &Arc<Self>,
        namespace: &Arc<Namespace>,
        ns_index: usize,
        id: ObjectId,
        name: Option<&str>,
    ) -> Owner {
        Owner {
            sink: Arc::new(SocketOwner {
                registry: self.clone(),
                namespace: namespace.clone(),
                ns_index,
                id,
                name: name.map(str::to_owned),
            }),
            namespace: namespace.name.clone(),
            object: id.to_string().into(),
            metrics: self.metrics.clone(),
        }
    }
}
