//! The inspector: a web page for operators, served by the admin listener at `/`, its files
//! under `/inspector/`. They are built into the binary (`assets/`: HTML, CSS and ES modules,
//! no build step, nothing loaded from elsewhere) and hold no data, so they are served
//! without the admin token; the page asks for the token when the API answers 401, keeps it
//! in the tab's `sessionStorage` and sends it with every API call.
//!
//! Every file is answered with its content type, `Cache-Control: no-cache` and an `ETag`
//! (a new binary's files are fetched again, an unchanged one answers 304), and a
//! Content-Security-Policy that lets the page load and call only its own origin.

use hyper::header::{
    HeaderValue, CACHE_CONTROL, CONTENT_TYPE, ETAG, IF_NONE_MATCH, X_CONTENT_TYPE_OPTIONS,
};
use hyper::{HeaderMap, Method, Response, StatusCode};
use sha2::{Digest, Sha256};

use super::response::{empty, error_response, full, Body};

const CSP: &str = "default-src 'self'; object-src 'none'; base-uri 'none'; \
                   form-action 'none'; frame-ancestors 'none'";

/// (URL path, content type, contents).
const ASSETS: &[(&str, &str, &str)] = &[
    (
        "/",
        "text/html; charset=utf-8",
        include_str!("assets/index.html"),
    ),
    (
        "/inspector/style.css",
        "text/css; charset=utf-8",
        include_str!("assets/style.css"),
    ),
    (
        "/inspector/icon.svg",
        "image/svg+xml",
        include_str!("assets/icon.svg"),
    ),
    ("/inspector/app.js", JS, include_str!("assets/app.js")),
    ("/inspector/api.js", JS, include_str!("assets/api.js")),
    ("/inspector/dom.js", JS, include_str!("assets/dom.js")),
    ("/inspector/notice.js", JS, include_str!("assets/notice.js")),
    (
        "/inspector/metrics.js",
        JS,
        include_str!("assets/metrics.js"),
    ),
    ("/inspector/chart.js", JS, include_str!("assets/chart.js")),
    ("/inspector/live.js", JS, include_str!("assets/live.js")),
    (
        "/inspector/namespaces.js",
        JS,
        include_str!("assets/namespaces.js"),
    ),
    (
        "/inspector/objects.js",
        JS,
        include_str!("assets/objects.js"),
    ),
    ("/inspector/object.js", JS, include_str!("assets/object.js")),
    ("/inspector/data.js", JS, include_str!("assets/data.js")),
    (
        "/inspector/console.js",
        JS,
        include_str!("assets/console.js"),
    ),
    ("/inspector/ops.js", JS, include_str!("assets/ops.js")),
];

const JS: &str = "text/javascript; charset=utf-8";

/// Whether `path` is the inspector's: `/` or under `/inspector/`.
pub fn owns(path: &str) -> bool {
    path == "/" || path.starts_with("/inspector/")
}

/// The file at `path` (one [`owns`]), for GET and HEAD; 404 for a name it does not have,
/// 405 for another method.
pub fn serve(method: &Method, path: &str, headers: &HeaderMap) -> Response<Body> {
    if method != Method::GET && method != Method::HEAD {
        let mut response = error_response(
            StatusCode::METHOD_NOT_ALLOWED,
            format!("the inspector's files are read with GET, not {method}"),
        );
        response
            .headers_mut()
            .insert(hyper::header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        return response;
    }
    let Some((_, content_type, text)) = ASSETS.iter().find(|(p, _, _)| *p == path) else {
        return error_response(
            StatusCode::NOT_FOUND,
            format!("the inspector has no file {path}"),
        );
    };
    let tag = etag(text);
    let unchanged = headers
        .get(IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|given| given.split(',').any(|t| t.trim() == tag));
    let mut response = if unchanged {
        let mut response = Response::new(empty());
        *response.status_mut() = StatusCode::NOT_MODIFIED;
        response
    } else {
        let mut response = Response::new(full(*text));
        response
            .headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
        response
    };
    let headers = response.headers_mut();
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    if let Ok(value) = HeaderValue::from_str(&tag) {
        headers.insert(ETAG, value);
    }
    headers.insert("content-security-policy", HeaderValue::from_static(CSP));
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    response
}

/// A strong validator of the file's contents.
fn etag(text: &str) -> String {
    let digest = Sha256::digest(text.as_bytes());
    format!("\"{}\"", hex::encode(&digest[..12]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(path: &str, headers: &HeaderMap) -> Response<Body> {
        serve(&Method::GET, path, headers)
    }

    /// Every `/inspector/...` URL and `./x.js` import the files name must be one of them.
    #[test]
    fn every_file_the_page_refers_to_is_served() {
        let mut referred = Vec::new();
        for (path, _, text) in ASSETS {
            for piece in text.split(['"', '\'']) {
                if piece.starts_with("/inspector/") {
                    referred.push((path, piece.to_string()));
                } else if let Some(name) = piece.strip_prefix("./") {
                    if name.ends_with(".js") {
                        referred.push((path, format!("/inspector/{name}")));
                    }
                }
            }
        }
        assert!(referred.len() > ASSETS.len(), "{referred:?}");
        for (from, to) in referred {
            assert!(
                ASSETS.iter().any(|(p, _, _)| *p == to),
                "{from} refers to {to}, which is not served"
            );
        }
    }

    #[test]
    fn files_have_their_type_a_strict_policy_and_a_validator() {
        let page = get("/", &HeaderMap::new());
        assert_eq!(page.status(), StatusCode::OK);
        assert_eq!(page.headers()[CONTENT_TYPE], "text/html; charset=utf-8");
        let csp = page.headers()["content-security-policy"].to_str().unwrap();
        assert!(csp.starts_with("default-src 'self';"), "{csp}");
        assert_eq!(page.headers()[CACHE_CONTROL], "no-cache");
        let script = get("/inspector/app.js", &HeaderMap::new());
        assert_eq!(script.headers()[CONTENT_TYPE], JS);
        let mut again = HeaderMap::new();
        again.insert(IF_NONE_MATCH, script.headers()[ETAG].clone());
        assert_eq!(
            get("/inspector/app.js", &again).status(),
            StatusCode::NOT_MODIFIED
        );
        assert_eq!(
            get("/inspector/nope.js", &HeaderMap::new()).status(),
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            serve(&Method::POST, "/", &HeaderMap::new()).status(),
            StatusCode::METHOD_NOT_ALLOWED
        );
    }
}
