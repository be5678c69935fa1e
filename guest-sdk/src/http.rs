//! Outbound HTTP requests from an object or a worker, through `wasi:http`. The host sends
//! them only to the hosts its config allows (`allowed-outbound-hosts`; none by default).
//!
//! ```no_run
//! # fn f() -> Result<(), wdo_sdk::http::FetchError> {
//! use wdo_sdk::http;
//! let quote = http::get("http://127.0.0.1:8080/quote")?.text()?;
//! let answer = http::Request::post("http://127.0.0.1:8080/orders")
//!     .header("content-type", "application/json")
//!     .body(br#"{"item": 1}"#.to_vec())
//!     .send()?;
//! assert_eq!(answer.status(), 201);
//! # Ok(()) }
//! ```
//!
//! A request made during an event can reveal what the event wrote so far: those writes are
//! rolled back if the event later fails, but the request has been sent (see the README's
//! guarantees).

use std::fmt;

use wasip2::http::outgoing_handler;
use wasip2::http::types::{
    ErrorCode, Fields, IncomingBody, Method, OutgoingBody, OutgoingRequest, Scheme,
};
use wasip2::io::streams::StreamError;

/// The largest response body read, in bytes; a larger one is an error.
pub const MAX_RESPONSE_BODY: usize = 32 << 20;

/// Why a request got no response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchError {
    url: String,
    message: String,
    refused: bool,
}

impl FetchError {
    fn new(url: &str, message: impl Into<String>) -> FetchError {
        FetchError {
            url: url.to_owned(),
            message: message.into(),
            refused: false,
        }
    }

    /// The host refused to send it: its host is not in `allowed-outbound-hosts`.
    pub fn is_refused(&self) -> bool {
        self.refused
    }

    pub fn url(&self) -> &str {
        &self.url
    }
}

impl fmt::Display for FetchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "request to {} failed: {}", self.url, self.message)
    }
}

impl std::error::Error for FetchError {}

/// A 502 (Bad Gateway) with the error's message, for `?` in a handler.
impl From<FetchError> for crate::Error {
    fn from(e: FetchError) -> crate::Error {
        crate::Error::new(502, e.to_string())
    }
}

/// An outbound request being built.
#[derive(Debug, Clone)]
pub struct Request {
    method: String,
    url: String,
    headers: Vec<(String, String)>,
    body: Option<Vec<u8>>,
}

impl Request {
    /// A request with any method (`"PATCH"`, ...) to an absolute `http://` or `https://` URL.
    pub fn new(method: &str, url: &str) -> Request {
        Request {
            method: method.to_owned(),
            url: url.to_owned(),
            headers: Vec::new(),
            body: None,
        }
    }

    pub fn get(url: &str) -> Request {
        Request::new("GET", url)
    }

    pub fn post(url: &str) -> Request {
        Request::new("POST", url)
    }

    pub fn put(url: &str) -> Request {
        Request::new("PUT", url)
    }

    pub fn delete(url: &str) -> Request {
        Request::new("DELETE", url)
    }

    pub fn header(mut self, name: &str, value: &str) -> Request {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Request {
        self.body = Some(body.into());
        self
    }

    /// A JSON body, with `content-type: application/json`.
    pub fn json<T: serde::Serialize>(self, value: &T) -> Request {
        let body = serde_json::to_vec(value).expect("a serializable value");
        self.header("content-type", "application/json").body(body)
    }

    /// Sends it and reads the whole response (waiting, not counted as CPU time).
    pub fn send(self) -> Result<Response, FetchError> {
        send(self)
    }
}

/// `GET url`.
pub fn get(url: &str) -> Result<Response, FetchError> {
    Request::get(url).send()
}

/// A response, read whole.
#[derive(Debug, Clone)]
pub struct Response {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Response {
    pub fn status(&self) -> u16 {
        self.status
    }

    /// Headers as received (names lower-case).
    pub fn headers(&self) -> &[(String, String)] {
        &self.headers
    }

    /// The first value of header `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn body(&self) -> &[u8] {
        &self.body
    }

    pub fn into_body(self) -> Vec<u8> {
        self.body
    }

    /// The body as UTF-8 (invalid bytes are an error).
    pub fn text(&self) -> Result<String, FetchError> {
        String::from_utf8(self.body.clone())
            .map_err(|_| FetchError::new("", "the response body is not UTF-8"))
    }

