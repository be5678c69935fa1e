//! The admin API's client: where the host is, its token, and requests whose error answers
//! become [`Error`]s carrying the host's own `{"error": ...}` text.
//!
//! Where to connect: `--admin`, else `WDO_ADMIN`, else `admin-listen` of the config, else
//! `http://127.0.0.1:9787`. The token: `--token`, else `WDO_ADMIN_TOKEN`, else `admin-token`
//! of the config. The config is `--config`, or `wdo.toml` if it exists and the address was
//! not given (so a config's token is never sent to another host than its own).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use reqwest::header::{HeaderValue, AUTHORIZATION};
use reqwest::{Method, RequestBuilder, Response};
use serde_json::Value;

use super::{AdminOptions, Error};
use crate::config::{Config, ADMIN_TOKEN_ENV};

/// The environment variable naming the admin URL.
pub const ADMIN_URL_ENV: &str = "WDO_ADMIN";
const DEFAULT_CONFIG: &str = "wdo.toml";
const DEFAULT_URL: &str = "http://127.0.0.1:9787";

/// Everything a path segment may not hold as it is: all but `A-Z a-z 0-9 - _ ~`.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'~');

/// The host to speak to, and where that came from (said when it cannot be reached).
#[derive(Debug, PartialEq)]
pub struct Target {
    pub url: String,
    pub from: String,
    pub token: Option<String>,
}

impl Target {
    pub fn resolve(options: &AdminOptions) -> Result<Target, Error> {
        let env = |name| std::env::var(name).ok().filter(|v| !v.is_empty());
        let given = match (&options.admin, env(ADMIN_URL_ENV)) {
            (Some(url), _) => Some((url.clone(), "--admin".to_string())),
            (None, Some(url)) => Some((url, ADMIN_URL_ENV.to_string())),
            (None, None) => None,
        };
        let config_path = match &options.config {
            Some(path) => Some(path.clone()),
            None if given.is_none() && std::path::Path::new(DEFAULT_CONFIG).exists() => {
                Some(DEFAULT_CONFIG.into())
            }
            None => None,
        };
        let config = match &config_path {
            Some(path) => Some(Config::load(path).map_err(|e| Error::Usage(e.to_string()))?),
            None => None,
        };
        let (url, from) = match (given, &config, &config_path) {
            (Some((url, from)), _, _) => (normalize(&url, &from)?, from),
            (None, Some(config), Some(path)) => {
                let from = format!("admin-listen of {}", path.display());
                if config.admin_listen.port() == 0 {
                    return Err(Error::Usage(format!(
                        "{from} is port 0 (the host picked its port when it started): give \
                         the address it printed with --admin or {ADMIN_URL_ENV}"
                    )));
                }
                (connect_url(config.admin_listen), from)
            }
            _ => (DEFAULT_URL.to_string(), "the default".to_string()),
        };
        let token = options
            .token
            .clone()
            .or_else(|| env(ADMIN_TOKEN_ENV))
            .or_else(|| config.and_then(|c| c.admin_token));
        Ok(Target { url, from, token })
    }
}

/// `host:port` or `http://host:port[/prefix]`, without a trailing `/`.
fn normalize(url: &str, from: &str) -> Result<String, Error> {
    let full = if url.contains("://") {
        url.to_string()
    } else {
        format!("http://{url}")
    };
    let parsed = reqwest::Url::parse(&full)
        .map_err(|e| Error::Usage(format!("{from} {url:?} is not a URL: {e}")))?;
    if parsed.scheme() != "http" {
        return Err(Error::Usage(format!(
            "{from} {url:?}: the admin listener speaks plain http (put TLS in front of it \
             with a proxy, and reach that through a tunnel)"
        )));
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(Error::Usage(format!(
            "{from} {url:?}: give the admin URL without a query or fragment"
        )));
    }
    Ok(parsed.as_str().trim_end_matches('/').to_string())
}

/// The URL that reaches a listener: an unspecified address (`0.0.0.0`, `::`) is reached on
/// loopback.
fn connect_url(listen: SocketAddr) -> String {
    let ip = match listen.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    format!("http://{}", SocketAddr::new(ip, listen.port()))
}

/// A path of the admin API, each segment percent-encoded, and its query.
#[derive(Clone, Debug)]
pub struct Path {
    text: String,
    has_query: bool,
    /// A segment no URL can carry (`.` and `..` are resolved away by every URL parser).
    unaddressable: Option<String>,
}

impl Path {
    pub fn new(segments: &[&str]) -> Path {
        let mut path = Path {
            text: String::new(),
            has_query: false,
            unaddressable: None,
        };
        for segment in segments {
            path = path.push(segment);
        }
        path
    }

    pub fn push(mut self, segment: &str) -> Path {
        debug_assert!(!self.has_query, "segments go before the query");
        if segment == "." || segment == ".." {
            self.unaddressable
                .get_or_insert_with(|| format!("{segment:?} cannot be named in a URL path"));
        }
        self.text.push('/');
        self.text.extend(utf8_percent_encode(segment, SEGMENT));
        self
    }

    /// Adds `name=value` to the query.
    pub fn query(mut self, name: &str, value: &str) -> Path {
        self.text.push(if self.has_query { '&' } else { '?' });
        self.has_query = true;
        self.text.extend(utf8_percent_encode(name, SEGMENT));
        self.text.push('=');
        self.text.extend(utf8_percent_encode(value, SEGMENT));
        self
    }
}

