//! What a hostile guest's SQL tries against the host, on a real database file: reaching the
//! host's tables through `delete-all`, and results that would take the host's memory.

use std::time::{Duration, Instant};

use super::*;

fn open(dir: &tempfile::TempDir) -> ObjectStorage {
    ObjectStorage::open(
        &dir.path().join("object.sqlite"),
        Durability::Full,
        Limits::default(),
    )
    .unwrap()
}

fn ok(s: &mut ObjectStorage, query: &str) -> SqlOutput {
    s.sql_exec(query, &[], None)
        .unwrap_or_else(|e| panic!("{query}: {e:?}"))
}

/// The host's own rows, read as the host.
fn host_rows(s: &ObjectStorage) -> (i64, i64) {
    let count = |table: &str| {
        s.connection()
            .query_row(&format!("SELECT count(*) FROM {table}"), [], |row| {
                row.get(0)
            })
            .unwrap()
    };
    (count("_wdo_kv"), count("_wdo_alarm"))
}

/// The attack: dropping `a_parent` first (tables go in name order) deletes its rows (foreign keys are on), the cascade
/// deletes `b_child`'s rows, and `b_child`'s trigger writes into the host's tables. Run with the
/// host's privileges, that wrote a key and an alarm the guest could never have written.
const CASCADE_INTO_HOST_TABLES: &str = "
    CREATE TABLE a_parent (id INTEGER PRIMARY KEY);
    CREATE TABLE b_child (p INTEGER REFERENCES a_parent(id) ON DELETE CASCADE);
    CREATE TRIGGER smuggle AFTER DELETE ON b_child BEGIN
        INSERT INTO _wdo_kv VALUES (CAST('smuggled' AS BLOB), x'01');
        INSERT OR REPLACE INTO _wdo_alarm VALUES (1, 4102444800000);
    END;
    INSERT INTO a_parent VALUES (1); INSERT INTO b_child VALUES (1)";

#[test]
fn delete_all_runs_no_guest_trigger_with_the_hosts_privileges() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = open(&dir);
    ok(&mut s, CASCADE_INTO_HOST_TABLES);
    s.put("mine", b"1").unwrap();
    s.begin_batch().unwrap();
    s.begin_turn().unwrap();
    s.delete_all(None).unwrap();
    s.end_turn(true).unwrap();
    s.commit_batch().unwrap();
    drop(s);

    let s = open(&dir);
    assert_eq!(host_rows(&s), (0, 0), "delete-all left host rows behind");
    let left: i64 = s
        .connection()
        .query_row(
            "SELECT count(*) FROM sqlite_schema WHERE name NOT LIKE '\\_wdo\\_%' ESCAPE '\\'",
            [],
            |row| row.get(0),
        )
        .unwrap();
    assert_eq!(left, 0, "delete-all left guest schema behind");
}

#[test]
fn delete_all_stops_at_the_events_deadline_and_keeps_everything() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = open(&dir);
    // Dropping `a_parent` deletes 20,000 rows of `b_child` one by one: far more than one
    // progress interval of work. (They reference each other, so neither can go after the
    // other, and `a_parent` goes first.)
    ok(
        &mut s,
        "CREATE TABLE a_parent (id INTEGER PRIMARY KEY, k INTEGER UNIQUE REFERENCES b_child(u));
         CREATE TABLE b_child (p INTEGER REFERENCES a_parent(id) ON DELETE CASCADE, u INTEGER UNIQUE);
         INSERT INTO a_parent (id) WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 20000) SELECT x FROM n;
         INSERT INTO b_child (p) SELECT id FROM a_parent",
    );
    s.put("mine", b"1").unwrap();
    s.begin_batch().unwrap();
    s.begin_turn().unwrap();
    let started = Instant::now();
    let err = s.delete_all(Some(Instant::now())).unwrap_err();
    assert!(matches!(err, StorageError::TimedOut(_)), "{err:?}");
    assert!(started.elapsed() < Duration::from_secs(30));
    let _ = s.end_turn(false);
    s.rollback_batch();
    assert_eq!(s.get("mine").unwrap(), Some(b"1".to_vec()));
    assert_eq!(
        ok(&mut s, "SELECT count(*) FROM b_child").rows,
        [[SqlValue::Integer(20000)]]
    );
}

