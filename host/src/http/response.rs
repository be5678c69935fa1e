//! Small helpers for hyper responses.

use bytes::Bytes;
use futures_util::TryStreamExt;
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::Frame;
use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::{Response, StatusCode};

/// Every response's body: bytes in memory, or a file streamed as it is read.
pub type Body = UnsyncBoxBody<Bytes, std::io::Error>;

/// A body of bytes already in memory.
pub fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into())
        .map_err(|never| match never {})
        .boxed_unsync()
}

/// An empty body.
pub fn empty() -> Body {
    full(Bytes::new())
}

/// A body read from `file` as it is sent, never held whole in memory.
pub fn file_body(file: tokio::fs::File) -> Body {
    let chunks = tokio_util::io::ReaderStream::with_capacity(file, 256 << 10);
    StreamBody::new(chunks.map_ok(Frame::data)).boxed_unsync()
}

pub fn json_response(status: StatusCode, value: &serde_json::Value) -> Response<Body> {
    let mut response = Response::new(full(value.to_string()));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// `{"error": message}` with the status.
pub fn error_response(status: StatusCode, message: impl std::fmt::Display) -> Response<Body> {
    json_response(status, &serde_json::json!({ "error": message.to_string() }))
}

pub fn text_response(
    status: StatusCode,
    content_type: &'static str,
    text: String,
) -> Response<Body> {
    let mut response = Response::new(full(text));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}
