//! Outbound HTTP (`wasi:http/outgoing-handler`) from objects and workers: a request goes
//! out only to a host its component's `allowed-outbound-hosts` names (else it fails with
//! `HTTP-request-denied` before any connection is made), with timeouts the guest may
//! shorten but not lengthen, and a bound on the connections open at once (per instance and
//! per host) beyond which requests fail with `connection-limit-reached`.

use std::future::Future;
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use http_body_util::BodyExt;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use wasmtime_wasi_http::{Error, RequestOptions, WasiBody, WasiHttpHooks};

use crate::config::OutboundRule;

/// Outbound connections one instance may have open at once.
pub const MAX_INSTANCE_CONNECTIONS: usize = 64;
/// Outbound connections the whole host may have open at once.
pub const MAX_HOST_CONNECTIONS: usize = 4096;
/// The longest a connection may take to open.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// The longest wait for a response's first byte, and between two of its body's frames.
const READ_TIMEOUT: Duration = Duration::from_secs(60);
/// Refused requests an instance logs; later ones still fail, silently.
const REFUSALS_LOGGED: u32 = 3;

static HOST_CONNECTIONS: LazyLock<Arc<Semaphore>> =
    LazyLock::new(|| Arc::new(Semaphore::new(MAX_HOST_CONNECTIONS)));

/// The wasi:http state of one instance: its allowed hosts and open connections.
pub struct Outbound {
    rules: Arc<[OutboundRule]>,
    /// Who sends (for the log): `namespace counter object <id>` or `worker api`.
    who: Arc<str>,
    connections: Arc<Semaphore>,
    refusals_logged: u32,
}

impl Outbound {
    pub fn new(rules: Arc<[OutboundRule]>, who: Arc<str>) -> Outbound {
        Outbound {
            rules,
            who,
            connections: Arc::new(Semaphore::new(MAX_INSTANCE_CONNECTIONS)),
            refusals_logged: 0,
        }
    }

    fn allowed(&self, scheme: &str, authority: &str) -> bool {
        self.rules.iter().any(|rule| rule.allows(scheme, authority))
    }

    fn refuse(&mut self, url: &str) -> Error {
        if self.refusals_logged < REFUSALS_LOGGED {
            self.refusals_logged += 1;
            tracing::warn!(
                "{}: outbound request to {url} refused: its host is not in allowed-outbound-hosts",
                self.who
            );
        }
        Error::HttpRequestDenied
    }

    /// A place for one more connection, of this instance's and of the host's.
    fn connection_permits(&self) -> Option<(OwnedSemaphorePermit, OwnedSemaphorePermit)> {
        let mine = self.connections.clone().try_acquire_owned().ok()?;
        let host = HOST_CONNECTIONS.clone().try_acquire_owned().ok()?;
        Some((mine, host))
    }
}

/// The guest's timeout, or ours when it set none or a longer one.
fn at_most(asked: Option<Duration>, bound: Duration) -> Option<Duration> {
    Some(asked.map_or(bound, |asked| asked.min(bound)))
}

type Sent = wasmtime_wasi_http::Result<(
    hyper::http::Response<WasiBody>,
    Box<dyn Future<Output = Result<(), Error>> + Send>,
)>;

impl WasiHttpHooks for Outbound {
    fn send_request(
        &mut self,
        request: hyper::http::Request<WasiBody>,
        options: Option<RequestOptions>,
        fut: Box<dyn Future<Output = Result<(), Error>> + Send>,
    ) -> Box<dyn Future<Output = Sent> + Send> {
        drop(fut);
        let uri = request.uri();
        let scheme = uri.scheme_str().unwrap_or("https").to_owned();
        let authority = uri.authority().map(|a| a.as_str().to_owned());
        let allowed = authority
            .as_deref()
            .is_some_and(|authority| self.allowed(&scheme, authority));
        if !allowed {
            let error = self.refuse(&uri.to_string());
            return Box::new(async move { Err(error) });
        }
        let Some(permits) = self.connection_permits() else {
            tracing::warn!(
                "{}: outbound request refused: {MAX_INSTANCE_CONNECTIONS} connections of this \
                 instance or {MAX_HOST_CONNECTIONS} of the host are open",
                self.who
            );
            return Box::new(async { Err(Error::ConnectionLimitReached) });
        };
        let asked = options.unwrap_or_default();
        let options = RequestOptions {
            connect_timeout: at_most(asked.connect_timeout, CONNECT_TIMEOUT),
            first_byte_timeout: at_most(asked.first_byte_timeout, READ_TIMEOUT),
            between_bytes_timeout: at_most(asked.between_bytes_timeout, READ_TIMEOUT),
        };
        Box::new(async move {
            let (response, io) =
                wasmtime_wasi_http::default_send_request(request, Some(options)).await?;
            // The places are held for as long as the connection is open.
            let io = async move {
                let result = io.await;
                drop(permits);
                result
            };
            Ok((
                response.map(BodyExt::boxed_unsync),
                Box::new(io) as Box<dyn Future<Output = Result<(), Error>> + Send>,
            ))
        })
    }
}
