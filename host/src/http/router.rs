//! Public URLs: `/<namespace>/<object-name>/<rest>` reaches object `<object-name>` (its id
//! derived from the name), which sees `/<rest>` plus the query string.
//! `/<namespace>/@<64-hex-id>/<rest>` addresses an object by id instead.

use percent_encoding::percent_decode_str;

/// Longest object name accepted, in bytes (as Cloudflare keeps names up to 1 KiB).
pub const MAX_NAME_BYTES: usize = 1024;

#[derive(Debug, PartialEq, Eq)]
pub enum Target {
    Name(String),
    Id(String),
}

#[derive(Debug, PartialEq, Eq)]
pub struct Route<'a> {
    pub namespace: &'a str,
    pub target: Target,
    /// What the object sees: `/rest?query`.
    pub url: String,
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum RouteError {
    #[error("malformed path: expected /<namespace>/<object-name>/<path>")]
    Malformed,
    #[error("malformed path: the object name is not valid percent-encoded UTF-8")]
    BadEncoding,
    #[error("malformed path: the object name is longer than {MAX_NAME_BYTES} bytes")]
    NameTooLong,
}

pub fn route<'a>(path: &'a str, query: Option<&str>) -> Result<Route<'a>, RouteError> {
    let rest = path.strip_prefix('/').ok_or(RouteError::Malformed)?;
    let (namespace, rest) = rest.split_once('/').ok_or(RouteError::Malformed)?;
    let (raw_name, object_path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    if namespace.is_empty() || raw_name.is_empty() {
        return Err(RouteError::Malformed);
    }
    let name = percent_decode_str(raw_name)
        .decode_utf8()
        .map_err(|_| RouteError::BadEncoding)?
        .into_owned();
    if name.len() > MAX_NAME_BYTES {
        return Err(RouteError::NameTooLong);
    }
    let target = match name.strip_prefix('@') {
        Some(id) => Target::Id(id.to_owned()),
        None => Target::Name(name),
    };
    let url = match query {
        Some(q) => format!("{object_path}?{q}"),
        None => object_path.to_owned(),
    };
    Ok(Route {
        namespace,
        target,
        url,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_namespace_name_and_object_path() {
        let r = route("/counter/alice/increment", Some("by=2")).unwrap();
        assert_eq!(r.namespace, "counter");
        assert_eq!(r.target, Target::Name("alice".into()));
        assert_eq!(r.url, "/increment?by=2");
        let r = route("/counter/alice", None).unwrap();
        assert_eq!(r.url, "/");
        let r = route("/bank/b/balance/x%20y", None).unwrap();
        assert_eq!(r.url, "/balance/x%20y", "the object's path stays encoded");
    }

    #[test]
    fn names_are_percent_decoded_and_ids_marked_with_at() {
        let r = route("/chat/caf%C3%A9/x", None).unwrap();
        assert_eq!(r.target, Target::Name("café".into()));
        let r = route("/chat/@abc/x", None).unwrap();
        assert_eq!(r.target, Target::Id("abc".into()));
    }

    #[test]
    fn malformed_paths_are_rejected() {
        assert_eq!(route("/", None), Err(RouteError::Malformed));
        assert_eq!(route("/counter", None), Err(RouteError::Malformed));
        assert_eq!(route("/counter/", None), Err(RouteError::Malformed));
        assert_eq!(route("//x", None), Err(RouteError::Malformed));
        assert_eq!(route("/c/%FF/x", None), Err(RouteError::BadEncoding));
        let long = format!("/c/{}/x", "n".repeat(MAX_NAME_BYTES + 1));
        assert_eq!(route(&long, None), Err(RouteError::NameTooLong));
        let ok = format!("/c/{}/x", "n".repeat(MAX_NAME_BYTES));
        assert!(route(&ok, None).is_ok());
    }
}
