//! The HTTP request an object receives.

use serde::de::DeserializeOwned;

use crate::bindings::wdo::object::types as wit;
use crate::Error;

/// A request as the object sees it: the `/<namespace>/<name>` prefix of the public URL is
/// already removed, so `https://host/counter/alice/increment?by=2` arrives with the path
/// `/increment`.
#[derive(Debug, Clone)]
pub struct Request {
    method: String,
    url: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    segments: Vec<String>,
}

impl Request {
    /// Upper-case method, e.g. `"GET"`.
    pub fn method(&self) -> &str {
        &self.method
    }

    /// Path plus query string, e.g. `/increment?by=2`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The URL before `?`, as sent (not percent-decoded), e.g. `/increment`.
    pub fn path(&self) -> &str {
        path_of(&self.url)
    }

    /// The non-empty segments of [`path`](Self::path), percent-decoded: `/balance/bob%20l/`
    /// gives `["balance", "bob l"]` and `/` gives `[]`. Handy for routing with `match`:
    ///
    /// ```no_run
    /// # fn route(request: &wdo_sdk::Request) {
    /// match request.segments().as_slice() {
    ///     ["balance", user] => println!("balance of {user}"),
    ///     _ => println!("not found"),
    /// }
    /// # }
    /// ```
    pub fn segments(&self) -> Vec<&str> {
        self.segments.iter().map(String::as_str).collect()
    }

    /// The query string after `?`, as sent, if there is one.
    pub fn query_string(&self) -> Option<&str> {
        self.url.split_once('?').map(|(_, query)| query)
    }

    /// The first value of query parameter `name`, percent-decoded with `+` as a space.
    /// A parameter without `=` has the value `""`.
    pub fn query(&self, name: &str) -> Option<String> {
        self.query_string()?
            .split('&')
            .filter(|pair| !pair.is_empty())
            .map(|pair| pair.split_once('=').unwrap_or((pair, "")))
            .find(|(key, _)| percent_decode(key, true) == name)
            .map(|(_, value)| percent_decode(value, true))
    }

    /// The first value of header `name`, compared case-insensitively.
    pub fn header(&self, name: &str) -> Option<&str> {
        find_header(&self.headers, name)
    }

    /// All headers in arrival order, names in lower case; a repeated header appears twice.
    pub fn headers(&self) -> &[(String, String)] {
        &self.headers
    }

    /// The body bytes.
    /// Whether this is a WebSocket upgrade request (`Upgrade: websocket`).
    pub fn is_websocket_upgrade(&self) -> bool {
        self.header("upgrade").is_some_and(|v| {
            v.split(',')
                .any(|p| p.trim().eq_ignore_ascii_case("websocket"))
        })
    }

    pub fn body(&self) -> &[u8] {
        &self.body
    }

    /// The body as UTF-8 text; 400 if it is not valid UTF-8.
    pub fn text(&self) -> Result<&str, Error> {
        std::str::from_utf8(&self.body)
            .map_err(|error| Error::bad_request(format!("body is not valid UTF-8: {error}")))
    }

    /// The body decoded from JSON; 400 `invalid JSON body: ...` if it is malformed or does
    /// not fit `T` (a missing field, a wrong type, ...).
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, Error> {
        serde_json::from_slice(&self.body)
            .map_err(|error| Error::bad_request(format!("invalid JSON body: {error}")))
    }

    /// Takes the body out of the request.
    pub fn into_body(self) -> Vec<u8> {
        self.body
    }
}

impl From<wit::Request> for Request {
    fn from(request: wit::Request) -> Self {
        let segments = path_of(&request.url)
            .split('/')
            .filter(|segment| !segment.is_empty())
            .map(|segment| percent_decode(segment, false))
            .collect();
        Self {
            method: request.method,
            url: request.url,
            headers: request.headers,
            body: request.body,
            segments,
        }
    }
}

/// The part of `url` before `?`.
fn path_of(url: &str) -> &str {
    url.split_once('?').map_or(url, |(path, _)| path)
}

/// Decodes `%XX` escapes (invalid escapes are kept as they are), and `+` as a space if
/// `plus_as_space`. Bytes that are not UTF-8 become U+FFFD.
fn percent_decode(input: &str, plus_as_space: bool) -> String {
    let mut decoded = Vec::with_capacity(input.len());
    let mut rest = input.as_bytes();
    while let Some((&byte, tail)) = rest.split_first() {
        rest = tail;
        match byte {
            b'%' => match escaped_byte(tail) {
                Some(value) => {
                    decoded.push(value);
                    rest = &tail[2..];
                }
                None => decoded.push(b'%'),
            },
            b'+' if plus_as_space => decoded.push(b' '),
            byte => decoded.push(byte),
        }
    }
    match String::from_utf8(decoded) {
        Ok(text) => text,
        Err(error) => String::from_utf8_lossy(error.as_bytes()).into_owned(),
    }
}

/// The byte written as two hex digits at the start of `digits`, if they are hex digits.
fn escaped_byte(digits: &[u8]) -> Option<u8> {
    match digits {
        [high, low, ..] => Some(hex_value(*high)? << 4 | hex_value(*low)?),
        _ => None,
    }
}

fn hex_value(digit: u8) -> Option<u8> {
    match digit {
        b'0'..=b'9' => Some(digit - b'0'),
        b'a'..=b'f' => Some(digit - b'a' + 10),
        b'A'..=b'F' => Some(digit - b'A' + 10),
        _ => None,
    }
}

/// The first value of header `name` in `headers`, compared case-insensitively.
pub(crate) fn find_header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(key, _)| key.eq_ignore_ascii_case(name))
        .map(|(_, value)| value.as_str())
}
