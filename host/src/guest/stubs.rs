//! The host side of the WIT `namespaces` interface: a component's bindings and vars, ids,
//! and stubs on other objects. Shared by objects and workers ([`StubCtx`] is part of both
//! stores). Reaching the callee is the objects layer's business: it is handed in as a
//! [`Directory`], so this layer never imports the registry.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use wasmtime::component::{Resource, ResourceTable};

use super::bindings::namespaces::{self, Error, ErrorCode};
use super::bindings::{Request, Response};
use crate::ids::{IdKey, Key, ObjectId};
use crate::websocket::{Owner, PendingSocket};

/// Most stubs one instance may hold at once.
pub const MAX_STUBS: usize = 10_000;
/// Longest RPC method name, and largest payload or request body sent through a stub.
pub const MAX_METHOD_CHARS: usize = 256;
pub const MAX_PAYLOAD_BYTES: usize = 32 << 20;

/// One binding: its name in `env`, and the namespace it reaches.
#[derive(Clone)]
pub struct Binding {
    pub name: String,
    pub namespace: Arc<str>,
    pub ns_index: usize,
    pub id_key: IdKey,
}

/// What a component finds in its `env`.
#[derive(Clone, Default)]
pub struct Env {
    pub bindings: Vec<Binding>,
    pub vars: Vec<(String, String)>,
}

/// The objects waiting, up the chain of calls, for the event being handled: a call into
/// one of them could never be answered.
pub type Chain = Arc<[Key]>;

/// The object a stub reaches.
#[derive(Clone, Debug)]
pub struct Target {
    pub ns_index: usize,
    pub namespace: Arc<str>,
    pub id: ObjectId,
    pub name: Option<String>,
}

pub type Answer<T> = Pin<Box<dyn Future<Output = Result<T, Error>> + Send>>;

/// A WebSocket an object accepted for an upgrade request a worker forwarded: the front
/// completes the upgrade if the worker answers with the object's 101.
pub enum Accepted {
    /// The object is on this host: the socket is its.
    Here { socket: PendingSocket, owner: Owner },
    /// Cluster mode: the object is on another node, which took the upgrade; this is the
    /// connection to it, upgraded, which the front joins to the client's.
    Elsewhere(Box<dyn Carried>),
}

/// A connection that carries a socket to the node that owns it.
pub trait Carried: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin {}

impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + Unpin> Carried for T {}

/// Delivers a stub's requests and calls to their objects (the objects layer implements it).
pub trait Directory: Send + Sync {
    /// `upgrade`: the request is a WebSocket upgrade the object may accept.
    fn fetch(
        &self,
        target: Target,
        request: Request,
        upgrade: bool,
        chain: Chain,
    ) -> Answer<(Response, Option<Accepted>)>;
    fn call(&self, target: Target, method: String, payload: String, chain: Chain)
        -> Answer<String>;
}

/// A guest's stub (the WIT resource `stub`).
pub struct Stub {
    target: Target,
}

/// The part of a store that `namespaces` works on.
pub struct StubCtx {
    env: Arc<Env>,
    directory: Arc<dyn Directory>,
    /// The chain of the event being handled, with this object (if it is one) at its end.
    pub chain: Chain,
    table: ResourceTable,
    stubs: usize,
    /// A worker handling a WebSocket upgrade request may forward it (once) to an object.
    pub upgrade_allowed: bool,
    accepted: Option<Accepted>,
}

pub fn error(code: ErrorCode, message: impl Into<String>) -> Error {
    Error {
        code,
        message: message.into(),
    }
}

impl StubCtx {
    pub fn new(env: Arc<Env>, directory: Arc<dyn Directory>) -> StubCtx {
        StubCtx {
            env,
            directory,
            chain: Arc::new([]),
            table: ResourceTable::new(),
            stubs: 0,
            upgrade_allowed: false,
            accepted: None,
        }
    }

    /// Stubs the instance holds (made and not dropped).
    pub fn held(&self) -> usize {
        self.stubs
    }

    /// The socket an object accepted for a forwarded upgrade request, if any.
    pub fn take_accepted(&mut self) -> Option<Accepted> {
        self.accepted.take()
    }

    fn binding(&self, name: &str) -> Result<&Binding, Error> {
        self.env
            .bindings
            .iter()
            .find(|b| b.name == name)
            .ok_or_else(|| {
                let known: Vec<&str> = self.env.bindings.iter().map(|b| b.name.as_str()).collect();
                error(
                    ErrorCode::InvalidArgument,
                    format!("no binding named {name:?} (this component has: {known:?})"),
                )
            })
    }

