//! The [`DurableObject`] trait and the [`export_object!`](crate::export_object) macro that
//! turns an implementation into the component's exports.

use std::cell::RefCell;
use std::thread::LocalKey;

use crate::bindings::wdo::object::{turn, types as wit};
use crate::{Error, Message, Request, Response, State, WebSocket};

/// A Durable Object: one instance per object id, handling its events one at a time.
///
/// Register the implementation with [`export_object!`](crate::export_object). Event
/// handlers other than [`new`](Self::new) and [`fetch`](Self::fetch) will be added to this
/// trait with default implementations, so existing objects keep compiling.
pub trait DurableObject: Sized + 'static {
    /// Creates the instance. Runs once per instance, lazily, at the start of the first event
    /// it receives (before that event's handler), so no event is handled before it returns.
    /// This is the place for the work Cloudflare objects do in `blockConcurrencyWhile` in
    /// their constructor: load state from storage, migrate data, set up caches.
    ///
    /// It runs inside the first event's turn, so its storage calls join that turn's
    /// transaction. If it panics, the guest traps: the turn is rolled back, the caller gets a
    /// 500, and the host starts a fresh instance for the next event.
    fn new(state: State) -> Self;

    /// Handles an HTTP request. `Err(e)` is answered with `e`'s status and the JSON body
    /// `{"error": message}`. A panic traps: the host rolls the turn back and answers 500.
    ///
    /// Returning an `Err` the handler made is an ordinary answer: the turn still commits, so
    /// writes made before it are kept. An `Err` that came from a storage or SQL call (through
    /// `?`) rolls the turn back instead; see [`Error::with_rollback`].
    fn fetch(&mut self, request: Request) -> Result<Response, Error>;

    /// Runs when the object's alarm is due (see [`Storage::set_alarm`](crate::Storage::set_alarm)).
    /// While it runs, [`Storage::get_alarm`](crate::Storage::get_alarm) returns `None` unless
    /// it sets a new alarm. On `Ok` the alarm is done; on `Err` (or a panic) the turn is
    /// rolled back and the alarm retried with exponential backoff (2 s, 4 s, 8 s, ..., at
    /// most 6 retries), `info.retry_count` telling how many attempts failed before.
    ///
    /// The default does nothing.
    fn alarm(&mut self, info: AlarmInfo) -> Result<(), Error> {
        let _ = info;
        Ok(())
    }

    /// A message from one of the object's sockets (messages of a socket arrive in order).
    /// If the object hibernated, [`new`](Self::new) runs first. `Err` or a panic rolls the
    /// event's writes back (and discards its sends). The default does nothing.
    fn websocket_message(&mut self, socket: WebSocket, message: Message) -> Result<(), Error> {
        let _ = (socket, message);
        Ok(())
    }

    /// A socket closed: by the client (`was_clean`), or abruptly (code 1006). Its tags and
    /// attachment are still readable here; it is no longer listed. The default does nothing.
    fn websocket_close(
        &mut self,
        socket: WebSocket,
        code: u16,
        reason: String,
        was_clean: bool,
    ) -> Result<(), Error> {
        let _ = (socket, code, reason, was_clean);
        Ok(())
    }

    /// A socket failed. The default does nothing.
    fn websocket_error(&mut self, socket: WebSocket, error: String) -> Result<(), Error> {
        let _ = (socket, error);
        Ok(())
    }

    /// An RPC call through a [`Stub`](crate::Stub): `method` with its JSON arguments (an
    /// array). Answer the JSON result; `Err` (or a panic) rolls the call's writes back and
    /// the caller gets the error's message. Match on `method` and decode the arguments with
    /// [`crate::rpc_args`]. The default knows no method.
    fn call(&mut self, method: &str, args: serde_json::Value) -> Result<serde_json::Value, Error> {
        let _ = args;
        Err(Error::not_found(format!("no RPC method {method:?}")))
    }
}

/// About the alarm being run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AlarmInfo {
    /// How many earlier attempts of this alarm failed.
    pub retry_count: u32,
    pub is_retry: bool,
    /// The time the alarm was set for, Unix milliseconds.
    pub scheduled_ms: u64,
}

