//! Cluster mode: a stub's request or RPC call for an object another node owns is sent to
//! that node (the edge carries it: a [`Remote`], handed in at start), where it is delivered
//! to the object like a call made there. A call that arrives from another node is run on
//! the object here or not at all: it is never sent on, and one the object did not receive
//! (this node does not own the object, or cannot serve it now) says so, so the caller may
//! send it again.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use super::calls::Kind;
use super::registry::Registry;
use crate::cluster::Owner;
use crate::guest::bindings::namespaces::{Error, ErrorCode};
use crate::guest::bindings::Response;
use crate::guest::{Carried, Target};
use crate::ids::ObjectId;

/// A call for an object, as it travels between nodes: names, not this node's indexes.
pub struct RemoteCall {
    pub namespace: String,
    pub id: ObjectId,
    pub name: Option<String>,
    /// The objects waiting, up the chain of calls, for this one (namespace, id).
    pub chain: Vec<(String, ObjectId)>,
    pub kind: Kind,
}

/// Why a call sent to another node has no answer.
#[derive(Debug)]
pub enum RemoteError {
    /// The object did not receive it (that node does not own it, or cannot serve it now,
    /// or could not be reached): it may be sent again.
    NotRun(Error),
    /// It may have run: the error is the caller's.
    Failed(Error),
}

pub type RemoteAnswer<T = Response> = Pin<Box<dyn Future<Output = Result<T, RemoteError>> + Send>>;

/// Sends calls to other nodes (the edge implements it).
pub trait Remote: Send + Sync {
    /// Sends `call` to the node that owns its object. An RPC call's result is the body of
    /// the response.
    fn send(&self, owner: &Owner, call: RemoteCall) -> RemoteAnswer;

    /// Sends a stub's WebSocket upgrade request (`call` is a fetch) to the node that owns its
    /// object: the object's answer, and if it accepted, the connection to that node.
    fn upgrade(
        &self,
        owner: &Owner,
        call: RemoteCall,
    ) -> RemoteAnswer<(Response, Option<Box<dyn Carried>>)>;
}

impl Registry {
    /// Cluster mode: how calls reach other nodes (once, at start).
    pub fn set_remote(&self, remote: Arc<dyn Remote>) {
        let _ = self.remote.set(remote);
    }

    pub(super) fn remote(&self) -> Option<&Arc<dyn Remote>> {
        self.remote.get()
    }

    /// Runs a call another node sent on the object here.
    pub async fn serve_remote(self: &Arc<Self>, call: RemoteCall) -> Result<Response, RemoteError> {
        let invalid = |message: String| {
            RemoteError::Failed(Error {
                code: ErrorCode::InvalidArgument,
                message,
            })
        };
        let apps = self.apps.get().ok_or_else(|| {
            RemoteError::NotRun(Error {
                code: ErrorCode::Unavailable,
                message: "the node is starting".into(),
            })
        })?;
        let index_of = |namespace: &str| {
            apps.namespaces
                .iter()
                .position(|n| &*n.name == namespace)
                .ok_or_else(|| {
                    invalid(format!(
                        "this node serves no namespace {namespace:?} (do the nodes run one config?)"
                    ))
                })
        };
        let ns_index = index_of(&call.namespace)?;
        let mut chain = Vec::with_capacity(call.chain.len());
        for (namespace, id) in &call.chain {
            chain.push((index_of(namespace)?, *id));
        }
        let target = Target {
            ns_index,
            namespace: apps.namespaces[ns_index].name.clone(),
            id: call.id,
            name: call.name,
        };
        super::calls::here_for_remote(self, target, chain.into(), call.kind).await
    }
}
