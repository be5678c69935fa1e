//! The config loader against random input (bounded: a few hundred cases each): arbitrary
//! text, random TOML documents, and single mutations of a valid file (a value replaced, a
//! line removed, repeated or its key renamed). Nothing panics; a document either loads or
//! is refused with a message that names the key at fault.

use proptest::prelude::*;

use super::Config;

/// A valid config that sets every key, one `key = value` per line.
const VALID: &str = r#"listen = "127.0.0.1:8787"
admin-listen = "127.0.0.1:9787"
admin-token = "0123456789abcdef0123"
data-dir = ".wdo/data"
cache-dir = ".wdo/cache"
idle-timeout = "10s"
max-live-objects = 1000
max-body-size = 33554432
inbox-depth = 1024
max-inbox-bytes = 67108864
max-group-commit = 64
keep-resident = 2097152
shutdown-grace = "30s"
max-websocket-message = 33554432
max-websocket-queue = 16777216
header-read-timeout = "15s"
body-read-timeout = "1m"
max-connections = 10000
max-websockets = 32768
alarm-retry-base = "2s"
[[namespace]]
name = "counter"
component = "counter.wasm"
build = "make counter"
durability = "full"
memory-limit = 134217728
cpu-limit = "30s"
max-database-size = 10737418240
log-lines-per-second = 100
[[namespace]]
name = "chat"
component = "chat.wasm"
durability = "relaxed"
[[migrations]]
tag = "v1"
new-classes = ["Counter"]
new_sqlite_classes = ["Chat"]
[[migrations]]
tag = "v2"
renamed-classes = [{ from = "Counter", to = "Tally" }]
deleted-classes = ["Old"]
"#;

/// Every key the schema knows, in either spelling.
const KEYS: &[&str] = &[
    "listen",
    "admin-listen",
    "admin-token",
    "data-dir",
    "cache-dir",
    "idle-timeout",
    "max-live-objects",
    "max-body-size",
    "inbox-depth",
    "max-inbox-bytes",
    "max-group-commit",
    "keep-resident",
    "shutdown-grace",
    "max-websocket-message",
    "max-websocket-queue",
    "header-read-timeout",
    "body-read-timeout",
    "max-connections",
    "max-websockets",
    "alarm-retry-base",
    "namespace",
    "migrations",
    "name",
    "component",
    "build",
    "durability",
    "memory-limit",
    "cpu-limit",
    "max-database-size",
    "log-lines-per-second",
    "tag",
    "new-classes",
    "new_classes",
    "new-sqlite-classes",
    "new_sqlite_classes",
    "renamed-classes",
    "renamed_classes",
    "deleted-classes",
    "deleted_classes",
    "from",
    "to",
];

/// A TOML value of any type, shaped like what a config holds or nearly.
fn value() -> impl Strategy<Value = toml::Value> {
    let leaf = prop_oneof![
        any::<i64>().prop_map(toml::Value::Integer),
        (0..100_000i64).prop_map(toml::Value::Integer),
        any::<f64>().prop_map(toml::Value::Float),
        any::<bool>().prop_map(toml::Value::Boolean),
        any::<String>().prop_map(toml::Value::String),
        "[0-9]{0,4}(ns|ms|s|m|h|d|x)?".prop_map(toml::Value::String),
        "[0-9.:\\[\\]a-f]{0,20}".prop_map(toml::Value::String),
        "[a-z][a-z0-9_ -]{0,10}".prop_map(toml::Value::String),
    ];
    leaf.prop_recursive(2, 8, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(toml::Value::Array),
            prop::collection::btree_map(key(), inner, 0..4)
                .prop_map(|m| toml::Value::Table(m.into_iter().collect())),
        ]
    })
}

/// A key: one the schema knows, or another.
fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop::sample::select(KEYS).prop_map(String::from),
        1 => "[a-z_-]{1,12}",
    ]
}

/// The key of a `key = value` line.
fn key_of(line: &str) -> Option<&str> {
    line.split_once(" = ").map(|(key, _)| key)
}

/// Parses `text`: fine if it loads; if not, the message must name one of `keys`.
fn loads_or_names(text: &str, keys: &[&str]) -> Result<(), TestCaseError> {
    if let Err(e) = Config::parse(text) {
        let message = e.to_string();
        prop_assert!(
            keys.iter().any(|key| message.contains(key)),
            "the error names none of {keys:?}: {message}\n--- config:\n{text}"
        );
    }
    Ok(())
}

#[derive(Debug, Clone)]
enum Mutation {
    Replace(toml::Value),
    Remove,
    Repeat,
    Rename(String),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        6 => value().prop_map(Mutation::Replace),
        1 => Just(Mutation::Remove),
        1 => Just(Mutation::Repeat),
        1 => "[a-z][a-z_-]{0,12}".prop_map(Mutation::Rename),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 1000,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn arbitrary_text_never_panics(
        text in prop_oneof![
            any::<String>(),
            prop::collection::vec(any::<u8>(), 0..200)
                .prop_map(|b| String::from_utf8_lossy(&b).into_owned()),
            "[\\[\\]a-z=\"{}., 0-9\\n-]{0,120}",
        ],
    ) {
        let _ = Config::parse(&text);
        let _ = Config::parse(&format!("{VALID}{text}"));
    }

    #[test]
    fn random_documents_load_or_name_a_key(
        table in prop::collection::btree_map(key(), value(), 0..8),
    ) {
        let table: toml::Table = table.into_iter().collect();
        let Ok(text) = toml::to_string(&table) else {
            return Ok(());
        };
        if let Err(e) = Config::parse(&text) {
            let message = e.to_string();
            let named = KEYS.iter().map(|k| k.to_string()).chain(table.keys().cloned());
            prop_assert!(
                named.into_iter().any(|k| message.contains(&k)),
                "the error names no key: {message}\n--- config:\n{text}"
            );
        }
    }

    #[test]
    fn a_mutated_valid_file_loads_or_names_the_key_at_fault(
        line in 0..VALID.lines().count(),
        mutation in mutation(),
    ) {
        prop_assert!(Config::parse(VALID).is_ok());
        let lines: Vec<&str> = VALID.lines().collect();
        let Some(key) = key_of(lines[line]) else {
            return Ok(());
        };
        let mut out: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
        match &mutation {
            Mutation::Replace(value) => out[line] = format!("{key} = {value}"),
            Mutation::Remove => drop(out.remove(line)),
            Mutation::Repeat => out.insert(line, lines[line].to_string()),
            Mutation::Rename(new) => out[line] = lines[line].replacen(key, new, 1),
        }
        // A renamed key is unknown (or repeats another), or the old one is missing.
        let keys = match &mutation {
            Mutation::Rename(new) => vec![key, new.as_str()],
            _ => vec![key],
        };
        loads_or_names(&out.join("\n"), &keys)?;
    }
}
