//! Property tests, bounded to run in seconds: the key-value API against a model (a
//! `BTreeMap` per open transaction) with every `list` option, nested transactions,
//! rollbacks and turns; and random guest SQL, which must never change a host table.

use std::collections::BTreeMap;

use proptest::prelude::*;

use super::*;

type Model = BTreeMap<String, Vec<u8>>;

#[derive(Debug, Clone)]
enum Op {
    Put(String, Vec<u8>),
    Get(String),
    Delete(String),
    PutMany(Vec<(String, Vec<u8>)>),
    GetMany(Vec<String>),
    DeleteMany(Vec<String>),
    List(ListOptions),
    Begin,
    Commit,
    Rollback,
    DeleteAll,
}

/// Keys from a small alphabet, so that operations meet each other's keys.
fn key() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(vec!['a', 'b', 'é', '\u{10000}']), 0..3)
        .prop_map(|chars| chars.into_iter().collect())
}

fn value() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>(), 0..4)
}

fn list_options() -> impl Strategy<Value = ListOptions> {
    (
        prop::option::of(key()),
        any::<bool>(),
        prop::option::of(key()),
        prop::option::of(key()),
        any::<bool>(),
        prop::option::of(0u32..4),
    )
        .prop_map(|(from, after, end, prefix, reverse, limit)| ListOptions {
            start: from.clone().filter(|_| !after),
            start_after: from.filter(|_| after),
            end,
            prefix,
            reverse,
            limit,
        })
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (key(), value()).prop_map(|(k, v)| Op::Put(k, v)),
        2 => key().prop_map(Op::Get),
        2 => key().prop_map(Op::Delete),
        1 => prop::collection::vec((key(), value()), 0..4).prop_map(Op::PutMany),
        1 => prop::collection::vec(key(), 0..4).prop_map(Op::GetMany),
        1 => prop::collection::vec(key(), 0..4).prop_map(Op::DeleteMany),
        3 => list_options().prop_map(Op::List),
        2 => Just(Op::Begin),
        1 => Just(Op::Commit),
        1 => Just(Op::Rollback),
        1 => Just(Op::DeleteAll),
    ]
}

/// What `list` answers, from the model.
fn model_list(model: &Model, o: &ListOptions) -> Vec<(String, Vec<u8>)> {
    let mut entries: Vec<_> = model
        .iter()
        .filter(|(k, _)| o.start.as_ref().is_none_or(|s| *k >= s))
        .filter(|(k, _)| o.start_after.as_ref().is_none_or(|s| *k > s))
        .filter(|(k, _)| o.end.as_ref().is_none_or(|e| *k < e))
        .filter(|(k, _)| o.prefix.as_ref().is_none_or(|p| k.starts_with(p.as_str())))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if o.reverse {
        entries.reverse();
    }
    entries.truncate(o.limit.map_or(usize::MAX, |n| n as usize));
    entries
}

/// Runs `ops` in one turn of `s` against `levels` (the model: one map per open
/// transaction, the turn's first), checking every answer.
fn run_turn(s: &mut ObjectStorage, levels: &mut Vec<Model>, ops: &[Op]) {
    let mut transactions = Vec::new();
    for op in ops {
        let top = levels.last_mut().unwrap();
        match op {
            Op::Put(k, v) => {
                s.put(k, v).unwrap();
                top.insert(k.clone(), v.clone());
            }
            Op::Get(k) => assert_eq!(s.get(k).unwrap(), top.get(k).cloned(), "get {k:?}"),
            Op::Delete(k) => assert_eq!(s.delete(k).unwrap(), top.remove(k).is_some()),
            Op::PutMany(entries) => {
                s.put_many(entries).unwrap();
                top.extend(entries.iter().cloned());
            }
            Op::GetMany(keys) => {
                let mut expected: Vec<_> = keys
                    .iter()
                    .filter_map(|k| top.get(k).map(|v| (k.clone(), v.clone())))
                    .collect();
                expected.sort();
                expected.dedup();
                assert_eq!(s.get_many(keys).unwrap(), expected, "get-many {keys:?}");
            }
            Op::DeleteMany(keys) => {
                let mut existed: Vec<&String> =
                    keys.iter().filter(|k| top.contains_key(*k)).collect();
                existed.sort();
                existed.dedup();
                assert_eq!(s.delete_many(keys).unwrap() as usize, existed.len());
                for k in keys {
                    top.remove(k);
                }
            }
            Op::List(options) => match s.list(options) {
                Ok(entries) => assert_eq!(entries, model_list(top, options), "{options:?}"),
                Err(StorageError::InvalidArgument(_)) => assert_eq!(options.limit, Some(0)),
                Err(e) => panic!("list {options:?}: {e}"),
            },
            Op::Begin => {
                transactions.push(s.txn_begin().unwrap());
                let copy = top.clone();
                levels.push(copy);
            }
            Op::Commit => {
                if let Some(id) = transactions.pop() {
                    s.txn_commit(id).unwrap();
                    let committed = levels.pop().unwrap();
                    *levels.last_mut().unwrap() = committed;
                }
            }
            Op::Rollback => {
                if let Some(id) = transactions.pop() {
                    s.txn_rollback(id).unwrap();
                    s.txn_drop(id).unwrap();
                    levels.pop();
                }
            }
            Op::DeleteAll => match s.delete_all(None) {
                Ok(()) => {
                    assert!(transactions.is_empty());
                    top.clear();
                }
                Err(StorageError::InvalidArgument(_)) => assert!(!transactions.is_empty()),
                Err(e) => panic!("delete-all: {e}"),
            },
        }
    }
    // Transactions left open end with the turn, rolled back.
    levels.truncate(1);
}

