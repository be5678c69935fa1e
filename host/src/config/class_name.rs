//! How a class name of a migration (Cloudflare's `ChatRoom`) names a wdo namespace
//! (`chat-room`, a lower-case URL segment and directory name).
//!
//! The rule: a `-` goes before each upper-case letter that starts a word (one that follows a
//! lower-case letter or a digit, or that is followed by a lower-case letter after other
//! upper-case ones), then everything is lower-cased. `Counter` → `counter`, `ChatRoom` →
//! `chat-room`, `HTTPCache` → `http-cache`, `RateLimiter2` → `rate-limiter2`. A name already
//! in namespace form (`chat-room`) maps to itself. The result must be a valid namespace name.

/// The namespace a class name stands for, or None if the result is not a valid namespace
/// name (`[a-z0-9][a-z0-9_-]*`, at most 64 characters).
pub fn namespace_for_class(class: &str) -> Option<String> {
    let chars: Vec<char> = class.chars().collect();
    let mut out = String::with_capacity(class.len() + 4);
    for (i, &c) in chars.iter().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            let before = chars[i - 1];
            let after_word = before.is_ascii_lowercase() || before.is_ascii_digit();
            let acronym_ends = before.is_ascii_uppercase()
                && chars.get(i + 1).is_some_and(|n| n.is_ascii_lowercase());
            if after_word || acronym_ends {
                out.push('-');
            }
        }
        out.push(c.to_ascii_lowercase());
    }
    super::valid_namespace_name(&out).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::namespace_for_class;

    #[test]
    fn class_names_become_kebab_case_namespaces() {
        let cases = [
            ("Counter", "counter"),
            ("ChatRoom", "chat-room"),
            ("HTTPCache", "http-cache"),
            ("RateLimiter2", "rate-limiter2"),
            ("chat-room", "chat-room"),
            ("game_room", "game_room"),
        ];
        for (class, namespace) in cases {
            assert_eq!(
                namespace_for_class(class).as_deref(),
                Some(namespace),
                "{class}"
            );
        }
    }

    #[test]
    fn names_that_make_no_namespace_are_refused() {
        for class in ["", "Chat Room", "../etc", "-x", "Ünicode"] {
            assert_eq!(namespace_for_class(class), None, "{class:?}");
        }
    }
}
