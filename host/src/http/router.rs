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

/// Random bytes, paths and percent-encodings (bounded: a few hundred cases each).
#[cfg(test)]
mod fuzz {
    use percent_encoding::{utf8_percent_encode, AsciiSet, CONTROLS, NON_ALPHANUMERIC};
    use proptest::prelude::*;

    use super::*;
    use crate::ids::IdKey;

    /// What a client must encode in a path segment (a browser's path set, plus `/` and `%`).
    const SEGMENT: &AsciiSet = &CONTROLS
        .add(b' ')
        .add(b'"')
        .add(b'#')
        .add(b'<')
        .add(b'>')
        .add(b'?')
        .add(b'`')
        .add(b'{')
        .add(b'}')
        .add(b'/')
        .add(b'%');

    /// Path-like text: slashes, `@`, percent signs, hex digits, and anything else.
    fn pathish() -> impl Strategy<Value = String> {
        prop::collection::vec(
            prop_oneof![
                3 => Just("/".to_string()),
                1 => Just("@".to_string()),
                2 => Just("%".to_string()),
                2 => "[0-9a-fA-F]{1,2}",
                3 => "[a-z]{1,4}",
                2 => any::<char>().prop_map(String::from),
            ],
            0..24,
        )
        .prop_map(|parts| parts.concat())
    }

    proptest! {
        #![proptest_config(ProptestConfig {
            cases: 2000,
            failure_persistence: None,
            ..ProptestConfig::default()
        })]

        #[test]
        fn random_paths_and_bytes_never_panic(
            path in pathish(),
            bytes in prop::collection::vec(any::<u8>(), 0..64),
            query in prop::option::of(pathish()),
        ) {
            let _ = route(&path, query.as_deref());
            let _ = route(&format!("/{path}"), None);
            let lossy = String::from_utf8_lossy(&bytes);
            let _ = route(&lossy, query.as_deref());
            if let Ok(r) = route(&format!("/{path}"), query.as_deref()) {
                prop_assert!(!r.namespace.is_empty() && !r.namespace.contains('/'));
                prop_assert!(r.url.starts_with('/'), "{}", r.url);
                let name = match &r.target {
                    Target::Name(name) | Target::Id(name) => name,
                };
                prop_assert!(name.len() <= MAX_NAME_BYTES);
            }
        }

        #[test]
        fn an_encoded_name_routes_back_to_itself(
            namespace in "[a-z0-9][a-z0-9_-]{0,20}",
            name in any::<String>().prop_filter("a name", |n| !n.is_empty() && !n.starts_with('@')),
            rest in "(/[a-zA-Z0-9%._~-]{0,8}){0,4}",
            query in prop::option::of("[a-z0-9=&%]{0,16}"),
            strict in any::<bool>(),
        ) {
            let set = if strict { NON_ALPHANUMERIC } else { SEGMENT };
            let encoded = utf8_percent_encode(&name, set).to_string();
            let path = format!("/{namespace}/{encoded}{rest}");
            match route(&path, query.as_deref()) {
                Ok(r) => {
                    prop_assert_eq!(r.namespace, namespace.as_str());
                    prop_assert_eq!(r.target, Target::Name(name.clone()));
                    let object_path = if rest.is_empty() { "/" } else { rest.as_str() };
                    let url = match &query {
                        Some(q) => format!("{object_path}?{q}"),
                        None => object_path.to_string(),
                    };
                    prop_assert_eq!(r.url, url);
                }
                Err(e) => {
                    prop_assert_eq!(e, RouteError::NameTooLong);
                    prop_assert!(name.len() > MAX_NAME_BYTES);
                }
            }
        }

        #[test]
        fn a_name_gives_an_id_whose_text_routes_and_parses_back(
            name in any::<String>(),
            seed in any::<[u8; 32]>(),
            upper in any::<bool>(),
        ) {
            let key = IdKey::from_bytes(&seed).unwrap();
            let id = key.id_from_name(&name);
            let mut text = id.to_string();
            if upper {
                text = text.to_uppercase();
            }
            let path = format!("/ns/@{text}/x");
            let r = route(&path, None).unwrap();
            let Target::Id(parsed) = r.target else {
                panic!("@{text} is an id");
            };
            prop_assert_eq!(key.parse(&parsed), Ok(id));
            prop_assert_eq!(key.id_from_name(&name), id, "the same name, the same id");
        }
    }
}