fn everything(s: &mut ObjectStorage) -> Vec<(String, Vec<u8>)> {
    s.list(&ListOptions::default()).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 128,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn the_key_value_api_behaves_as_its_model(
        first in prop::collection::vec(op(), 0..40),
        second in prop::collection::vec(op(), 0..40),
        keep_second in any::<bool>(),
    ) {
        let mut s = ObjectStorage::open_in_memory(Limits::default()).unwrap();
        s.begin_batch().unwrap();
        s.begin_turn().unwrap();
        let mut levels = vec![Model::new()];
        run_turn(&mut s, &mut levels, &first);
        s.end_turn(true).unwrap();
        let after_first = levels[0].clone();
        s.begin_turn().unwrap();
        run_turn(&mut s, &mut levels, &second);
        s.end_turn(keep_second).unwrap();
        s.commit_batch().unwrap();
        let expected = if keep_second { levels.pop().unwrap() } else { after_first };
        prop_assert_eq!(everything(&mut s), expected.into_iter().collect::<Vec<_>>());
    }
}

/// Fragments of guest SQL aimed at the host's tables, directly and through views,
/// triggers, renames, CTEs and schema changes.
fn statement() -> impl Strategy<Value = String> {
    let target = prop::sample::select(vec![
        "_wdo_kv",
        "_WDO_KV",
        "main._wdo_kv",
        "\"_wdo_kv\"",
        "_wdo_alarm",
        "[_wdo_alarm]",
        "g",
        "v",
        "sqlite_schema",
    ]);
    let guest = prop::sample::select(vec!["g", "h"]);
    let name = prop::sample::select(vec!["g", "h", "v", "_wdo_x", "_Wdo_kv2", "t"]);
    (target, guest, name, 0..14u8).prop_map(|(t, g, n, kind)| match kind {
        0 => format!("SELECT * FROM {t}"),
        1 => format!("INSERT INTO {t} VALUES (x'01', x'02')"),
        2 => format!("UPDATE {t} SET value = x'00'"),
        3 => format!("DELETE FROM {t}"),
        4 => format!("CREATE VIEW IF NOT EXISTS {n} AS SELECT * FROM {t}"),
        5 => format!(
            "CREATE TRIGGER IF NOT EXISTS tr_{g} AFTER INSERT ON {g} BEGIN DELETE FROM {t}; END"
        ),
        6 => format!("INSERT INTO {g} VALUES (1, 2)"),
        7 => format!("ALTER TABLE {g} RENAME TO {n}"),
        8 => format!("DROP TABLE IF EXISTS {t}"),
        9 => format!("WITH c AS (SELECT * FROM {t}) SELECT count(*) FROM c"),
        10 => format!("CREATE TABLE IF NOT EXISTS {n} (a, b REFERENCES {g} ON DELETE CASCADE)"),
        11 => format!("CREATE INDEX IF NOT EXISTS i_{g} ON {t} (1)"),
        12 => format!("CREATE TABLE IF NOT EXISTS {g} (a PRIMARY KEY, b)"),
        _ => "DELETE_ALL".to_owned(),
    })
}

/// The host's tables as the host sees them: schema, keys and the alarm.
fn host_state(s: &ObjectStorage) -> (Vec<(String, String)>, Vec<(Vec<u8>, Vec<u8>)>, Option<u64>) {
    let conn = s.connection();
    let schema = conn
        .prepare("SELECT name, coalesce(sql, '') FROM sqlite_schema WHERE name LIKE '\\_wdo\\_%' ESCAPE '\\' ORDER BY name")
        .unwrap()
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    let kv = conn
        .prepare("SELECT key, value FROM _wdo_kv ORDER BY key")
        .unwrap()
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    (schema, kv, s.read_alarm().unwrap())
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 128,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn random_guest_sql_never_changes_a_host_table(
        statements in prop::collection::vec(statement(), 1..12),
    ) {
        let mut s = ObjectStorage::open_in_memory(Limits::default()).unwrap();
        s.put("secret", b"42").unwrap();
        s.set_alarm(4_102_444_800_000).unwrap();
        let before = host_state(&s);
        for statement in &statements {
            if statement == "DELETE_ALL" {
                s.delete_all(None).unwrap();
                // The guest's own delete-all is the one thing that clears them.
                s.put("secret", b"42").unwrap();
                s.set_alarm(4_102_444_800_000).unwrap();
            } else if let Err(error) = s.sql_exec(statement, &[], None) {
                prop_assert!(!matches!(error, SqlError::Storage(_)), "{}: {:?}", statement, error);
            }
            prop_assert_eq!(&host_state(&s), &before, "after {}", statement);
        }
    }
}
