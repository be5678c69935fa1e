//! Guest SQL unit tests on an in-memory database: no wasm.

use std::time::{Duration, Instant};

use super::*;

fn store() -> ObjectStorage {
    ObjectStorage::open_in_memory(Limits::default()).unwrap()
}

fn exec(s: &mut ObjectStorage, query: &str) -> Result<SqlOutput, SqlError> {
    s.sql_exec(query, &[], None)
}

fn ok(s: &mut ObjectStorage, query: &str) -> SqlOutput {
    exec(s, query).unwrap_or_else(|e| panic!("{query}: {e:?}"))
}

fn with_notes() -> ObjectStorage {
    let mut s = store();
    ok(
        &mut s,
        "CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT NOT NULL);
         INSERT INTO notes (text) VALUES ('a'), ('b'), ('c')",
    );
    s
}

/// Asserts that `query` is refused by the authorizer and returns the reason.
fn refused(s: &mut ObjectStorage, query: &str) -> String {
    match exec(s, query) {
        Err(SqlError::NotAuthorized(message)) => message,
        other => panic!("{query} was not refused: {other:?}"),
    }
}

fn text(value: &str) -> SqlValue {
    SqlValue::Text(value.into())
}

fn count(s: &mut ObjectStorage, table: &str) -> i64 {
    match ok(s, &format!("SELECT count(*) FROM {table}")).rows[0][0] {
        SqlValue::Integer(n) => n,
        ref other => panic!("count is {other:?}"),
    }
}

#[test]
fn exec_returns_columns_rows_and_counts_rows_read_and_written() {
    let mut s = store();
    ok(&mut s, "CREATE TABLE t (id INTEGER PRIMARY KEY, x TEXT)");
    let insert = ok(&mut s, "INSERT INTO t (x) VALUES ('a'), ('b'), ('c')");
    assert_eq!((insert.rows_read, insert.rows_written), (0, 3));
    assert!(insert.columns.is_empty() && insert.rows.is_empty());

    let all = ok(&mut s, "SELECT id, x AS name FROM t ORDER BY id");
    assert_eq!(all.columns, ["id", "name"]);
    assert_eq!(all.rows[2], [SqlValue::Integer(3), text("c")]);
    assert_eq!((all.rows_read, all.rows_written), (3, 0));

    // An unindexed filter scans every row, whatever it returns.
    let none = ok(&mut s, "SELECT * FROM t WHERE x = 'nothing'");
    assert_eq!((none.rows.len(), none.rows_read), (0, 3));
    let by_key = ok(&mut s, "SELECT * FROM t WHERE id = 2");
    assert_eq!(by_key.rows_read, 1);

    let update = ok(&mut s, "UPDATE t SET x = 'z'");
    assert_eq!((update.rows_read, update.rows_written), (3, 3));
}

#[test]
fn a_statement_list_runs_in_order_and_returns_the_last_statements_rows() {
    let mut s = store();
    let out = ok(
        &mut s,
        "CREATE TABLE t (x); INSERT INTO t VALUES (1); INSERT INTO t VALUES (2);
         SELECT sum(x) AS total FROM t; -- a trailing comment",
    );
    assert_eq!(out.columns, ["total"]);
    assert_eq!(out.rows, [[SqlValue::Integer(3)]]);
    assert_eq!(out.rows_written, 2);
}

#[test]
fn every_storage_class_round_trips_through_parameters() {
    let mut s = store();
    ok(&mut s, "CREATE TABLE v (a, b, c, d, e)");
    let values = vec![
        SqlValue::Null,
        SqlValue::Integer(i64::MIN),
        SqlValue::Real(1.5),
        text("héllo"),
        SqlValue::Blob(vec![0, 255, 7]),
    ];
    s.sql_exec("INSERT INTO v VALUES (?, ?2, :c, @d, $e)", &values, None)
        .unwrap();
    assert_eq!(ok(&mut s, "SELECT * FROM v").rows, [values]);
}

