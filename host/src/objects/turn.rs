//! One turn: an event run in its own savepoint inside the batch's transaction. A turn that
//! fails (trap, CPU or memory limit, storage failure, or the guest's own `turn.rollback`)
//! rolls back its writes, drops its socket effects and discards the instance; one that
//! succeeds leaves its socket effects in the batch's outbox until the commit is durable.

use super::actor::{new_error_id, Actor, Live};
use super::event::{FetchReply, TurnError};
use crate::guest::bindings::{Request, Response};
use crate::guest::{Chain, Instance};
use crate::metrics::ns;
use crate::websocket::{Outbound, PendingSocket, SocketId, WsEvent};

/// An error an RPC method returned: the call is rolled back (and the instance, whose memory
/// may reflect the undone writes, replaced), but it is the method's answer, not a trap.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct ReturnedError(String);

impl Actor {
    pub(super) async fn fetch_turn(
        &self,
        live: &mut Live,
        request: &Request,
        upgrade: bool,
        chain: &Chain,
    ) -> Result<FetchReply, TurnError> {
        self.begin_turn(live)?;
        let chain = self.chain_through(chain);
        let result = match self.instance(live).await {
            Ok(instance) => instance.fetch(request, upgrade, chain).await,
            Err(e) => Err(e),
        };
        let accepted = live.instance.as_ref().and_then(Instance::accepted);
        let response = self.end_turn(live, result)?;
        // A turn rolled back by the guest still answers, but its accept was undone.
        let accepted = accepted
            .filter(|socket| live.accepted.contains(socket))
            .map(PendingSocket::new);
        Ok(FetchReply { response, accepted })
    }

    /// An RPC call in its own savepoint: the guest's JSON result as the body of a 200
    /// response. An error the method returned rolls the call back, as a trap does, and
    /// reaches the caller with its message.
    pub(super) async fn call_turn(
        &self,
        live: &mut Live,
        method: &str,
        payload: &str,
        chain: &Chain,
    ) -> Result<FetchReply, TurnError> {
        self.begin_turn(live)?;
        let chain = self.chain_through(chain);
        let result = match self.instance(live).await {
            Ok(instance) => instance.call(method, payload, chain).await,
            Err(e) => Err(e),
        };
        let result = match result {
            Ok(Some(Ok(json))) => Ok(json),
            Ok(Some(Err(message))) => Err(anyhow::Error::new(ReturnedError(message))),
            Ok(None) => Err(anyhow::anyhow!(
                "the object has no RPC methods (its component exports no rpc-handler), so it \
                 cannot answer {method:?}"
            )),
            Err(e) => Err(e),
        };
        let json = self.end_turn(live, result)?;
        Ok(FetchReply {
            response: Response {
                status: 200,
                headers: Vec::new(),
                body: json.into_bytes(),
            },
            accepted: None,
        })
    }

    /// `chain` with this object at its end: what its own stub calls carry.
    pub(super) fn chain_through(&self, chain: &Chain) -> Chain {
        chain.iter().copied().chain([self.key]).collect()
    }

    /// A socket event in its own savepoint. A failure rolls it back; nothing is retried.
    pub(super) async fn websocket_turn(&self, live: &mut Live, socket: SocketId, event: &WsEvent) {
        if matches!(event, WsEvent::Close { .. }) {
            live.closed.push(socket);
            live.pinned.remove(&socket);
        }
        if self.begin_turn(live).is_err() {
            return;
        }
        let woke = live.instance.is_none();
        let result = match self.instance(live).await {
            Ok(instance) => {
                let chain = self.chain_through(&Chain::default());
                instance.websocket(socket, event, chain).await
            }
            Err(e) => Err(e),
        };
        if woke {
            self.registry
                .metrics
                .websocket_wakeups
                .get_or_create(&ns(&self.namespace.name))
                .inc();
        }
        let result = match result {
            Ok(None | Some(Ok(()))) => Ok(()),
            Ok(Some(Err(message))) => Err(anyhow::anyhow!(
                "the WebSocket handler returned an error: {message}"
            )),
            Err(e) => Err(e),
        };
        let _ = self.end_turn(live, result);
    }

    pub(super) fn begin_turn(&self, live: &mut Live) -> Result<(), TurnError> {
        live.storage
            .lock()
            .expect("storage lock")
            .begin_turn()
            .map_err(|e| {
                live.instance = None;
                self.storage_error("cannot begin a turn", &e)
            })
    }