    fn parse(&self, binding: &str, id: &str) -> Result<(&Binding, ObjectId), Error> {
        let binding = self.binding(binding)?;
        let id = binding
            .id_key
            .parse(&id.to_ascii_lowercase())
            .map_err(|e| error(ErrorCode::InvalidArgument, format!("{e}: {id:?}")))?;
        Ok((binding, id))
    }

    fn target(&self, stub: &Resource<Stub>) -> wasmtime::Result<Target> {
        Ok(self.table.get(stub)?.target.clone())
    }
}

type Answered<T> = wasmtime::Result<Result<T, Error>>;

impl namespaces::Host for StubCtx {
    async fn bindings(&mut self) -> wasmtime::Result<Vec<(String, String)>> {
        let env = &self.env;
        Ok(env
            .bindings
            .iter()
            .map(|b| (b.name.clone(), b.namespace.to_string()))
            .collect())
    }

    async fn vars(&mut self) -> wasmtime::Result<Vec<(String, String)>> {
        Ok(self.env.vars.clone())
    }

    async fn id_from_name(&mut self, binding: String, name: String) -> Answered<String> {
        Ok(self
            .binding(&binding)
            .map(|b| b.id_key.id_from_name(&name).to_string()))
    }

    async fn new_unique_id(&mut self, binding: String) -> Answered<String> {
        Ok(self
            .binding(&binding)
            .map(|b| b.id_key.new_unique_id().to_string()))
    }

    async fn id_from_string(&mut self, binding: String, id: String) -> Answered<String> {
        Ok(self.parse(&binding, &id).map(|(_, id)| id.to_string()))
    }
}

impl namespaces::HostStub for StubCtx {
    async fn get(
        &mut self,
        binding: String,
        id: String,
        name: Option<String>,
    ) -> Answered<Resource<Stub>> {
        let (binding, parsed) = match self.parse(&binding, &id) {
            Ok(found) => found,
            Err(e) => return Ok(Err(e)),
        };
        if let Some(name) = &name {
            if binding.id_key.id_from_name(name) != parsed {
                return Ok(Err(error(
                    ErrorCode::InvalidArgument,
                    format!("id {id} is not the id of the name {name:?}"),
                )));
            }
        }
        let target = Target {
            ns_index: binding.ns_index,
            namespace: binding.namespace.clone(),
            id: parsed,
            name,
        };
        if self.stubs >= MAX_STUBS {
            return Ok(Err(error(
                ErrorCode::InvalidArgument,
                format!("too many stubs: an instance may hold at most {MAX_STUBS}; drop some"),
            )));
        }
        let stub = self.table.push(Stub { target })?;
        self.stubs += 1;
        Ok(Ok(stub))
    }

    async fn id(&mut self, stub: Resource<Stub>) -> wasmtime::Result<String> {
        Ok(self.target(&stub)?.id.to_string())
    }

    async fn fetch(&mut self, stub: Resource<Stub>, request: Request) -> Answered<Response> {
        let target = self.target(&stub)?;
        if request.body.len() > MAX_PAYLOAD_BYTES {
            return Ok(Err(error(
                ErrorCode::InvalidArgument,
                format!("the request body is over {MAX_PAYLOAD_BYTES} bytes"),
            )));
        }
        if !request.url.starts_with('/') {
            return Ok(Err(error(
                ErrorCode::InvalidArgument,
                format!(
                    "the url {:?} must be a path inside the object, beginning with /",
                    request.url
                ),
            )));
        }
        let upgrade = self.upgrade_allowed
            && self.accepted.is_none()
            && request.headers.iter().any(|(name, value)| {
                name.eq_ignore_ascii_case("upgrade") && value.eq_ignore_ascii_case("websocket")
            });
        let answer = self
            .directory
            .fetch(target, request, upgrade, self.chain.clone());
        Ok(answer.await.map(|(response, accepted)| {
            if accepted.is_some() {
                self.accepted = accepted;
            }
            response
        }))
    }

    async fn call(
        &mut self,
        stub: Resource<Stub>,
        method: String,
        payload: String,
    ) -> Answered<String> {
        let target = self.target(&stub)?;
        if method.is_empty() || method.len() > MAX_METHOD_CHARS {
            return Ok(Err(error(
                ErrorCode::InvalidArgument,
                format!("a method name must have 1 to {MAX_METHOD_CHARS} characters"),
            )));
        }
        if payload.len() > MAX_PAYLOAD_BYTES {
            return Ok(Err(error(
                ErrorCode::InvalidArgument,
                format!("the payload is over {MAX_PAYLOAD_BYTES} bytes"),
            )));
        }
        let answer = self
            .directory
            .call(target, method, payload, self.chain.clone());
        Ok(answer.await)
    }

    async fn drop(&mut self, stub: Resource<Stub>) -> wasmtime::Result<()> {
        self.table.delete(stub)?;
        self.stubs -= 1;
        Ok(())
    }
}