#[test]
fn parameters_must_match_the_last_statement() {
    let mut s = with_notes();
    let too_few = s.sql_exec(
        "SELECT * FROM notes WHERE id = ? OR text = ?",
        &[SqlValue::Integer(1)],
        None,
    );
    assert!(
        matches!(&too_few, Err(SqlError::InvalidArgument(m)) if m.contains("2 parameters") && m.contains("1 values")),
        "{too_few:?}"
    );
    let unused = s.sql_exec("SELECT 1", &[SqlValue::Integer(1)], None);
    assert!(
        matches!(unused, Err(SqlError::InvalidArgument(_))),
        "{unused:?}"
    );
    let early = s.sql_exec(
        "DELETE FROM notes WHERE id = ?; SELECT 1",
        &[SqlValue::Integer(1)],
        None,
    );
    assert!(
        matches!(&early, Err(SqlError::InvalidArgument(m)) if m.contains("last statement")),
        "{early:?}"
    );
    assert_eq!(
        count(&mut s, "notes"),
        3,
        "the refused list left nothing behind"
    );
    let empty = exec(&mut s, "  -- nothing\n");
    assert!(
        matches!(empty, Err(SqlError::InvalidArgument(_))),
        "{empty:?}"
    );
}

#[test]
fn injection_through_a_parameter_is_inert() {
    let mut s = with_notes();
    let evil = "x'; DROP TABLE notes; --";
    let out = s
        .sql_exec("SELECT * FROM notes WHERE text = ?", &[text(evil)], None)
        .unwrap();
    assert!(out.rows.is_empty());
    assert_eq!(count(&mut s, "notes"), 3);
}

#[test]
fn a_failed_call_carries_sqlites_message_and_leaves_none_of_its_writes() {
    let mut s = with_notes();
    let err = exec(
        &mut s,
        "INSERT INTO notes (id, text) VALUES (10, 'new'); INSERT INTO notes (id, text) VALUES (1, 'dup')",
    )
    .unwrap_err();
    assert!(
        matches!(&err, SqlError::Constraint(m) if m.contains("UNIQUE constraint failed: notes.id")),
        "{err:?}"
    );
    assert_eq!(count(&mut s, "notes"), 3);
    let err = exec(&mut s, "INSERT INTO notes (text) VALUES (NULL)").unwrap_err();
    assert!(
        matches!(&err, SqlError::Constraint(m) if m.contains("NOT NULL")),
        "{err:?}"
    );
    let err = exec(&mut s, "SELEC 1").unwrap_err();
    assert!(
        matches!(&err, SqlError::Query(m) if m.contains("syntax error")),
        "{err:?}"
    );
    let err = exec(&mut s, "SELECT * FROM missing").unwrap_err();
    assert!(
        matches!(&err, SqlError::Query(m) if m.contains("no such table: missing")),
        "{err:?}"
    );
}

#[test]
fn host_tables_can_be_neither_read_nor_written_even_through_views_and_triggers() {
    let mut s = with_notes();
    s.put("secret", b"42").unwrap();
    for query in [
        "SELECT * FROM _wdo_kv",
        "SELECT count(*) FROM _wdo_kv",
        "SELECT key FROM _WDO_KV",
        "SELECT * FROM main._wdo_kv",
        "INSERT INTO _wdo_kv VALUES (x'00', x'00')",
        "UPDATE _wdo_kv SET value = x'00'",
        "DELETE FROM _wdo_kv",
        "DROP TABLE _wdo_kv",
        "ALTER TABLE _wdo_kv RENAME TO mine",
        "CREATE INDEX i ON _wdo_kv (value)",
        "CREATE TRIGGER spy AFTER INSERT ON _wdo_kv BEGIN SELECT 1; END",
        "CREATE TABLE _wdo_alarm (x)",
        "CREATE INDEX _wdo_index ON notes (text)",
    ] {
        let message = refused(&mut s, query);
        assert!(message.contains("_wdo_"), "{query}: {message}");
    }
    ok(&mut s, "CREATE VIEW v AS SELECT * FROM _wdo_kv");
    let message = refused(&mut s, "SELECT * FROM v");
    assert!(
        message.contains("_wdo_kv") && message.contains("\"v\""),
        "{message}"
    );
    ok(
        &mut s,
        "CREATE TRIGGER t AFTER INSERT ON notes BEGIN DELETE FROM _wdo_kv; END",
    );
    refused(
        &mut s,
        "INSERT INTO notes (text) VALUES ('fires the trigger')",
    );
    assert_eq!(s.get("secret").unwrap(), Some(b"42".to_vec()));
    // ANALYZE of everything skips the host's tables instead of failing.
    ok(&mut s, "ANALYZE");
}