/// A client of one host's admin API.
pub struct Client {
    http: reqwest::Client,
    target: Target,
}

impl Client {
    pub fn new(target: Target, timeout: Duration) -> Result<Client, Error> {
        let http = reqwest::Client::builder()
            .connect_timeout(timeout)
            .read_timeout(timeout)
            // The admin API and its token are for the host, not for a proxy on the way.
            .no_proxy()
            .user_agent(concat!("wdo-cli/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| Error::Failed(format!("cannot create the HTTP client: {e}")))?;
        Ok(Client { http, target })
    }

    /// Where the host is, and why there.
    pub fn describe(&self) -> String {
        format!("{} (from {})", self.target.url, self.target.from)
    }

    /// A request with the token, not sent yet.
    pub fn request(&self, method: Method, path: &Path) -> Result<RequestBuilder, Error> {
        if let Some(why) = &path.unaddressable {
            return Err(Error::Usage(why.clone()));
        }
        let url = format!("{}{}", self.target.url, path.text);
        let mut request = self.http.request(method, url);
        if let Some(token) = &self.target.token {
            let value = HeaderValue::from_str(&format!("Bearer {token}")).map_err(|_| {
                Error::Usage("the admin token holds characters a header cannot carry".into())
            })?;
            request = request.header(AUTHORIZATION, value);
        }
        Ok(request)
    }

    /// Sends `request`; an error status becomes [`Error::Host`] with the host's message.
    pub async fn send(&self, request: RequestBuilder) -> Result<Response, Error> {
        let response = request
            .send()
            .await
            .map_err(|e| Error::transport(&self.describe(), &e))?;
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let text = response.text().await.unwrap_or_default();
        let message = match serde_json::from_str::<Value>(&text) {
            Ok(value) if value["error"].is_string() => value["error"].as_str().unwrap().into(),
            _ if !text.trim().is_empty() => text.trim().chars().take(500).collect(),
            _ => status
                .canonical_reason()
                .unwrap_or("an error without a message")
                .to_string(),
        };
        Err(Error::Host {
            status: status.as_u16(),
            message,
        })
    }

    /// One request whose answer is JSON.
    pub async fn json(
        &self,
        method: Method,
        path: &Path,
        body: Option<&Value>,
    ) -> Result<Value, Error> {
        let mut request = self.request(method, path)?;
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = self.send(request).await?;
        self.read_json(response).await
    }

    /// The `field` arrays of the pages of a paged listing at `path` (`limit`, `cursor`):
    /// one page, or every page after it with `all`; and the cursor after the last one read.
    pub async fn pages(
        &self,
        path: &Path,
        field: &str,
        limit: Option<u32>,
        mut cursor: Option<String>,
        all: bool,
    ) -> Result<(Vec<Value>, Option<String>), Error> {
        let mut items = Vec::new();
        loop {
            let mut page_path = path.clone();
            if let Some(limit) = limit {
                page_path = page_path.query("limit", &limit.to_string());
            }
            if let Some(cursor) = &cursor {
                page_path = page_path.query("cursor", cursor);
            }
            let mut page = self.get(&page_path).await?;
            if let Some(page_items) = page[field].as_array_mut() {
                items.append(page_items);
            }
            cursor = page["cursor"].as_str().map(str::to_string);
            if !all || cursor.is_none() {
                return Ok((items, cursor));
            }
        }
    }

    pub async fn get(&self, path: &Path) -> Result<Value, Error> {
        self.json(Method::GET, path, None).await
    }

    pub async fn read_json(&self, response: Response) -> Result<Value, Error> {
        let bytes = response
            .bytes()
            .await
            .map_err(|e| Error::transport(&self.describe(), &e))?;
        serde_json::from_slice(&bytes).map_err(|e| {
            Error::Failed(format!(
                "the answer of {} is not the admin API's JSON ({e}): is it a wdo admin listener?",
                self.describe()
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_and_queries_are_percent_encoded() {
        let path = Path::new(&["v1", "objects", "a b/c?d", "@ff", "x.y"])
            .query("prefix", "a+b&c")
            .query("limit", "5");
        assert_eq!(
            path.text,
            "/v1/objects/a%20b%2Fc%3Fd/%40ff/x%2Ey?prefix=a%2Bb%26c&limit=5"
        );
        assert!(path.unaddressable.is_none());
        assert!(Path::new(&["kv", ".."]).unaddressable.is_some());
    }

    #[test]
    fn admin_urls_are_normalized_and_only_plain_http_is_taken() {
        assert_eq!(
            normalize("127.0.0.1:9787", "--admin").unwrap(),
            "http://127.0.0.1:9787"
        );
        assert_eq!(
            normalize("http://host:1/prefix/", "--admin").unwrap(),
            "http://host:1/prefix"
        );
        for bad in ["https://host:1", "http://", "http://h:1/?x=1"] {
            assert_eq!(
                normalize(bad, "--admin").unwrap_err().exit_code(),
                2,
                "{bad}"
            );
        }
    }

    #[test]
    fn an_unspecified_listen_address_is_reached_on_loopback() {
        assert_eq!(
            connect_url("0.0.0.0:9787".parse().unwrap()),
            "http://127.0.0.1:9787"
        );
        assert_eq!(connect_url("[::]:1".parse().unwrap()), "http://[::1]:1");
        assert_eq!(
            connect_url("10.0.0.2:80".parse().unwrap()),
            "http://10.0.0.2:80"
        );
    }
}