    /// Ends a turn: keeps its writes if it succeeded and storage did not fail under it,
    /// else rolls them back and discards the instance.
    pub(super) fn end_turn<T>(
        &self,
        live: &mut Live,
        result: anyhow::Result<T>,
    ) -> Result<T, TurnError> {
        let full = live
            .instance
            .as_ref()
            .is_some_and(Instance::storage_was_full);
        let storage_failure = live
            .instance
            .as_mut()
            .and_then(Instance::take_storage_failure);
        let result = match (result, storage_failure) {
            (Ok(value), None) => Ok(value),
            (Ok(_), Some(failure)) => Err(anyhow::anyhow!(
                "storage failed during the event: {failure}"
            )),
            (Err(e), _) => Err(e),
        };
        // The guest may answer normally yet ask for its writes to be undone.
        let rollback = live
            .instance
            .as_mut()
            .and_then(Instance::take_rollback_request);
        let keep = result.is_ok() && rollback.is_none();
        // Sockets: a kept turn's sends wait for the commit; an undone turn's never happen.
        let effects = live
            .instance
            .as_mut()
            .map(Instance::take_effects)
            .unwrap_or_default();
        if keep {
            live.outbox.extend(effects.outbox);
            live.accepted.extend(effects.accepted);
            if effects.pinned {
                live.pinned.extend(effects.accepted);
            }
        } else if let Some(socket) = effects.accepted {
            self.registry.hub.remove(socket);
        }
        if let Err(e) = live.storage.lock().expect("storage lock").end_turn(keep) {
            live.instance = None;
            if full {
                // SQLite rolls the whole transaction back when it finds no room.
                live.lost_to_full = true;
                return Err(self.full_error("the event was rolled back", &e));
            }
            return Err(self.storage_error("cannot end a turn", &e));
        }
        if let (Ok(_), Some(reason)) = (&result, rollback) {
            // The guest's answer stands, but its memory may reflect the undone writes.
            live.instance = None;
            tracing::info!(namespace = %self.namespace.name, object = %self.info.id_text, "the object rolled its event back: {reason}");
        }
        result.map_err(|e| {
            live.instance = None;
            let error_id = new_error_id();
            let cause = e.root_cause().to_string();
            // An error the guest returned (an RPC method's) is its answer, not a trap.
            if e.is::<ReturnedError>() {
                tracing::info!(namespace = %self.namespace.name, object = %self.info.id_text, error_id, "the call returned an error and was rolled back: {cause}");
                return TurnError::GuestFailed { error_id, cause };
            }
            if !full {
                self.registry.metrics.traps.get_or_create(&ns(&self.namespace.name)).inc();
            }
            // One line with the cause; the wasm backtrace, if any, at debug level.
            tracing::error!(namespace = %self.namespace.name, object = %self.info.id_text, error_id, "event failed and was rolled back: {cause}");
            tracing::debug!(namespace = %self.namespace.name, object = %self.info.id_text, error_id, "failure in detail: {e:?}");
            if full {
                // Nothing failed but room: the answer says so (507), as a full commit's does.
                return TurnError::Full { error_id };
            }
            TurnError::GuestFailed { error_id, cause }
        })
    }

    pub(super) async fn instance<'a>(
        &self,
        live: &'a mut Live,
    ) -> anyhow::Result<&'a mut Instance> {
        if live.instance.is_none() {
            // Sockets accepted with the standard API had their listeners in the instance
            // that is gone (it failed, or an operator changed its data): nothing can serve
            // them any more, so they close, released with this batch in order with what
            // was sent before.
            let reason = "the object's instance was replaced: its WebSocket listeners are gone";
            live.outbox.extend(
                live.pinned
                    .drain()
                    .map(|socket| (socket, Outbound::Close(1011, reason.into()))),
            );
            live.instance = Some(
                Instance::new(
                    &self.namespace.code(),
                    &self.namespace.config,
                    self.namespace.outbound.clone(),
                    &self.info,
                    &live.storage,
                    &self.registry.hub,
                    self.registry.stub_ctx(self.key.0),
                )
                .await?,
            );
        }
        Ok(live.instance.as_mut().expect("instance just created"))
    }
}