#[test]
fn renaming_a_table_into_the_hosts_names_is_refused_and_undone() {
    let mut s = with_notes();
    let message = refused(&mut s, "ALTER TABLE notes RENAME TO _wdo_notes");
    assert!(message.contains("_wdo_"), "{message}");
    assert_eq!(count(&mut s, "notes"), 3);
    ok(&mut s, "ALTER TABLE notes RENAME TO memos");
    assert_eq!(count(&mut s, "memos"), 3);
}

#[test]
fn the_schema_is_readable_host_tables_included() {
    // Names and definitions are not secrets; only the host tables' rows are.
    let mut s = with_notes();
    let out = ok(
        &mut s,
        "SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name",
    );
    assert_eq!(
        out.rows,
        [[text("_wdo_alarm")], [text("_wdo_kv")], [text("notes")]]
    );
    ok(&mut s, "PRAGMA table_list");
}

#[test]
fn attach_detach_and_vacuum_into_are_refused() {
    let mut s = store();
    assert_eq!(
        refused(&mut s, "ATTACH DATABASE ':memory:' AS other"),
        "ATTACH is not allowed: an object sees only its own database"
    );
    assert_eq!(
        refused(&mut s, "DETACH DATABASE main"),
        "DETACH is not allowed: an object sees only its own database"
    );
    s.begin_batch().unwrap();
    s.begin_turn().unwrap();
    // SQLite itself refuses VACUUM in a transaction, and every guest call runs in one (its
    // own savepoint at least).
    match exec(&mut s, "VACUUM INTO '/tmp/wdo-escape.sqlite'") {
        Err(SqlError::Query(message)) => {
            assert_eq!(message, "cannot VACUUM from within a transaction")
        }
        other => panic!("VACUUM INTO was not refused: {other:?}"),
    }
    assert!(!std::path::Path::new("/tmp/wdo-escape.sqlite").exists());
}

#[test]
fn transaction_statements_are_refused() {
    let mut s = store();
    for query in [
        "BEGIN",
        "BEGIN IMMEDIATE",
        "COMMIT",
        "END",
        "ROLLBACK",
        "SAVEPOINT mine",
        "RELEASE mine",
        "ROLLBACK TO turn",
    ] {
        let message = refused(&mut s, query);
        assert!(message.contains("transaction"), "{query}: {message}");
    }
}

#[test]
fn only_a_harmless_set_of_pragmas_is_allowed() {
    let mut s = with_notes();
    let info = ok(&mut s, "PRAGMA table_info(notes)");
    assert_eq!(info.rows.len(), 2);
    ok(&mut s, "SELECT name FROM pragma_table_info('notes')");
    ok(&mut s, "PRAGMA index_list(notes)");
    assert_eq!(
        ok(&mut s, "PRAGMA foreign_keys").rows,
        [[SqlValue::Integer(1)]]
    );
    ok(&mut s, "PRAGMA defer_foreign_keys = ON");
    for (query, named) in [
        ("PRAGMA journal_mode = DELETE", "journal_mode"),
        ("PRAGMA journal_mode", "journal_mode"),
        ("SELECT * FROM pragma_journal_mode", "journal_mode"),
        ("PRAGMA writable_schema = 1", "writable_schema"),
        ("PRAGMA max_page_count = 4294967294", "max_page_count"),
        ("PRAGMA foreign_keys = OFF", "foreign_keys"),
        ("PRAGMA synchronous = OFF", "synchronous"),
    ] {
        let message = refused(&mut s, query);
        assert!(message.contains(named), "{query}: {message}");
    }
}

