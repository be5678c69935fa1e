//! What guest SQL may do: the rules the SQLite authorizer applies to every action of a guest
//! statement, decided from the action alone (see `guest_mode.rs` for when they apply).
//!
//! SQLite asks about every table a statement reads or writes, including through views and
//! triggers, so a view or trigger cannot reach a host table either. Anything not allowed
//! below is refused, with a message that names what was refused:
//!
//! - host tables (names beginning with `_wdo_`, in any case): no read, no write, no index,
//!   trigger or view of that name or on them;
//! - ATTACH and DETACH: an object sees its own database only;
//! - BEGIN, COMMIT, ROLLBACK, SAVEPOINT, RELEASE: every call already runs inside the turn's
//!   transaction, and nested ones are the storage API's;
//! - temporary tables, indexes, views and triggers: they would live in the connection, not in
//!   the object's database, and outlive the transactions that created them;
//! - virtual tables other than `fts5` and `fts5vocab`, and `dbstat` (the pages of every table);
//! - PRAGMAs other than the read-only set in [`check_pragma`];
//! - the functions `load_extension` and `fts3_tokenizer`.
//!
//! The schema itself (`sqlite_schema`, `PRAGMA table_list`) stays readable, host tables'
//! names included: knowing that `_wdo_kv` exists reveals nothing of its content.

use rusqlite::hooks::{AuthAction, AuthContext};

/// Tables, indexes, views and triggers whose names begin with this belong to the host.
pub const RESERVED_PREFIX: &str = "_wdo_";

/// The authorizer's answer to one action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Allow,
    /// Skip the action without an error (ANALYZE of every table skips the host's).
    Ignore,
    /// Refuse the statement; the message says what was refused and why.
    Deny(String),
}

/// Whether `name` is in the host's namespace (compared as SQLite compares names: ASCII
/// case-insensitively).
pub fn is_reserved(name: &str) -> bool {
    let prefix = RESERVED_PREFIX.as_bytes();
    name.len() >= prefix.len() && name.as_bytes()[..prefix.len()].eq_ignore_ascii_case(prefix)
}

/// The decision for one action of a guest statement.
pub fn authorize(context: &AuthContext<'_>) -> Decision {
    let decision = decide(&context.action);
    match (decision, context.accessor) {
        (Decision::Deny(message), Some(through)) => {
            Decision::Deny(format!("{message} (through view or trigger {through:?})"))
        }
        (decision, _) => decision,
    }
}

fn decide(action: &AuthAction<'_>) -> Decision {
    use AuthAction as A;
    match *action {
        A::Select | A::Recursive => Decision::Allow,
        A::Read { table_name, .. } => {
            if table_name.eq_ignore_ascii_case("dbstat") {
                return deny("reading dbstat is not allowed: it shows the pages of host tables");
            }
            table_access("read", table_name)
        }
        A::Insert { table_name } => table_access("insert into", table_name),
        A::Update { table_name, .. } => table_access("update", table_name),
        A::Delete { table_name } => table_access("delete from", table_name),
        A::CreateTable { table_name: name }
        | A::DropTable { table_name: name }
        | A::CreateView { view_name: name }
        | A::DropView { view_name: name }
        | A::Reindex { index_name: name }
        | A::AlterTable {
            table_name: name, ..
        } => own_name(name),
        A::CreateIndex {
            index_name: name,
            table_name,
        }
        | A::DropIndex {
            index_name: name,
            table_name,
        }
        | A::CreateTrigger {
            trigger_name: name,
            table_name,
        }
        | A::DropTrigger {
            trigger_name: name,
            table_name,
        } => match own_name(name) {
            Decision::Allow => own_name(table_name),
            refused => refused,
        },
        A::Analyze { table_name } if is_reserved(table_name) => Decision::Ignore,
        A::Analyze { .. } => Decision::Allow,
        A::CreateTempTable { .. }
        | A::CreateTempIndex { .. }
        | A::CreateTempTrigger { .. }
        | A::CreateTempView { .. }
        | A::DropTempTable { .. }
        | A::DropTempIndex { .. }
        | A::DropTempTrigger { .. }
        | A::DropTempView { .. } => deny(
            "temporary tables, indexes, views and triggers are not allowed: they would not be \
             part of the object's database; create ordinary ones",
        ),
        A::CreateVtable { module_name, .. } | A::DropVtable { module_name, .. } => {
            if module_name.eq_ignore_ascii_case("fts5")
                || module_name.eq_ignore_ascii_case("fts5vocab")
            {
                Decision::Allow
            } else {
                Decision::Deny(format!(
                    "virtual table module {module_name:?} is not allowed: only fts5 and fts5vocab are"
                ))
            }
        }
        A::Transaction { .. } | A::Savepoint { .. } => deny(
            "transaction statements (BEGIN, COMMIT, ROLLBACK, SAVEPOINT, RELEASE) are not \
             allowed: every call already runs inside the turn's transaction; use the storage \
             transaction API for nested transactions",
        ),
        A::Attach { .. } => deny("ATTACH is not allowed: an object sees only its own database"),
        A::Detach { .. } => deny("DETACH is not allowed: an object sees only its own database"),
        A::Pragma {
            pragma_name,
            pragma_value,
        } => check_pragma(pragma_name, pragma_value),
        A::Function { function_name } => {
            if function_name.eq_ignore_ascii_case("load_extension")
                || function_name.eq_ignore_ascii_case("fts3_tokenizer")
            {
                Decision::Deny(format!("the function {function_name}() is not allowed"))
            } else {
                Decision::Allow
            }
        }
        A::Unknown { code, .. } => Decision::Deny(format!("SQLite action {code} is not allowed")),
        _ => deny("this kind of statement is not allowed"),
    }
}