    /// The body as JSON.
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> Result<T, FetchError> {
        serde_json::from_slice(&self.body).map_err(|e| {
            FetchError::new(
                "",
                format!("the response body is not the JSON expected: {e}"),
            )
        })
    }
}

fn send(request: Request) -> Result<Response, FetchError> {
    let url = request.url.clone();
    let fail = |message: String| FetchError::new(&url, message);
    let (scheme, rest) = match url.split_once("://") {
        Some(("http", rest)) => (Scheme::Http, rest),
        Some(("https", rest)) => (Scheme::Https, rest),
        _ => return Err(fail("the URL must begin with http:// or https://".into())),
    };
    let (authority, path) = match rest.find(['/', '?']) {
        Some(at) if rest.as_bytes()[at] == b'/' => (&rest[..at], rest[at..].to_owned()),
        Some(at) => (&rest[..at], format!("/{}", &rest[at..])),
        None => (rest, "/".to_owned()),
    };
    if authority.is_empty() {
        return Err(fail("the URL has no host".into()));
    }
    let mut entries = Vec::new();
    for (name, value) in &request.headers {
        entries.push((name.clone(), value.as_bytes().to_vec()));
    }
    let headers = Fields::from_list(&entries)
        .map_err(|e| fail(format!("a header is not allowed or not valid: {e:?}")))?;
    let outgoing = OutgoingRequest::new(headers);
    let method = match request.method.to_ascii_uppercase().as_str() {
        "GET" => Method::Get,
        "HEAD" => Method::Head,
        "POST" => Method::Post,
        "PUT" => Method::Put,
        "DELETE" => Method::Delete,
        "OPTIONS" => Method::Options,
        "PATCH" => Method::Patch,
        other => Method::Other(other.to_owned()),
    };
    let bad = |what: &str| fail(format!("the {what} is not valid"));
    outgoing.set_method(&method).map_err(|()| bad("method"))?;
    outgoing
        .set_scheme(Some(&scheme))
        .map_err(|()| bad("scheme"))?;
    outgoing
        .set_authority(Some(authority))
        .map_err(|()| bad("host"))?;
    outgoing
        .set_path_with_query(Some(&path))
        .map_err(|()| bad("path"))?;
    let body = outgoing
        .body()
        .map_err(|()| fail("no request body".into()))?;
    let pending = outgoing_handler::handle(outgoing, None).map_err(|e| describe(&url, e))?;
    if let Some(bytes) = &request.body {
        let stream = body
            .write()
            .map_err(|()| fail("no request body stream".into()))?;
        for chunk in bytes.chunks(4096) {
            if let Err(e) = stream.blocking_write_and_flush(chunk) {
                // The host dropped the body because the request failed (refused, say):
                // its reason says more than the stream's.
                pending.subscribe().block();
                return Err(match pending.get() {
                    Some(Ok(Err(code))) => describe(&url, code),
                    _ => fail(stream_error(e)),
                });
            }
        }
        drop(stream);
    }
    OutgoingBody::finish(body, None).map_err(|e| describe(&url, e))?;
    pending.subscribe().block();
    let response = match pending.get() {
        Some(Ok(Ok(response))) => response,
        Some(Ok(Err(e))) => return Err(describe(&url, e)),
        Some(Err(())) | None => return Err(fail("the response was lost".into())),
    };
    let status = response.status();
    let headers = response
        .headers()
        .entries()
        .into_iter()
        .map(|(name, value)| (name, String::from_utf8_lossy(&value).into_owned()))
        .collect();
    let incoming = response
        .consume()
        .map_err(|()| fail("no response body".into()))?;
    let body = read_body(&incoming).map_err(fail)?;
    drop(response);
    IncomingBody::finish(incoming);
    Ok(Response {
        status,
        headers,
        body,
    })
}

fn read_body(incoming: &IncomingBody) -> Result<Vec<u8>, String> {
    let stream = incoming
        .stream()
        .map_err(|()| "no response body stream".to_owned())?;
    let mut body = Vec::new();
    loop {
        match stream.blocking_read(64 << 10) {
            Ok(chunk) => {
                if body.len() + chunk.len() > MAX_RESPONSE_BODY {
                    return Err(format!(
                        "the response body is over {MAX_RESPONSE_BODY} bytes"
                    ));
                }
                body.extend_from_slice(&chunk);
            }
            Err(StreamError::Closed) => return Ok(body),
            Err(e) => return Err(stream_error(e)),
        }
    }
}

fn stream_error(e: StreamError) -> String {
    match e {
        StreamError::Closed => "the connection closed".into(),
        StreamError::LastOperationFailed(e) => e.to_debug_string(),
    }
}

/// A wasi:http error code as a sentence.
fn describe(url: &str, code: ErrorCode) -> FetchError {
    let message = match &code {
        ErrorCode::HttpRequestDenied => {
            let mut e = FetchError::new(
                url,
                "the host refused it: its host is not in allowed-outbound-hosts",
            );
            e.refused = true;
            return e;
        }
        ErrorCode::ConnectionRefused => "the connection was refused".into(),
        ErrorCode::ConnectionTimeout => "the connection timed out".into(),
        ErrorCode::ConnectionLimitReached => "too many outbound connections are open".into(),
        ErrorCode::DnsError(_) | ErrorCode::DestinationNotFound => {
            "its host name did not resolve".into()
        }
        ErrorCode::HttpResponseTimeout | ErrorCode::ConnectionReadTimeout => {
            "no response in time".into()
        }
        ErrorCode::ConnectionTerminated => "the connection closed before the response".into(),
        ErrorCode::TlsCertificateError | ErrorCode::TlsProtocolError => {
            "TLS failed (certificate or protocol)".into()
        }
        other => format!("{other:?}"),
    };
    FetchError::new(url, message)
}
