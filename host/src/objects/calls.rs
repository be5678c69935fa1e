//! Stubs' requests and RPC calls, delivered to their objects: the objects layer's side of
//! the guest's [`Directory`]. A call is an event of the callee like any other (its inbox,
//! its turn, its commit) and is answered once its writes are durable. A call into an object
//! that is waiting, up the chain, for this very call is refused at once (it would never be
//! answered), and every call has the host's `call-timeout`.

use std::sync::{Arc, OnceLock, Weak};

use tokio::sync::oneshot;

use super::event::{Event, FetchReply, TurnError};
use super::namespace::Namespace;
use super::registry::Registry;
use crate::guest::bindings::namespaces::{Error, ErrorCode};
use crate::guest::bindings::{Request, Response};
use crate::guest::{Accepted, Answer, Chain, Directory, Env, StubCtx, Target};

/// What stubs need of the host's namespaces: each one's code and `env`.
pub(super) struct Applications {
    namespaces: Vec<Arc<Namespace>>,
    envs: Vec<Arc<Env>>,
}

pub(super) type AppsCell = OnceLock<Applications>;

fn error(code: ErrorCode, message: impl Into<String>) -> Error {
    Error {
        code,
        message: message.into(),
    }
}

struct Calls {
    registry: Weak<Registry>,
}

impl Registry {
    /// Hands the registry the namespaces (by index) and their `env`s, once, at start.
    pub fn set_applications(&self, namespaces: Vec<Arc<Namespace>>, envs: Vec<Arc<Env>>) {
        let _ = self.apps.set(Applications { namespaces, envs });
    }

    /// The stub context of an instance of namespace `ns_index`'s objects.
    pub(super) fn stub_ctx(self: &Arc<Self>, ns_index: usize) -> StubCtx {
        let env = self
            .apps
            .get()
            .and_then(|apps| apps.envs.get(ns_index).cloned())
            .unwrap_or_default();
        StubCtx::new(env, self.directory())
    }

    /// The stub context of an instance of a worker whose `env` is `env`.
    pub fn worker_stub_ctx(self: &Arc<Self>, env: Arc<Env>) -> StubCtx {
        StubCtx::new(env, self.directory())
    }

    fn directory(self: &Arc<Self>) -> Arc<dyn Directory> {
        Arc::new(Calls {
            registry: Arc::downgrade(self),
        })
    }
}

impl Calls {
    /// Sends `event` (made with a reply channel) to the target and waits for the answer.
    async fn send(
        registry: Weak<Registry>,
        target: Target,
        chain: Chain,
        event: impl FnOnce(oneshot::Sender<Result<FetchReply, TurnError>>) -> Event,
    ) -> Result<FetchReply, Error> {
        let gone = || error(ErrorCode::Unavailable, "the host is shutting down");
        let registry = registry.upgrade().ok_or_else(gone)?;
        let apps = registry.apps.get().ok_or_else(gone)?;
        let key = (target.ns_index, target.id);
        if chain.contains(&key) {
            let names: Vec<String> = chain
                .iter()
                .chain([&key])
                .map(|(ns, id)| {
                    let ns = apps.namespaces.get(*ns).map_or("?", |n| &n.name);
                    format!("{ns}/{}", &id.to_string()[..12])
                })
                .collect();
            return Err(error(
                ErrorCode::Cycle,
                format!(
                    "call cycle: {} — the last object is already waiting for this call, so it \
                     could never answer",
                    names.join(" → ")
                ),
            ));
        }
        let namespace = apps.namespaces.get(target.ns_index).ok_or_else(gone)?;
        let (reply, answer) = oneshot::channel();
        registry
            .dispatch(
                namespace,
                target.ns_index,
                target.id,
                target.name.as_deref(),
                event(reply),
            )
            .map_err(|e| error(ErrorCode::Unavailable, e.to_string()))?;
        let timeout = registry.config.call_timeout;
        drop(registry);
        match tokio::time::timeout(timeout, answer).await {
            Err(_) => Err(error(
                ErrorCode::Timeout,
                format!(
                    "{}/{} did not answer within the call timeout of {timeout:?} (it may still \
                     finish the call)",
                    target.namespace, target.id
                ),
            )),
            Ok(Err(_)) => Err(error(
                ErrorCode::Unavailable,
                "the object stopped before it answered",
            )),
            Ok(Ok(Err(TurnError::GuestFailed { cause, .. }))) => {
                Err(error(ErrorCode::Failed, cause))
            }
            Ok(Ok(Err(e))) => Err(error(ErrorCode::Failed, e.to_string())),
            Ok(Ok(Ok(reply))) => Ok(reply),
        }
    }
}

impl Directory for Calls {
    fn fetch(
        &self,
        target: Target,
        request: Request,
        upgrade: bool,
        chain: Chain,
    ) -> Answer<(Response, Option<Accepted>)> {
        let registry = self.registry.clone();
        Box::pin(async move {
            let event = |reply| Event::Fetch {
                request,
                upgrade,
                chain: chain.clone(),
                reply,
            };
            let reply = Calls::send(registry.clone(), target.clone(), chain.clone(), event).await?;
            let Some(socket) = reply.accepted else {
                return Ok((reply.response, None));
            };
            // The object accepted the upgrade: the worker gets a 101 to return as it is.
            let registry = registry
                .upgrade()
                .ok_or_else(|| error(ErrorCode::Unavailable, "the host is shutting down"))?;
            let apps = registry.apps.get().expect("set before any call");
            let namespace = &apps.namespaces[target.ns_index];
            let owner = registry.socket_owner(
                namespace,
                target.ns_index,
                target.id,
                target.name.as_deref(),
            );
            let response = Response {
                status: 101,
                headers: vec![("upgrade".into(), "websocket".into())],
                body: Vec::new(),
            };
            Ok((response, Some(Accepted { socket, owner })))
        })
    }

    fn call(
        &self,
        target: Target,
        method: String,
        payload: String,
        chain: Chain,
    ) -> Answer<String> {
        let registry = self.registry.clone();
        Box::pin(async move {
            let event = |reply| Event::Call {
                method,
                payload,
                chain: chain.clone(),
                reply,
            };
            let reply = Calls::send(registry, target, chain.clone(), event).await?;
            String::from_utf8(reply.response.body)
                .map_err(|_| error(ErrorCode::Failed, "the object's RPC result is not UTF-8"))
        })
    }
}