#[test]
fn extensions_temporary_objects_and_foreign_virtual_tables_are_refused() {
    let mut s = store();
    assert!(refused(&mut s, "SELECT load_extension('/tmp/evil.so')").contains("load_extension"));
    assert!(refused(&mut s, "CREATE TEMP TABLE t (x)").contains("temporary"));
    assert!(refused(&mut s, "CREATE TEMP VIEW v AS SELECT 1").contains("temporary"));
    assert!(refused(&mut s, "CREATE VIRTUAL TABLE r USING rtree(id, a, b)").contains("rtree"));
    assert!(refused(&mut s, "SELECT * FROM dbstat").contains("dbstat"));
    ok(&mut s, "CREATE VIRTUAL TABLE docs USING fts5(body)");
    ok(&mut s, "INSERT INTO docs VALUES ('full text search')");
    let out = ok(&mut s, "SELECT body FROM docs WHERE docs MATCH 'search'");
    assert_eq!(out.rows.len(), 1);
}

#[test]
fn the_query_length_and_parameter_count_are_limited() {
    let mut s = store();
    let long = format!("SELECT '{}'", "x".repeat(100_000));
    let err = exec(&mut s, &long).unwrap_err();
    assert!(
        matches!(&err, SqlError::LimitExceeded(m) if m.contains("100000")),
        "{err:?}"
    );
    let at_limit = format!("SELECT '{}'", "x".repeat(100_000 - 9));
    assert_eq!(at_limit.len(), 100_000);
    ok(&mut s, &at_limit);

    let marks = |n: usize| vec!["?"; n].join(", ");
    let params = |n: usize| vec![SqlValue::Integer(1); n];
    let out = s
        .sql_exec(&format!("SELECT {}", marks(100)), &params(100), None)
        .unwrap();
    assert_eq!(out.columns.len(), 100);
    let err = s
        .sql_exec(&format!("SELECT {}", marks(101)), &params(101), None)
        .unwrap_err();
    assert!(
        matches!(&err, SqlError::LimitExceeded(m) if m.contains("101")),
        "{err:?}"
    );
}

#[test]
fn values_and_rows_over_2_mib_are_refused_while_the_host_keeps_its_own_limits() {
    let mut s = store();
    ok(&mut s, "CREATE TABLE b (x)");
    let limit = 2 << 20;
    let big = SqlValue::Text("x".repeat(limit + 1));
    let err = s
        .sql_exec("INSERT INTO b VALUES (?)", &[big], None)
        .unwrap_err();
    assert!(
        matches!(&err, SqlError::LimitExceeded(m) if m.contains("2097152")),
        "{err:?}"
    );
    let err = exec(&mut s, "INSERT INTO b VALUES (zeroblob(2097153))").unwrap_err();
    assert!(matches!(err, SqlError::LimitExceeded(_)), "{err:?}");
    let fits = SqlValue::Blob(vec![7; limit - 64]);
    s.sql_exec("INSERT INTO b VALUES (?)", &[fits], None)
        .unwrap();
    // The key-value API's largest entry is bigger than a guest row may be.
    s.put(&"k".repeat(2048), &vec![1; 2 << 20]).unwrap();
}

#[test]
fn a_result_over_its_limit_is_refused() {
    let limits = Limits {
        max_sql_result_bytes: 10_000,
        ..Limits::default()
    };
    let mut s = ObjectStorage::open_in_memory(limits).unwrap();
    ok(&mut s, "CREATE TABLE t (x); INSERT INTO t SELECT zeroblob(1000) FROM (VALUES (1),(2),(3),(4),(5),(6),(7),(8),(9),(10),(11))");
    let err = exec(&mut s, "SELECT x FROM t").unwrap_err();
    assert!(
        matches!(&err, SqlError::LimitExceeded(m) if m.contains("LIMIT")),
        "{err:?}"
    );
    assert_eq!(ok(&mut s, "SELECT x FROM t LIMIT 5").rows.len(), 5);
}