/// 20,000 rows of 10 empty strings: 160 KB as results were once counted (8 bytes a row and
/// nothing for an empty string), but ~6.9 MB as the host holds them.
const MANY_SMALL_VALUES: &str = "
    WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 20000)
    SELECT '', '', '', '', '', '', '', '', '', '' FROM n";

#[test]
fn a_sql_result_is_charged_by_the_memory_it_takes_in_the_host() {
    let dir = tempfile::tempdir().unwrap();
    let limits = Limits {
        max_sql_result_bytes: 1 << 20,
        ..Limits::default()
    };
    let path = dir.path().join("object.sqlite");
    let mut s = ObjectStorage::open(&path, Durability::Full, limits).unwrap();
    match s.sql_exec(MANY_SMALL_VALUES, &[], None) {
        Err(SqlError::LimitExceeded(message)) => assert_eq!(
            message,
            "the result of statement 1 is over the limit of 1048576 bytes (counted as the host \
             holds it: 24 bytes per row and 32 per value, plus each text's and BLOB's bytes); \
             select fewer rows (LIMIT and OFFSET) or columns"
        ),
        other => panic!("the result was not refused: {other:?}"),
    }
    // The same rows fit in pages, and the store goes on.
    let page = ok(&mut s, &format!("{MANY_SMALL_VALUES} LIMIT 2000"));
    assert_eq!(page.rows.len(), 2000);
}

/// A store with `count` entries of 2,000 bytes, keys `fill-0000`...
fn filled(dir: &tempfile::TempDir, count: usize, max_read_bytes: usize) -> ObjectStorage {
    let limits = Limits {
        max_read_bytes,
        ..Limits::default()
    };
    let path = dir.path().join("object.sqlite");
    let mut s = ObjectStorage::open(&path, Durability::Full, limits).unwrap();
    for i in 0..count {
        s.put(&format!("fill-{i:04}"), &[b'x'; 2000]).unwrap();
    }
    s
}

#[test]
fn a_list_over_its_byte_limit_is_refused_and_its_pages_are_not() {
    let dir = tempfile::tempdir().unwrap();
    // 100 entries of 48 + 9 + 2,000 bytes: 205,700 bytes, over the limit of 100,000.
    let mut s = filled(&dir, 100, 100_000);
    match s.list(&ListOptions::default()) {
        Err(StorageError::LimitExceeded(message)) => assert_eq!(
            message,
            "the entries of this list are over the limit of 100000 bytes for one call (keys and \
             values, and 48 bytes per entry); list them in pages: pass a limit, then \
             start-after the last key returned"
        ),
        other => panic!("the list was not refused: {:?}", other.map(|e| e.len())),
    }
    let mut listed = Vec::new();
    loop {
        let page = s
            .list(&ListOptions {
                start_after: listed.last().cloned(),
                limit: Some(40),
                ..ListOptions::default()
            })
            .unwrap();
        if page.is_empty() {
            break;
        }
        listed.extend(page.into_iter().map(|(key, _)| key));
    }
    assert_eq!(listed.len(), 100);
}

#[test]
fn get_many_over_the_byte_limit_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = filled(&dir, 60, 100_000);
    let keys = |n: usize| (0..n).map(|i| format!("fill-{i:04}")).collect::<Vec<_>>();
    match s.get_many(&keys(60)) {
        Err(StorageError::LimitExceeded(message)) => assert_eq!(
            message,
            "the values of these keys are over the limit of 100000 bytes for one call (keys \
             and values, and 48 bytes per entry); get fewer keys at once"
        ),
        other => panic!("get-many was not refused: {:?}", other.map(|e| e.len())),
    }
    assert_eq!(s.get_many(&keys(40)).unwrap().len(), 40);
}