/// Exports a [`DurableObject`] implementation as the component's handlers.
///
/// Use it once per component, at the crate's top level:
///
/// ```ignore
/// wdo_sdk::export_object!(Counter);
/// ```
#[macro_export]
macro_rules! export_object {
    ($object:ty) => {
        const _: () = {
            ::std::thread_local! {
                static OBJECT: ::core::cell::RefCell<::core::option::Option<$object>> =
                    const { ::core::cell::RefCell::new(::core::option::Option::None) };
            }

            struct Exports;

            impl $crate::__private::FetchHandler for Exports {
                fn fetch(request: $crate::__private::WitRequest) -> $crate::__private::WitResponse {
                    $crate::__private::fetch(&OBJECT, request)
                }
            }

            impl $crate::__private::AlarmHandler for Exports {
                fn alarm(
                    info: $crate::__private::WitAlarmInfo,
                ) -> ::core::result::Result<(), ::std::string::String> {
                    $crate::__private::alarm(&OBJECT, info)
                }
            }

            impl $crate::__private::WebSocketHandler for Exports {
                fn websocket_message(
                    socket: u64,
                    message: $crate::__private::WitMessage,
                ) -> ::core::result::Result<(), ::std::string::String> {
                    $crate::__private::websocket_message(&OBJECT, socket, message)
                }

                fn websocket_close(
                    socket: u64,
                    code: u16,
                    reason: ::std::string::String,
                    was_clean: bool,
                ) -> ::core::result::Result<(), ::std::string::String> {
                    $crate::__private::websocket_close(&OBJECT, socket, code, reason, was_clean)
                }

                fn websocket_error(
                    socket: u64,
                    error: ::std::string::String,
                ) -> ::core::result::Result<(), ::std::string::String> {
                    $crate::__private::websocket_error(&OBJECT, socket, error)
                }
            }

            impl $crate::__private::RpcHandler for Exports {
                fn call(
                    method: ::std::string::String,
                    payload: ::std::string::String,
                ) -> ::core::result::Result<::std::string::String, ::std::string::String> {
                    $crate::__private::call(&OBJECT, method, payload)
                }
            }

            $crate::__private::export! { Exports with_types_in $crate::bindings }
        };
    };
}

/// The instance of an exported object; `None` until its first event.
pub type Slot<T> = LocalKey<RefCell<Option<T>>>;

/// Runs `handler` on the instance in `slot`, creating it first if this is its first event.
fn with_object<T: DurableObject, R>(
    slot: &'static Slot<T>,
    handler: impl FnOnce(&mut T) -> R,
) -> R {
    slot.with(|cell| {
        let mut object = cell.borrow_mut();
        handler(object.get_or_insert_with(|| T::new(State::new())))
    })
}

/// The `fetch-handler.fetch` export.
pub fn fetch<T: DurableObject>(slot: &'static Slot<T>, request: wit::Request) -> wit::Response {
    let request = Request::from(request);
    with_object(slot, |object| object.fetch(request))
        .unwrap_or_else(|error| {
            if error.rolls_back() {
                turn::rollback(error.message());
            }
            Response::from(error)
        })
        .into()
}

/// The `alarm-handler.alarm` export.
pub fn alarm<T: DurableObject>(
    slot: &'static Slot<T>,
    info: crate::bindings::exports::wdo::object::alarm_handler::AlarmInfo,
) -> Result<(), String> {
    let info = AlarmInfo {
        retry_count: info.retry_count,
        is_retry: info.is_retry,
        scheduled_ms: info.scheduled_ms,
    };
    with_object(slot, |object| object.alarm(info)).map_err(|e| e.message().to_owned())
}

/// The `websocket-handler.websocket-message` export.
pub fn websocket_message<T: DurableObject>(
    slot: &'static Slot<T>,
    socket: u64,
    message: crate::bindings::wdo::object::websocket::Message,
) -> Result<(), String> {
    with_object(slot, |object| {
        object.websocket_message(WebSocket::from_id(socket), Message::from(message))
    })
    .map_err(|e| e.message().to_owned())
}

/// The `websocket-handler.websocket-close` export.
pub fn websocket_close<T: DurableObject>(
    slot: &'static Slot<T>,
    socket: u64,
    code: u16,
    reason: String,
    was_clean: bool,
) -> Result<(), String> {
    with_object(slot, |object| {
        object.websocket_close(WebSocket::from_id(socket), code, reason, was_clean)
    })
    .map_err(|e| e.message().to_owned())
}

/// The `websocket-handler.websocket-error` export.
pub fn websocket_error<T: DurableObject>(
    slot: &'static Slot<T>,
    socket: u64,
    error: String,
) -> Result<(), String> {
    with_object(slot, |object| {
        object.websocket_error(WebSocket::from_id(socket), error)
    })
    .map_err(|e| e.message().to_owned())
}

/// The `rpc-handler.call` export.
pub fn call<T: DurableObject>(
    slot: &'static Slot<T>,
    method: String,
    payload: String,
) -> Result<String, String> {
    let args: serde_json::Value = serde_json::from_str(&payload)
        .map_err(|e| format!("the arguments of {method:?} are not JSON: {e}"))?;
    let result = with_object(slot, |object| object.call(&method, args))
        .map_err(|e| e.message().to_owned())?;
    serde_json::to_string(&result).map_err(|e| format!("the result of {method:?}: {e}"))
}