#[test]
fn sql_joins_the_turn_and_the_explicit_transactions() {
    let mut s = with_notes();
    s.begin_batch().unwrap();
    s.begin_turn().unwrap();
    s.put("k", b"1").unwrap();
    ok(&mut s, "INSERT INTO notes (text) VALUES ('turn')");
    let tx = s.txn_begin().unwrap();
    ok(&mut s, "INSERT INTO notes (text) VALUES ('tx')");
    s.txn_rollback(tx).unwrap();
    let closed = exec(&mut s, "SELECT 1").unwrap_err();
    assert!(
        matches!(closed, SqlError::TransactionClosed(_)),
        "{closed:?}"
    );
    s.txn_drop(tx).unwrap();
    assert_eq!(count(&mut s, "notes"), 4);
    s.end_turn(false).unwrap();
    s.commit_batch().unwrap();
    assert_eq!(
        count(&mut s, "notes"),
        3,
        "the failed turn rolled back its SQL"
    );
    assert_eq!(s.get("k").unwrap(), None, "and its key-value writes");
}

#[test]
fn delete_all_drops_the_guests_tables_and_keeps_the_hosts() {
    let mut s = store();
    ok(
        &mut s,
        "CREATE TABLE parent (id INTEGER PRIMARY KEY);
         CREATE TABLE child (p INTEGER REFERENCES parent(id));
         INSERT INTO parent VALUES (1); INSERT INTO child VALUES (1);
         CREATE INDEX child_p ON child (p);
         CREATE VIEW pv AS SELECT * FROM parent;
         CREATE TRIGGER tr AFTER INSERT ON parent BEGIN SELECT 1; END;
         CREATE TABLE seq (id INTEGER PRIMARY KEY AUTOINCREMENT); INSERT INTO seq DEFAULT VALUES;
         CREATE VIRTUAL TABLE docs USING fts5(body)",
    );
    s.put("k", b"v").unwrap();
    s.begin_batch().unwrap();
    s.begin_turn().unwrap();
    s.delete_all(None).unwrap();
    s.end_turn(true).unwrap();
    s.commit_batch().unwrap();
    let left = ok(
        &mut s,
        "SELECT name FROM sqlite_schema WHERE name NOT LIKE 'sqlite%' ORDER BY name",
    );
    assert_eq!(left.rows, [[text("_wdo_alarm")], [text("_wdo_kv")]]);
    assert_eq!(s.get("k").unwrap(), None);
    assert_eq!(
        ok(&mut s, "PRAGMA defer_foreign_keys").rows,
        [[SqlValue::Integer(0)]]
    );
    ok(&mut s, "CREATE TABLE parent (id INTEGER PRIMARY KEY)");
}

#[test]
fn the_database_size_grows_with_inserts() {
    let mut s = store();
    ok(&mut s, "CREATE TABLE t (x)");
    let before = s.database_size().unwrap();
    assert!(before > 0 && before % 4096 == 0, "{before}");
    ok(&mut s, "INSERT INTO t SELECT zeroblob(1000) FROM (VALUES (1),(2),(3),(4),(5),(6),(7),(8),(9),(10))");
    assert!(s.database_size().unwrap() > before);
}

#[test]
fn a_full_database_fails_its_batch_and_keeps_what_was_committed() {
    let limits = Limits {
        max_database_bytes: 64 << 10,
        ..Limits::default()
    };
    let mut s = ObjectStorage::open_in_memory(limits).unwrap();
    ok(&mut s, "CREATE TABLE t (x)");
    ok(&mut s, "INSERT INTO t VALUES (zeroblob(3000))");
    s.begin_batch().unwrap();
    s.begin_turn().unwrap();
    let full = loop {
        match exec(&mut s, "INSERT INTO t VALUES (zeroblob(3000))") {
            Ok(_) => continue,
            Err(e) => break e,
        }
    };
    assert!(
        matches!(&full, SqlError::DatabaseFull(m) if m.contains("65536")),
        "{full:?}"
    );
    assert!(full.fails_turn());
    // Whether SQLite rolled back the statement or the whole transaction, the batch ends
    // without keeping anything of the failed turn.
    let ended = s.end_turn(false);
    if ended.is_ok() {
        s.commit_batch().unwrap();
    } else {
        assert!(s.commit_batch().is_err());
        s.rollback_batch();
    }
    assert_eq!(count(&mut s, "t"), 1);
    s.put("after", b"1").unwrap();
}

