//! Stubs' requests and RPC calls, delivered to their objects: the objects layer's side of
//! the guest's [`Directory`]. A call is an event of the callee like any other (its inbox,
//! its turn, its commit) and is answered once its writes are durable. A call into an object
//! that is waiting, up the chain, for this very call is refused at once (it would never be
//! answered), and every call has the host's `call-timeout`.

use std::sync::{Arc, OnceLock, Weak};
use std::time::Duration;

use tokio::sync::oneshot;

use super::event::{Event, FetchReply, TurnError};
use super::namespace::Namespace;
use super::registry::Registry;
use super::remote::{Remote, RemoteCall, RemoteError};
use crate::cluster::Cluster;
use crate::guest::bindings::namespaces::{Error, ErrorCode};
use crate::guest::bindings::{Request, Response};
use crate::guest::{Accepted, Answer, Carried, Chain, Directory, Env, StubCtx, Target};
use crate::ids::ObjectId;

/// What stubs need of the host's namespaces: each one's code and `env`.
pub(super) struct Applications {
    pub(super) namespaces: Vec<Arc<Namespace>>,
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

/// What a call asks of its object.
#[derive(Clone)]
pub enum Kind {
    /// A stub's `fetch`; `upgrade`: a WebSocket upgrade the object may accept.
    Fetch { request: Request, upgrade: bool },
    /// An RPC call.
    Call { method: String, payload: String },
}

impl Kind {
    fn event(self, chain: Chain, reply: oneshot::Sender<Result<FetchReply, TurnError>>) -> Event {
        match self {
            Kind::Fetch { request, upgrade } => Event::Fetch {
                request,
                upgrade,
                chain,
                reply,
            },
            Kind::Call { method, payload } => Event::Call {
                method,
                payload,
                chain,
                reply,
            },
        }
    }
}

/// Where a call was answered.
enum Reached {
    /// By the object on this node.
    Here(FetchReply),
    /// Cluster mode: by the object on another node (and the connection it accepted, for an
    /// upgrade).
    There(Response, Option<Box<dyn Carried>>),
}

impl Reached {
    fn response(self) -> Response {
        match self {
            Reached::Here(reply) => reply.response,
            Reached::There(response, _) => response,
        }
    }
}

fn gone() -> Error {
    error(ErrorCode::Unavailable, "the host is shutting down")
}

impl Calls {
    /// Delivers the call to its object (on this node, or in cluster mode wherever it lives)
    /// and waits for the answer, at most the host's `call-timeout`.
    async fn send(
        registry: Weak<Registry>,
        target: Target,
        chain: Chain,
        kind: Kind,
    ) -> Result<Reached, Error> {
        let strong = registry.upgrade().ok_or_else(gone)?;
        refuse_cycle(&strong, &target, &chain)?;
        let timeout = strong.config.call_timeout;
        let cluster = strong.cluster().cloned().zip(strong.remote().cloned());
        drop(strong);
        let sent = async {
            match cluster {
                Some((cluster, remote)) => {
                    in_cluster(&registry, &cluster, &*remote, &target, &chain, kind).await
                }
                None => {
                    turn_result(here(&registry, &target, &chain, kind).await?).map(Reached::Here)
                }
            }
        };
        match tokio::time::timeout(timeout, sent).await {
            Err(_) => Err(error(
                ErrorCode::Timeout,
                format!(
                    "{}/{} did not answer within the call timeout of {timeout:?} (it may still \
                     finish the call)",
                    target.namespace, target.id
                ),
            )),
            Ok(result) => result,
        }
    }
}

/// Refuses a call into an object that is waiting, up the chain, for this very call.
fn refuse_cycle(registry: &Registry, target: &Target, chain: &Chain) -> Result<(), Error> {
    let apps = registry.apps.get().ok_or_else(gone)?;
    let key = (target.ns_index, target.id);
    if !chain.contains(&key) {
        return Ok(());
    }
    let names: Vec<String> = chain
        .iter()
        .chain([&key])
        .map(|(ns, id)| {
            let ns = apps.namespaces.get(*ns).map_or("?", |n| &n.name);
            format!("{ns}/{}", &id.to_string()[..12])
        })
        .collect();
    Err(error(
        ErrorCode::Cycle,
        format!(
            "call cycle: {} — the last object is already waiting for this call, so it \
             could never answer",
            names.join(" → ")
        ),
    ))
}

/// One delivery to the object on this node: the outcome of its turn.
async fn here(
    registry: &Weak<Registry>,
    target: &Target,
    chain: &Chain,
    kind: Kind,
) -> Result<Result<FetchReply, TurnError>, Error> {
    let registry = registry.upgrade().ok_or_else(gone)?;
    let apps = registry.apps.get().ok_or_else(gone)?;
    let namespace = apps.namespaces.get(target.ns_index).ok_or_else(gone)?;
    let (reply, answer) = oneshot::channel();
    registry
        .dispatch(
            namespace,
            target.ns_index,
            target.id,
            target.name.as_deref(),
            kind.event(chain.clone(), reply),
        )
        .map_err(|e| error(ErrorCode::Unavailable, e.to_string()))?;
    drop(registry);
    answer.await.map_err(|_| {
        error(
            ErrorCode::Unavailable,
            "the object stopped before it answered",
        )
    })
}

/// A turn's outcome as the caller sees it.
fn turn_result(outcome: Result<FetchReply, TurnError>) -> Result<FetchReply, Error> {
    match outcome {
        Err(TurnError::GuestFailed { cause, .. }) => Err(error(ErrorCode::Failed, cause)),
        Err(e) => Err(error(ErrorCode::Failed, e.to_string())),
        Ok(reply) => Ok(reply),
    }
}

/// Cluster mode: the call goes to the object's owner, which is this node if no other node
/// owns it (the object claims itself here). Sent again only when it did not run.
async fn in_cluster(
    registry: &Weak<Registry>,
    cluster: &Cluster,
    remote: &dyn Remote,
    target: &Target,
    chain: &Chain,
    kind: Kind,
) -> Result<Reached, Error> {
    let pause = || tokio::time::sleep(Duration::from_millis(200));
    loop {
        if let Some(owner) = cluster.cached_owner(&target.namespace, target.id.as_bytes()) {
            let call = RemoteCall {
                namespace: target.namespace.to_string(),
                id: target.id,
                name: target.name.clone(),
                chain: chain_names(registry, chain)?,
                kind: kind.clone(),
            };
            let sent = match kind {
                Kind::Fetch { upgrade: true, .. } => remote.upgrade(&owner, call).await,
                _ => remote.send(&owner, call).await.map(|r| (r, None)),
            };
            match sent {
                Ok((response, carried)) => return Ok(Reached::There(response, carried)),
                Err(RemoteError::Failed(e)) => return Err(e),
                Err(RemoteError::NotRun(_)) => {
                    cluster.forget_owner(&target.namespace, target.id.as_bytes());
                    pause().await;
                    continue;
                }
            }
        }
        match here(registry, target, chain, kind.clone()).await? {
            Err(TurnError::Moved { .. }) => {
                if cluster
                    .cached_owner(&target.namespace, target.id.as_bytes())
                    .is_none()
                {
                    pause().await;
                }
            }
            Err(TurnError::NotServing {
                may_have_run: false,
                ..
            }) => pause().await,
            outcome => return turn_result(outcome).map(Reached::Here),
        }
    }
}

/// The chain as another node knows it: namespaces by name.
fn chain_names(registry: &Weak<Registry>, chain: &Chain) -> Result<Vec<(String, ObjectId)>, Error> {
    let registry = registry.upgrade().ok_or_else(gone)?;
    let apps = registry.apps.get().ok_or_else(gone)?;
    Ok(chain
        .iter()
        .map(|(ns, id)| (apps.namespaces[*ns].name.to_string(), *id))
        .collect())
}

/// A call from another node, delivered to the object on this node (never sent on).
pub(super) async fn here_for_remote(
    registry: &Arc<Registry>,
    target: Target,
    chain: Chain,
    kind: Kind,
) -> Result<Response, RemoteError> {
    refuse_cycle(registry, &target, &chain).map_err(RemoteError::Failed)?;
    let timeout = registry.config.call_timeout;
    let weak = Arc::downgrade(registry);
    match tokio::time::timeout(timeout, here(&weak, &target, &chain, kind)).await {
        Err(_) => Err(RemoteError::Failed(error(
            ErrorCode::Timeout,
            format!(
                "{}/{} did not answer within the call timeout of {timeout:?} (it may still \
                 finish the call)",
                target.namespace, target.id
            ),
        ))),
        Ok(Err(e)) => Err(RemoteError::Failed(e)),
        Ok(Ok(Err(
            e @ (TurnError::Moved { .. }
            | TurnError::NotServing {
                may_have_run: false,
                ..
            }),
        ))) => Err(RemoteError::NotRun(error(
            ErrorCode::Unavailable,
            e.to_string(),
        ))),
        Ok(Ok(outcome)) => turn_result(outcome)
            .map(|reply| reply.response)
            .map_err(RemoteError::Failed),
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
            let kind = Kind::Fetch { request, upgrade };
            let reply = match Calls::send(registry.clone(), target.clone(), chain, kind).await? {
                Reached::Here(reply) => reply,
                Reached::There(response, carried) => {
                    return Ok((response, carried.map(Accepted::Elsewhere)))
                }
            };
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
            Ok((response, Some(Accepted::Here { socket, owner })))
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
            let kind = Kind::Call { method, payload };
            let reply = Calls::send(registry, target, chain, kind).await?;
            String::from_utf8(reply.response().body)
                .map_err(|_| error(ErrorCode::Failed, "the object's RPC result is not UTF-8"))
        })
    }
}