fn deny(message: &str) -> Decision {
    Decision::Deny(message.to_owned())
}

fn table_access(verb: &str, table: &str) -> Decision {
    if is_reserved(table) {
        return Decision::Deny(format!(
            "access to {table} is not allowed (cannot {verb} it): tables whose names begin with \
             {RESERVED_PREFIX} belong to the host; use the storage API for key-value data"
        ));
    }
    Decision::Allow
}

fn own_name(name: &str) -> Decision {
    if is_reserved(name) {
        return Decision::Deny(format!(
            "the name {name} is reserved: names beginning with {RESERVED_PREFIX} belong to the host"
        ));
    }
    Decision::Allow
}

/// PRAGMAs that only describe the schema or the database, with any argument.
const INTROSPECTION_PRAGMAS: &[&str] = &[
    "table_info",
    "table_xinfo",
    "table_list",
    "index_list",
    "index_info",
    "index_xinfo",
    "foreign_key_list",
    "foreign_key_check",
    "quick_check",
    "integrity_check",
    "collation_list",
];

/// PRAGMAs that may be read (without a value) but not set.
const READ_ONLY_PRAGMAS: &[&str] = &[
    "foreign_keys",
    "page_count",
    "page_size",
    "max_page_count",
    "freelist_count",
    "user_version",
    "schema_version",
    "data_version",
    "encoding",
];

/// The PRAGMAs a guest may run: the introspection and read-only ones above, and
/// `defer_foreign_keys`, which may also be set (it ends with the transaction).
pub fn check_pragma(name: &str, value: Option<&str>) -> Decision {
    let lower = name.to_ascii_lowercase();
    let lower = lower.as_str();
    if INTROSPECTION_PRAGMAS.contains(&lower) {
        return Decision::Allow;
    }
    if lower == "defer_foreign_keys" {
        return match value {
            None => Decision::Allow,
            Some(value) if is_boolean(value) => Decision::Allow,
            Some(value) => Decision::Deny(format!(
                "PRAGMA defer_foreign_keys = {value} is not allowed: the value must be ON or OFF"
            )),
        };
    }
    if READ_ONLY_PRAGMAS.contains(&lower) {
        return match value {
            None => Decision::Allow,
            Some(_) if lower == "foreign_keys" => deny(
                "PRAGMA foreign_keys cannot be set: foreign keys are always enforced (SQLite \
                 ignores this PRAGMA inside a transaction, and every call runs inside one); use \
                 PRAGMA defer_foreign_keys = ON to check them when the turn ends instead",
            ),
            Some(value) => Decision::Deny(format!(
                "PRAGMA {name} = {value} is not allowed: {name} may only be read"
            )),
        };
    }
    Decision::Deny(format!(
        "PRAGMA {name} is not allowed; allowed are {}, defer_foreign_keys, and reading {}",
        INTROSPECTION_PRAGMAS.join(", "),
        READ_ONLY_PRAGMAS.join(", ")
    ))
}

fn is_boolean(value: &str) -> bool {
    let value = value.trim_matches(|c| c == '\'' || c == '"');
    ["on", "off", "true", "false", "yes", "no", "1", "0"]
        .iter()
        .any(|word| value.eq_ignore_ascii_case(word))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserved_names_are_matched_case_insensitively() {
        assert!(is_reserved("_wdo_kv"));
        assert!(is_reserved("_WDO_Kv"));
        assert!(!is_reserved("_wdo"));
        assert!(!is_reserved("wdo_kv"));
        assert!(!is_reserved("é_wdo_"));
    }

    #[test]
    fn pragmas_are_allowed_only_from_the_list() {
        assert_eq!(check_pragma("table_info", Some("notes")), Decision::Allow);
        assert_eq!(check_pragma("TABLE_LIST", None), Decision::Allow);
        assert_eq!(check_pragma("foreign_keys", None), Decision::Allow);
        assert_eq!(
            check_pragma("defer_foreign_keys", Some("'on'")),
            Decision::Allow
        );
        for (name, value, expected) in [
            ("journal_mode", Some("DELETE"), "journal_mode"),
            ("max_page_count", Some("99999999"), "may only be read"),
            ("foreign_keys", Some("OFF"), "always enforced"),
            ("defer_foreign_keys", Some("maybe"), "ON or OFF"),
            ("writable_schema", Some("1"), "writable_schema"),
        ] {
            match check_pragma(name, value) {
                Decision::Deny(message) => assert!(message.contains(expected), "{message}"),
                other => panic!("PRAGMA {name} = {value:?} was not refused: {other:?}"),
            }
        }
    }
}
