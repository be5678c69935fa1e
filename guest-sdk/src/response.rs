//! The HTTP response an object answers with.

use serde::Serialize;

use crate::bindings::wdo::object::types as wit;
use crate::Error;

/// A response: status, headers and body. Build one with a constructor and chain
/// [`with_status`](Self::with_status) / [`with_header`](Self::with_header):
///
/// ```no_run
/// # use wdo_sdk::Response;
/// let created = Response::json(&serde_json::json!({ "id": 7 })).with_status(201);
/// let limited = Response::text("slow down").with_status(429).with_header("retry-after", "3");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Response {
    /// An empty response with `status`.
    pub fn new(status: u16) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    /// 200 with `value` as JSON (`content-type: application/json`).
    ///
    /// If `value` cannot be serialized (e.g. a map with non-string keys), the answer is a
    /// 500 saying so instead.
    pub fn json<T: Serialize + ?Sized>(value: &T) -> Self {
        match serde_json::to_vec(value) {
            Ok(body) => Self::bytes(body).with_header("content-type", "application/json"),
            Err(error) => Error::internal(format!("cannot serialize the response: {error}")).into(),
        }
    }

    /// 200 with `text` (`content-type: text/plain; charset=utf-8`).
    pub fn text(text: impl Into<String>) -> Self {
        Self::bytes(text.into().into_bytes())
            .with_header("content-type", "text/plain; charset=utf-8")
    }

    /// 200 with `body` and no content type.
    pub fn bytes(body: impl Into<Vec<u8>>) -> Self {
        Self {
            body: body.into(),
            ..Self::new(200)
        }
    }

    /// 404 with `{"error": "not found"}`.
    pub fn not_found() -> Self {
        Error::not_found("not found").into()
    }

    /// Replaces the status.
    #[must_use]
    pub fn with_status(mut self, status: u16) -> Self {
        self.status = status;
        self
    }

    /// Adds a header (names are conventionally lower case; a name may repeat).
    #[must_use]
    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// The status.
    pub fn status(&self) -> u16 {
        self.status
    }

    /// The first value of header `name`, compared case-insensitively.
    pub fn header(&self, name: &str) -> Option<&str> {
        crate::request::find_header(&self.headers, name)
    }

    /// All headers, in the order they were added.
    pub fn headers(&self) -> &[(String, String)] {
        &self.headers
    }

    /// The body bytes.
    pub fn body(&self) -> &[u8] {
        &self.body
    }
}

/// The answer for an error: its status with `{"error": message}`.
impl From<Error> for Response {
    fn from(error: Error) -> Self {
        let body = serde_json::json!({ "error": error.message() });
        Self::json(&body).with_status(error.status())
    }
}

impl From<Response> for wit::Response {
    fn from(response: Response) -> Self {
        Self {
            status: response.status,
            headers: response.headers,
            body: response.body,
        }
    }
}
