//! The HTTP side of a WebSocket upgrade: recognising the request and answering 101.

use hyper::header::{
    HeaderValue, CONNECTION, SEC_WEBSOCKET_ACCEPT, SEC_WEBSOCKET_KEY, SEC_WEBSOCKET_VERSION,
    UPGRADE,
};
use hyper::{HeaderMap, Response, StatusCode};
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;

use super::response::{empty, Body};

/// Whether a request asks for a WebSocket upgrade (RFC 6455 §4.2.1).
pub fn is_upgrade_request(headers: &HeaderMap) -> bool {
    let has_token = |name, token: &str| {
        headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .any(|v| {
                v.split(',')
                    .any(|part| part.trim().eq_ignore_ascii_case(token))
            })
    };
    has_token(UPGRADE, "websocket")
        && has_token(CONNECTION, "upgrade")
        && headers.contains_key(SEC_WEBSOCKET_KEY)
        && headers
            .get(SEC_WEBSOCKET_VERSION)
            .is_some_and(|v| v == "13")
}

/// The 101 answer to an upgrade request the object accepted.
pub fn switching_protocols(request_headers: &HeaderMap) -> Response<Body> {
    let key = request_headers
        .get(SEC_WEBSOCKET_KEY)
        .map_or(&b""[..], |k| k.as_bytes());
    let mut response = Response::new(empty());
    *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let headers = response.headers_mut();
    headers.insert(UPGRADE, HeaderValue::from_static("websocket"));
    headers.insert(CONNECTION, HeaderValue::from_static("Upgrade"));
    headers.insert(
        SEC_WEBSOCKET_ACCEPT,
        HeaderValue::from_str(&derive_accept_key(key)).expect("base64 is a valid header value"),
    );
    response
}
