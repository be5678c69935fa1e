//! `allowed-outbound-hosts`: where objects and workers may send HTTP requests. An entry is
//! `[scheme://]host[:port]`: `api.example.com` (any port, http or https),
//! `127.0.0.1:8080`, `[::1]:9000`, `https://secure.example.com` (https only, any port),
//! `*.example.org` (its subdomains, not the domain itself), or `*` (anywhere). Nothing is
//! allowed by default.

use std::fmt;

use serde::{Deserialize, Serialize};

/// One entry of `allowed-outbound-hosts`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct OutboundRule {
    text: String,
    scheme: Option<String>,
    host: HostPattern,
    port: Option<u16>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum HostPattern {
    Any,
    Exact(String),
    /// `*.example.org` as `.example.org`.
    Subdomains(String),
}

impl OutboundRule {
    /// Whether a request to `scheme://authority` is allowed by this entry. `authority` is
    /// `host[:port]` as the guest wrote it; the port defaults to the scheme's.
    pub fn allows(&self, scheme: &str, authority: &str) -> bool {
        let scheme = scheme.to_ascii_lowercase();
        if self.scheme.as_ref().is_some_and(|s| *s != scheme) {
            return false;
        }
        let Some((host, port)) = split_authority(authority) else {
            return false;
        };
        let port = port.or(match scheme.as_str() {
            "http" => Some(80),
            "https" => Some(443),
            _ => None,
        });
        if self.port.is_some() && self.port != port {
            return false;
        }
        let host = host.to_ascii_lowercase();
        match &self.host {
            HostPattern::Any => true,
            HostPattern::Exact(exact) => *exact == host,
            HostPattern::Subdomains(suffix) => host.ends_with(suffix.as_str()),
        }
    }
}

/// `host[:port]` → (host, port); IPv6 hosts in brackets, returned without them.
fn split_authority(authority: &str) -> Option<(&str, Option<u16>)> {
    let authority = authority.rsplit_once('@').map_or(authority, |(_, a)| a);
    if let Some(rest) = authority.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        return match after {
            "" => Some((host, None)),
            _ => Some((host, Some(after.strip_prefix(':')?.parse().ok()?))),
        };
    }
    match authority.rsplit_once(':') {
        Some((host, port)) => Some((host, Some(port.parse().ok()?))),
        None => Some((authority, None)),
    }
}

impl TryFrom<String> for OutboundRule {
    type Error = String;

    fn try_from(text: String) -> Result<Self, String> {
        let bad = |why: &str| {
            Err(format!(
                "allowed-outbound-hosts entry {text:?}: {why} (expected [http:// or \
                 https://]host[:port], *.domain or *)"
            ))
        };
        let (scheme, rest) = match text.split_once("://") {
            Some((scheme, rest)) => (Some(scheme.to_ascii_lowercase()), rest),
            None => (None, text.as_str()),
        };
        if scheme
            .as_deref()
            .is_some_and(|s| s != "http" && s != "https")
        {
            return bad("the scheme must be http or https");
        }
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        if rest.contains('/') || rest.contains('@') || rest.is_empty() {
            return bad("give a host, without a path or user");
        }
        let Some((host, port)) = split_authority(rest) else {
            return bad("the port must be a number from 0 to 65535");
        };
        let host = host.to_ascii_lowercase();
        let pattern = if host == "*" {
            HostPattern::Any
        } else if let Some(domain) = host.strip_prefix("*.") {
            if !valid_host(domain) {
                return bad("not a valid domain after *.");
            }
            HostPattern::Subdomains(format!(".{domain}"))
        } else if valid_host(&host) {
            HostPattern::Exact(host)
        } else {
            return bad("not a valid host name or address");
        };
        Ok(OutboundRule {
            text: text.clone(),
            scheme,
            host: pattern,
            port,
        })
    }
}

/// Letters, digits, `-`, `.` (names and IPv4) or `:` and hex digits (IPv6).
fn valid_host(host: &str) -> bool {
    !host.is_empty()
        && host.len() <= 253
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.' || c == ':')
}

impl From<OutboundRule> for String {
    fn from(rule: OutboundRule) -> String {
        rule.text
    }
}

impl fmt::Display for OutboundRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::OutboundRule;

    fn rule(text: &str) -> OutboundRule {
        OutboundRule::try_from(text.to_owned()).unwrap()
    }

    #[test]
    fn entries_allow_what_they_name_and_nothing_else() {
        let exact = rule("API.example.com");
        assert!(exact.allows("https", "api.example.com"));
        assert!(exact.allows("http", "api.example.com:8080"));
        assert!(!exact.allows("https", "evil.com"));
        assert!(!exact.allows("https", "api.example.com.evil.com"));
        let port = rule("127.0.0.1:8080");
        assert!(port.allows("http", "127.0.0.1:8080"));
        assert!(!port.allows("http", "127.0.0.1:8081"));
        assert!(!port.allows("http", "127.0.0.1"));
        let https = rule("https://secure.example.com");
        assert!(https.allows("https", "secure.example.com"));
        assert!(!https.allows("http", "secure.example.com"));
        let sub = rule("*.example.org");
        assert!(sub.allows("https", "a.b.example.org"));
        assert!(!sub.allows("https", "example.org"));
        assert!(!sub.allows("https", "badexample.org"));
        let v6 = rule("[::1]:9000");
        assert!(v6.allows("http", "[::1]:9000"));
        assert!(!v6.allows("http", "[::1]:9001"));
        assert!(rule("*").allows("http", "anything:1"));
        assert!(rule("http://localhost/").allows("http", "localhost"));
    }

    #[test]
    fn bad_entries_are_refused_naming_them() {
        for text in [
            "",
            "ftp://x.com",
            "x.com/path",
            "x.com:99999",
            "user@x.com",
            "a b",
            "*.",
        ] {
            let error = OutboundRule::try_from(text.to_owned()).unwrap_err();
            assert!(error.contains(&format!("{text:?}")), "{error}");
        }
    }
}
