//! Object ids: 64 hex characters, as in Cloudflare.
//!
//! The first 16 bytes identify the object: `HMAC-SHA256(key, name)[..16]` for a named object,
//! 16 random bytes for a unique one. The last 16 bytes are `HMAC-SHA256(key, first16)[..16]`,
//! so an id parsed from a string can be verified to belong to this namespace.

use std::fmt;

use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// A namespace's secret key; generated on first start and kept in its `metadata.sqlite`.
#[derive(Clone)]
pub struct IdKey([u8; 32]);

#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjectId([u8; 32]);

/// An object of the host: (namespace index, object id). The registry, the alarm scheduler
/// and the WebSocket hub key their entries by it.
pub type Key = (usize, ObjectId);

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("Invalid Durable Object ID: must be 64 hex digits")]
    Malformed,
    #[error("Durable Object ID is not valid for this namespace")]
    ForeignNamespace,
}

impl IdKey {
    pub fn generate() -> IdKey {
        IdKey(rand::random())
    }

    pub fn from_bytes(bytes: &[u8]) -> Option<IdKey> {
        Some(IdKey(bytes.try_into().ok()?))
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    fn mac(&self, parts: &[&[u8]]) -> [u8; 32] {
        let mut mac = HmacSha256::new_from_slice(&self.0).expect("HMAC takes any key length");
        for part in parts {
            mac.update(part);
        }
        mac.finalize().into_bytes().into()
    }

    fn seal(&self, head: [u8; 16]) -> ObjectId {
        let tail = self.mac(&[b"id:", &head]);
        let mut id = [0u8; 32];
        id[..16].copy_from_slice(&head);
        id[16..].copy_from_slice(&tail[..16]);
        ObjectId(id)
    }

    /// The same name always gives the same id in one namespace.
    pub fn id_from_name(&self, name: &str) -> ObjectId {
        let digest = self.mac(&[b"name:", name.as_bytes()]);
        self.seal(digest[..16].try_into().expect("16 bytes"))
    }

    pub fn new_unique_id(&self) -> ObjectId {
        self.seal(rand::random())
    }

    /// Parses and verifies an id: rejects malformed strings and ids of other namespaces.
    pub fn parse(&self, text: &str) -> Result<ObjectId, IdError> {
        if text.len() != 64 {
            return Err(IdError::Malformed);
        }
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(text, &mut bytes).map_err(|_| IdError::Malformed)?;
        let head: [u8; 16] = bytes[..16].try_into().expect("16 bytes");
        // Constant-time comparison of the tag, as for any MAC.
        let mut mac = HmacSha256::new_from_slice(&self.0).expect("any key length");
        mac.update(b"id:");
        mac.update(&head);
        mac.verify_truncated_left(&bytes[16..])
            .map_err(|_| IdError::ForeignNamespace)?;
        Ok(ObjectId(bytes))
    }
}

impl ObjectId {
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Display for ObjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for ObjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ObjectId({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_give_stable_ids_that_differ_between_names_and_keys() {
        let key = IdKey::generate();
        assert_eq!(key.id_from_name("a"), key.id_from_name("a"));
        assert_ne!(key.id_from_name("a"), key.id_from_name("b"));
        assert_ne!(key.id_from_name("a"), IdKey::generate().id_from_name("a"));
        assert_eq!(key.id_from_name("a").to_string().len(), 64);
    }

    #[test]
    fn parsing_accepts_own_ids_and_rejects_foreign_or_mistyped_ones() {
        let key = IdKey::generate();
        let id = key.new_unique_id();
        assert_eq!(key.parse(&id.to_string()), Ok(id));
        assert_eq!(key.parse(&id.to_string().to_uppercase()), Ok(id));
        let other = IdKey::generate().new_unique_id().to_string();
        assert_eq!(key.parse(&other), Err(IdError::ForeignNamespace));
        let mut typo = id.to_string().into_bytes();
        typo[3] = if typo[3] == b'0' { b'1' } else { b'0' };
        assert_eq!(
            key.parse(std::str::from_utf8(&typo).unwrap()),
            Err(IdError::ForeignNamespace)
        );
        assert_eq!(key.parse("abc"), Err(IdError::Malformed));
        assert_eq!(key.parse(&"g".repeat(64)), Err(IdError::Malformed));
    }

    #[test]
    fn unique_ids_are_unique() {
        let key = IdKey::generate();
        assert_ne!(key.new_unique_id(), key.new_unique_id());
    }

    mod fuzz {
        use proptest::prelude::*;

        use super::*;

        proptest! {
            #![proptest_config(ProptestConfig {
                cases: 1000,
                failure_persistence: None,
                ..ProptestConfig::default()
            })]

            #[test]
            fn any_text_parses_or_is_refused_without_panicking(
                text in prop_oneof![
                    any::<String>(),
                    "[0-9a-fA-F]{64}",
                    "[0-9a-fA-FxyZ\u{e9}\u{1F600}]{60,64}",
                ],
            ) {
                let key = IdKey::generate();
                match key.parse(&text) {
                    // Only a forgery of the namespace's MAC could pass.
                    Ok(id) => prop_assert!(false, "{text} parsed as {id}"),
                    Err(IdError::Malformed) => prop_assert!(
                        text.len() != 64 || !text.bytes().all(|b| b.is_ascii_hexdigit())
                    ),
                    Err(IdError::ForeignNamespace) => prop_assert_eq!(text.len(), 64),
                }
            }

            #[test]
            fn ids_round_trip_through_text_and_a_changed_digit_is_refused(
                seed in any::<[u8; 32]>(),
                name in prop::option::of(any::<String>()),
                at in 0..64usize,
                digit in 0..16u8,
            ) {
                let key = IdKey::from_bytes(&seed).unwrap();
                let id = match &name {
                    Some(name) => key.id_from_name(name),
                    None => key.new_unique_id(),
                };
                let text = id.to_string();
                prop_assert_eq!(text.len(), 64);
                prop_assert_eq!(key.parse(&text), Ok(id));
                prop_assert_eq!(key.parse(&text.to_uppercase()), Ok(id));
                let mut changed = text.clone().into_bytes();
                changed[at] = b"0123456789abcdef"[usize::from(digit)];
                let changed = String::from_utf8(changed).unwrap();
                if changed != text {
                    prop_assert_eq!(key.parse(&changed), Err(IdError::ForeignNamespace));
                }
                let other = IdKey::from_bytes(&seed.map(|b| b ^ 1)).unwrap();
                prop_assert_eq!(other.parse(&text), Err(IdError::ForeignNamespace));
            }
        }
    }
}
