//! The admin API's door: with an admin token configured, every admin request must carry
//! `Authorization: Bearer <token>`; anything else is answered 401 before it is routed.

use hmac::{Hmac, Mac};
use hyper::header::{HeaderValue, AUTHORIZATION, WWW_AUTHENTICATE};
use hyper::{HeaderMap, Response, StatusCode};
use sha2::Sha256;

use super::response::{error_response, Body};
use crate::config::ADMIN_TOKEN_ENV;

/// `Ok` if the request may use the admin API, else the 401 to answer.
pub fn check(token: Option<&str>, headers: &HeaderMap) -> Result<(), Response<Body>> {
    let Some(token) = token else {
        return Ok(());
    };
    let given = headers
        .get(AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "));
    match given {
        None => Err(unauthorized(&format!(
            "the admin API needs an `Authorization: Bearer <token>` header with the host's \
             admin token (admin-token in its config, or {ADMIN_TOKEN_ENV})"
        ))),
        Some(given) if same_secret(given.trim().as_bytes(), token.as_bytes()) => Ok(()),
        Some(_) => Err(unauthorized("the admin token is wrong")),
    }
}

/// Compares in time that depends on neither the contents nor the lengths: both sides go
/// through an HMAC under a fresh random key, and the tags are compared in constant time.
pub(super) fn same_secret(given: &[u8], expected: &[u8]) -> bool {
    let key: [u8; 32] = rand::random();
    let tag = |bytes: &[u8]| {
        let mut mac = Hmac::<Sha256>::new_from_slice(&key).expect("any key length");
        mac.update(bytes);
        mac
    };
    let expected = tag(expected).finalize().into_bytes();
    tag(given).verify_slice(&expected).is_ok()
}

fn unauthorized(message: &str) -> Response<Body> {
    let mut response = error_response(StatusCode::UNAUTHORIZED, message);
    response
        .headers_mut()
        .insert(WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(authorization: Option<&str>) -> HeaderMap {
        let mut headers = HeaderMap::new();
        if let Some(value) = authorization {
            headers.insert(AUTHORIZATION, HeaderValue::from_str(value).unwrap());
        }
        headers
    }

    #[test]
    fn without_a_token_configured_every_request_passes() {
        assert!(check(None, &headers(None)).is_ok());
    }

    #[test]
    fn only_the_exact_bearer_token_passes() {
        let token = Some("0123456789abcdef");
        assert!(check(token, &headers(Some("Bearer 0123456789abcdef"))).is_ok());
        for wrong in [
            None,
            Some("Bearer 0123456789abcde"),
            Some("Bearer 0123456789abcdefg"),
            Some("Basic 0123456789abcdef"),
            Some("0123456789abcdef"),
            Some("Bearer "),
        ] {
            let response = check(token, &headers(wrong)).unwrap_err();
            assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{wrong:?}");
            assert_eq!(response.headers()[WWW_AUTHENTICATE], "Bearer");
        }
    }
}
