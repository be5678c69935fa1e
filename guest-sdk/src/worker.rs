//! Workers: stateless components that receive the requests of the routes they own (the
//! config's `[worker]`) and reach objects through their bindings ([`crate::binding`]).
//!
//! ```ignore
//! struct Gateway;
//!
//! impl wdo_sdk::Worker for Gateway {
//!     fn fetch(request: wdo_sdk::Request) -> Result<wdo_sdk::Response, wdo_sdk::Error> {
//!         let counter = wdo_sdk::binding("COUNTER").get_by_name("total")?;
//!         let count: i64 = counter.call("increment", &(1,))?;
//!         Ok(wdo_sdk::Response::json(&count))
//!     }
//! }
//!
//! wdo_sdk::export_worker!(Gateway);
//! ```

use crate::bindings::wdo::object::types as wit;
use crate::{Error, Request, Response};

/// A Worker's request handler. A worker has no storage and no state between requests: each
/// request may run in a new instance.
pub trait Worker: 'static {
    /// Handles a request; the URL is the whole path and query, e.g. `/api/count?x=1`.
    /// `Err(e)` is answered with `e`'s status and `{"error": message}`.
    fn fetch(request: Request) -> Result<Response, Error>;
}

/// The worker's `fetch-handler.fetch` export.
pub fn fetch<T: Worker>(request: wit::Request) -> wit::Response {
    T::fetch(Request::from(request))
        .unwrap_or_else(Response::from)
        .into()
}

/// Exports a [`Worker`] implementation as the component's handler. Once per component.
///
/// The component is built against the same WIT world as objects; it imports only what it
/// uses (`namespaces`), which a worker may, and the host calls only its `fetch`. The
/// other handlers answer that a worker has none.
#[macro_export]
macro_rules! export_worker {
    ($worker:ty) => {
        const _: () = {
            struct Exports;

            impl $crate::__private::FetchHandler for Exports {
                fn fetch(request: $crate::__private::WitRequest) -> $crate::__private::WitResponse {
                    $crate::__private::worker_fetch::<$worker>(request)
                }
            }

            impl $crate::__private::AlarmHandler for Exports {
                fn alarm(
                    _: $crate::__private::WitAlarmInfo,
                ) -> ::core::result::Result<(), ::std::string::String> {
                    ::core::result::Result::Err("a worker has no alarm".into())
                }
            }

            impl $crate::__private::WebSocketHandler for Exports {
                fn websocket_message(
                    _: u64,
                    _: $crate::__private::WitMessage,
                ) -> ::core::result::Result<(), ::std::string::String> {
                    ::core::result::Result::Err("a worker has no sockets".into())
                }

                fn websocket_close(
                    _: u64,
                    _: u16,
                    _: ::std::string::String,
                    _: bool,
                ) -> ::core::result::Result<(), ::std::string::String> {
                    ::core::result::Result::Err("a worker has no sockets".into())
                }

                fn websocket_error(
                    _: u64,
                    _: ::std::string::String,
                ) -> ::core::result::Result<(), ::std::string::String> {
                    ::core::result::Result::Err("a worker has no sockets".into())
                }
            }

            impl $crate::__private::RpcHandler for Exports {
                fn call(
                    _: ::std::string::String,
                    _: ::std::string::String,
                ) -> ::core::result::Result<::std::string::String, ::std::string::String> {
                    ::core::result::Result::Err("a worker has no RPC methods".into())
                }
            }

            $crate::__private::export! { Exports with_types_in $crate::bindings }
        };
    };
}
