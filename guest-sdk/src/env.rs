//! The component's `env`: bindings to other objects' namespaces, plain variables, ids and
//! stubs (the WIT `namespaces` interface).
//!
//! ```no_run
//! # fn demo() -> Result<(), wdo_sdk::RpcError> {
//! let counters = wdo_sdk::binding("COUNTER");
//! let stub = counters.get_by_name("alice")?;
//! let total: i64 = stub.call("increment", &(5,))?;
//! # Ok(()) }
//! ```
//!
//! A call is an event of the callee: it runs in its own turn and is committed before the
//! answer returns. What the callee committed stays if the caller's event is later rolled
//! back, as with any effect outside the caller's own storage.

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::bindings::wdo::object::namespaces as wit;
use crate::bindings::wdo::object::types as wit_types;
use crate::{Error, Response};

/// Why a stub's call or request failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RpcErrorCode {
    /// No such binding, a malformed or foreign id, an unknown method.
    InvalidArgument,
    /// The callee failed (its error, trap, or CPU limit); the message is its.
    Failed,
    /// The call would reach an object that is waiting on this very call (A → B → A).
    Cycle,
    /// No answer within the host's call timeout.
    Timeout,
    /// The callee or the host is overloaded or shutting down.
    Unavailable,
}

impl RpcErrorCode {
    /// The code as WIT and the other SDKs spell it: `"invalid-argument"`, `"failed"`,
    /// `"cycle"`, `"timeout"` or `"unavailable"`.
    pub fn as_str(self) -> &'static str {
        match self {
            RpcErrorCode::InvalidArgument => "invalid-argument",
            RpcErrorCode::Failed => "failed",
            RpcErrorCode::Cycle => "cycle",
            RpcErrorCode::Timeout => "timeout",
            RpcErrorCode::Unavailable => "unavailable",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RpcError {
    pub code: RpcErrorCode,
    pub message: String,
}

impl std::fmt::Display for RpcError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for RpcError {}

impl From<wit::Error> for RpcError {
    fn from(error: wit::Error) -> Self {
        let code = match error.code {
            wit::ErrorCode::InvalidArgument => RpcErrorCode::InvalidArgument,
            wit::ErrorCode::Failed => RpcErrorCode::Failed,
            wit::ErrorCode::Cycle => RpcErrorCode::Cycle,
            wit::ErrorCode::Timeout => RpcErrorCode::Timeout,
            wit::ErrorCode::Unavailable => RpcErrorCode::Unavailable,
        };
        RpcError {
            code,
            message: error.message,
        }
    }
}

/// With `?` in a fetch handler, an RPC error answers 502 (504 on a timeout, 503 when the
/// callee is unavailable, 400 for a bad argument) with its message; the caller's own writes
/// are kept, as with any error the handler returns.
impl From<RpcError> for Error {
    fn from(error: RpcError) -> Self {
        let status = match error.code {
            RpcErrorCode::InvalidArgument => 400,
            RpcErrorCode::Timeout => 504,
            RpcErrorCode::Unavailable => 503,
            RpcErrorCode::Failed | RpcErrorCode::Cycle => 502,
        };
        Error::new(status, error.message)
    }
}

/// An object's id within one binding's namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectId {
    hex: String,
    name: Option<String>,
}

impl ObjectId {
    /// The name it was made from (`id_from_name`), if any.
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }
}

impl std::fmt::Display for ObjectId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.hex)
    }
}

/// One binding of the component (a namespace of objects).
#[derive(Debug, Clone)]
pub struct Namespace {
    binding: String,
}

/// The binding called `name` in the config (e.g. `"COUNTER"`). Checked on first use: an
/// unknown binding makes every call fail with `InvalidArgument`.
pub fn binding(name: &str) -> Namespace {
    Namespace {
        binding: name.to_owned(),
    }
}

/// The component's plain variables.
pub fn vars() -> Vec<(String, String)> {
    wit::vars()
}

/// The variable `name`, if it is set.
pub fn var(name: &str) -> Option<String> {
    vars().into_iter().find(|(k, _)| k == name).map(|(_, v)| v)
}

impl Namespace {
    pub fn id_from_name(&self, name: &str) -> Result<ObjectId, RpcError> {
        Ok(ObjectId {
            hex: wit::id_from_name(&self.binding, name)?,
            name: Some(name.to_owned()),
        })
    }

    pub fn new_unique_id(&self) -> Result<ObjectId, RpcError> {
        Ok(ObjectId {
            hex: wit::new_unique_id(&self.binding)?,
            name: None,
        })
    }

    /// Verifies that `hex` is an id of this namespace.
    pub fn id_from_string(&self, hex: &str) -> Result<ObjectId, RpcError> {
        Ok(ObjectId {
            hex: wit::id_from_string(&self.binding, hex)?,
            name: None,
        })
    }

    pub fn get(&self, id: &ObjectId) -> Result<Stub, RpcError> {
        let stub = wit::Stub::get(&self.binding, &id.hex, id.name.as_deref())?;
        Ok(Stub { stub })
    }

    pub fn get_by_name(&self, name: &str) -> Result<Stub, RpcError> {
        self.get(&self.id_from_name(name)?)
    }
}

/// A handle on one object.
pub struct Stub {
    stub: wit::Stub,
}

impl Stub {
    pub fn id(&self) -> String {
        self.stub.id()
    }

    /// Calls RPC method `method` with `args` (serialized as a JSON array: pass a tuple such
    /// as `&(5,)` or `&("bob", 3)`, or `&()` for none) and decodes its JSON result.
    pub fn call<A: Serialize, R: DeserializeOwned>(
        &self,
        method: &str,
        args: &A,
    ) -> Result<R, RpcError> {
        let bad = |message: String| RpcError {
            code: RpcErrorCode::InvalidArgument,
            message,
        };
        let mut payload = serde_json::to_value(args).map_err(|e| bad(e.to_string()))?;
        if payload.is_null() {
            payload = serde_json::Value::Array(Vec::new());
        }
        if !payload.is_array() {
            payload = serde_json::Value::Array(vec![payload]);
        }
        let result = self.stub.call(method, &payload.to_string())?;
        serde_json::from_str(&result).map_err(|e| RpcError {
            code: RpcErrorCode::Failed,
            message: format!("the result of {method:?} does not decode: {e}"),
        })
    }

    /// Sends an HTTP request to the object's `fetch`; `url` is the path inside the object,
    /// e.g. `"/increment?by=2"`.
    pub fn fetch(
        &self,
        method: &str,
        url: &str,
        headers: &[(&str, &str)],
        body: impl Into<Vec<u8>>,
    ) -> Result<Response, RpcError> {
        let request = wit_types::Request {
            method: method.to_ascii_uppercase(),
            url: url.to_owned(),
            headers: headers
                .iter()
                .map(|(k, v)| (k.to_ascii_lowercase(), (*v).to_owned()))
                .collect(),
            body: body.into(),
        };
        let answer = self.stub.fetch(&request)?;
        let mut response = Response::bytes(answer.body).with_status(answer.status);
        for (name, value) in answer.headers {
            response = response.with_header(&name, &value);
        }
        Ok(response)
    }
}

/// Decodes an RPC call's arguments (a JSON array) into a tuple or struct, answering 400
/// with what was wrong otherwise: `let (player, score): (String, i64) = rpc_args(args)?;`
pub fn rpc_args<T: DeserializeOwned>(args: serde_json::Value) -> Result<T, Error> {
    serde_json::from_value(args).map_err(|e| Error::bad_request(format!("bad arguments: {e}")))
}