#[test]
fn or_rollback_loses_the_batch_which_then_fails_to_commit() {
    let mut s = with_notes();
    s.begin_batch().unwrap();
    s.begin_turn().unwrap();
    s.put("first event", b"1").unwrap();
    s.end_turn(true).unwrap();
    s.begin_turn().unwrap();
    let err = exec(
        &mut s,
        "INSERT OR ROLLBACK INTO notes (id, text) VALUES (1, 'dup')",
    )
    .unwrap_err();
    assert!(err.fails_turn(), "{err:?}");
    assert!(matches!(s.put("x", b"1"), Err(StorageError::Aborted(_))));
    assert!(s.end_turn(true).is_err());
    assert!(s.begin_turn().is_err());
    assert!(
        s.commit_batch().is_err(),
        "the batch's events must not be acknowledged"
    );
    s.rollback_batch();
    assert_eq!(s.get("first event").unwrap(), None);
    assert_eq!(count(&mut s, "notes"), 3);
}

#[test]
fn a_deferred_foreign_key_violation_fails_only_its_own_turn() {
    let mut s = store();
    ok(
        &mut s,
        "CREATE TABLE parent (id INTEGER PRIMARY KEY);
         CREATE TABLE child (p INTEGER REFERENCES parent(id) DEFERRABLE INITIALLY DEFERRED)",
    );
    s.begin_batch().unwrap();
    s.begin_turn().unwrap();
    ok(
        &mut s,
        "INSERT INTO parent VALUES (1); INSERT INTO child VALUES (1)",
    );
    s.end_turn(true).unwrap();
    s.begin_turn().unwrap();
    ok(&mut s, "INSERT INTO child VALUES (99)");
    assert!(matches!(s.end_turn(true), Err(StorageError::Aborted(m)) if m.contains("FOREIGN KEY")));
    // A deferral asked for by one event does not carry over to the next one in the batch.
    s.begin_turn().unwrap();
    ok(&mut s, "PRAGMA defer_foreign_keys = ON");
    s.end_turn(true).unwrap();
    s.begin_turn().unwrap();
    let immediate = ok(&mut s, "PRAGMA defer_foreign_keys");
    assert_eq!(immediate.rows, [[SqlValue::Integer(0)]]);
    s.end_turn(true).unwrap();
    s.commit_batch().unwrap();
    assert_eq!(count(&mut s, "child"), 1);
}

#[test]
fn sql_running_past_its_deadline_is_interrupted() {
    let mut s = store();
    let started = Instant::now();
    let forever =
        "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c";
    let err = s
        .sql_exec(
            forever,
            &[],
            Some(Instant::now() + Duration::from_millis(100)),
        )
        .unwrap_err();
    assert!(matches!(err, SqlError::TimedOut), "{err:?}");
    assert!(started.elapsed() < Duration::from_secs(5));
    ok(&mut s, "SELECT 1");
}

#[test]
fn delete_all_drops_tables_whose_foreign_keys_are_malformed() {
    let mut s = store();
    // `v` references a column of `h` that is not unique: a "foreign key mismatch" whenever
    // SQLite checks that key, as dropping `h` first would.
    s.sql_exec("CREATE TABLE h (x)", &[], None).unwrap();
    s.sql_exec("CREATE TABLE v (y REFERENCES h(x))", &[], None)
        .unwrap();
    s.sql_exec("CREATE TABLE a (z REFERENCES v(y))", &[], None)
        .unwrap();
    s.delete_all(None).unwrap();
    let left: i64 = s
        .conn
        .query_row(
            "SELECT count(*) FROM sqlite_schema WHERE name IN ('h', 'v', 'a')",
            [],
            |row| row.get(0),
        )
        .unwrap();
    assert_eq!(left, 0);
}
