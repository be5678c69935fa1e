//! Storage unit tests on an in-memory database: no wasm.

use super::*;

fn store() -> ObjectStorage {
    ObjectStorage::open_in_memory(Limits::default()).unwrap()
}

fn keys(entries: &[(String, Vec<u8>)]) -> Vec<&str> {
    entries.iter().map(|(k, _)| k.as_str()).collect()
}

fn filled(names: &[&str]) -> ObjectStorage {
    let mut s = store();
    for name in names {
        s.put(name, name.as_bytes()).unwrap();
    }
    s
}

fn list(s: &mut ObjectStorage, options: ListOptions) -> Vec<String> {
    keys(&s.list(&options).unwrap())
        .into_iter()
        .map(String::from)
        .collect()
}

#[test]
fn put_get_delete_round_trip() {
    let mut s = store();
    assert_eq!(s.get("a").unwrap(), None);
    s.put("a", b"1").unwrap();
    assert_eq!(s.get("a").unwrap(), Some(b"1".to_vec()));
    s.put("a", b"2").unwrap();
    assert_eq!(s.get("a").unwrap(), Some(b"2".to_vec()));
    assert!(s.delete("a").unwrap());
    assert!(!s.delete("a").unwrap());
    assert_eq!(s.get("a").unwrap(), None);
}

#[test]
fn get_many_returns_present_keys_sorted_once() {
    let mut s = filled(&["b", "a", "c"]);
    let got = s
        .get_many(&["c".into(), "missing".into(), "a".into(), "a".into()])
        .unwrap();
    assert_eq!(keys(&got), ["a", "c"]);
}

#[test]
fn put_many_and_delete_many() {
    let mut s = store();
    s.put_many(&[("x".into(), b"1".to_vec()), ("y".into(), b"2".to_vec())])
        .unwrap();
    assert_eq!(
        s.delete_many(&["x".into(), "y".into(), "z".into()])
            .unwrap(),
        2
    );
    assert!(s.list(&ListOptions::default()).unwrap().is_empty());
}

#[test]
fn list_orders_by_utf8_bytes() {
    // U+10000 encodes as F0 90 80 80, after U+FFFF (EF BF BF); UTF-16 order would differ.
    let mut s = filled(&["\u{10000}", "\u{FFFF}", "b", "a", "B", "\u{e9}", ""]);
    assert_eq!(
        list(&mut s, ListOptions::default()),
        ["", "B", "a", "b", "\u{e9}", "\u{FFFF}", "\u{10000}"]
    );
}

#[test]
fn list_start_is_inclusive_and_end_exclusive() {
    let mut s = filled(&["a", "b", "c", "d"]);
    let opts = ListOptions {
        start: Some("b".into()),
        end: Some("d".into()),
        ..Default::default()
    };
    assert_eq!(list(&mut s, opts), ["b", "c"]);
}

#[test]
fn list_start_after_is_exclusive() {
    let mut s = filled(&["a", "b", "b\0", "c"]);
    let opts = ListOptions {
        start_after: Some("b".into()),
        ..Default::default()
    };
    assert_eq!(list(&mut s, opts), ["b\0", "c"]);
}

#[test]
fn list_prefix_selects_only_prefixed_keys() {
    let mut s = filled(&[
        "user:",
        "user:1",
        "user:2",
        "users",
        "user;",
        "use",
        "\u{10FFFF}",
    ]);
    let opts = ListOptions {
        prefix: Some("user:".into()),
        ..Default::default()
    };
    assert_eq!(list(&mut s, opts), ["user:", "user:1", "user:2"]);
    // A prefix whose successor needs a carry still works.
    let mut s = filled(&["\u{7f}", "\u{7f}a", "\u{80}"]);
    let opts = ListOptions {
        prefix: Some("\u{7f}".into()),
        ..Default::default()
    };
    assert_eq!(list(&mut s, opts), ["\u{7f}", "\u{7f}a"]);
}

#[test]
fn list_prefix_combines_with_range() {
    let mut s = filled(&["p:a", "p:b", "p:c", "q"]);
    let opts = ListOptions {
        prefix: Some("p:".into()),
        start: Some("p:b".into()),
        end: Some("z".into()),
        ..Default::default()
    };
    assert_eq!(list(&mut s, opts), ["p:b", "p:c"]);
}

#[test]
fn list_reverse_and_limit() {
    let mut s = filled(&["a", "b", "c", "d"]);
    let opts = ListOptions {
        reverse: true,
        limit: Some(2),
        ..Default::default()
    };
    assert_eq!(list(&mut s, opts), ["d", "c"]);
    // Reverse does not change the meaning of start and end.
    let opts = ListOptions {
        reverse: true,
        start: Some("b".into()),
        end: Some("d".into()),
        ..Default::default()
    };
    assert_eq!(list(&mut s, opts), ["c", "b"]);
    let opts = ListOptions {
        limit: Some(3),
        ..Default::default()
    };
    assert_eq!(list(&mut s, opts), ["a", "b", "c"]);
}

#[test]
fn list_empty_or_inverted_ranges_are_empty() {
    let mut s = filled(&["a", "b"]);
    let opts = ListOptions {
        start: Some("b".into()),
        end: Some("a".into()),
        ..Default::default()
    };
    assert!(list(&mut s, opts).is_empty());
}

#[test]
fn list_rejects_zero_limit_and_start_with_start_after() {
    let mut s = store();
    let err = s
        .list(&ListOptions {
            limit: Some(0),
            ..Default::default()
        })
        .unwrap_err();
    assert!(matches!(err, StorageError::InvalidArgument(_)), "{err}");
    assert!(err.to_string().contains("positive"));
    let err = s
        .list(&ListOptions {
            start: Some("a".into()),
            start_after: Some("a".into()),
            ..Default::default()
        })
        .unwrap_err();
    assert!(err.to_string().contains("start-after"), "{err}");
}

#[test]
fn key_limit_is_2048_bytes_inclusive() {
    let mut s = store();
    let at = "k".repeat(2048);
    let over = "k".repeat(2049);
    s.put(&at, b"v").unwrap();
    assert!(s.get(&at).unwrap().is_some());
    let err = s.put(&over, b"v").unwrap_err();
    assert!(matches!(err, StorageError::LimitExceeded(_)));
    assert!(err.to_string().contains("2049"), "{err}");
    assert!(matches!(s.get(&over), Err(StorageError::LimitExceeded(_))));
    assert!(matches!(
        s.delete(&over),
        Err(StorageError::LimitExceeded(_))
    ));
    // Multi-byte characters count in bytes: 683 * 3 = 2049.
    assert!(s.put(&"\u{20ac}".repeat(683), b"v").is_err());
}

#[test]
fn value_limit_is_2_mib_inclusive() {
    let mut s = store();
    s.put("big", &vec![7u8; 2 << 20]).unwrap();
    assert_eq!(s.get("big").unwrap().unwrap().len(), 2 << 20);
    let err = s.put("big", &vec![7u8; (2 << 20) + 1]).unwrap_err();
    assert!(matches!(err, StorageError::LimitExceeded(_)));
    assert!(err.to_string().contains("\"big\""), "{err}");
    assert_eq!(s.get("big").unwrap().unwrap().len(), 2 << 20, "unchanged");
}

#[test]
fn batches_allow_128_keys_and_refuse_129() {
    let mut s = store();
    let entries = |n: usize| -> Vec<(String, Vec<u8>)> {
        (0..n).map(|i| (format!("k{i:03}"), vec![1])).collect()
    };
    let names = |n: usize| -> Vec<String> { (0..n).map(|i| format!("k{i:03}")).collect() };
    s.put_many(&entries(128)).unwrap();
    assert!(matches!(
        s.put_many(&entries(129)),
        Err(StorageError::LimitExceeded(_))
    ));
    assert_eq!(s.get_many(&names(128)).unwrap().len(), 128);
    assert!(matches!(
        s.get_many(&names(129)),
        Err(StorageError::LimitExceeded(_))
    ));
    assert!(matches!(
        s.delete_many(&names(129)),
        Err(StorageError::LimitExceeded(_))
    ));
    assert_eq!(s.delete_many(&names(128)).unwrap(), 128);
}

#[test]
fn put_many_writes_nothing_when_one_entry_is_too_large() {
    let mut s = store();
    let err = s
        .put_many(&[
            ("ok".into(), vec![1]),
            ("bad".into(), vec![0; (2 << 20) + 1]),
        ])
        .unwrap_err();
    assert!(matches!(err, StorageError::LimitExceeded(_)));
    assert_eq!(s.get("ok").unwrap(), None);
}

#[test]
fn delete_all_removes_everything_but_not_inside_a_transaction() {
    let mut s = filled(&["a", "b"]);
    let tx = s.txn_begin().unwrap();
    assert!(matches!(
        s.delete_all(None),
        Err(StorageError::InvalidArgument(_))
    ));
    s.txn_commit(tx).unwrap();
    s.delete_all(None).unwrap();
    assert!(s.list(&ListOptions::default()).unwrap().is_empty());
}

#[test]
fn transaction_commit_keeps_and_rollback_undoes() {
    let mut s = store();
    s.begin_turn().unwrap();
    let tx = s.txn_begin().unwrap();
    s.put("kept", b"1").unwrap();
    s.txn_commit(tx).unwrap();
    let tx = s.txn_begin().unwrap();
    s.put("undone", b"1").unwrap();
    s.txn_rollback(tx).unwrap();
    // Any storage call after the rollback fails until the transaction is dropped.
    let err = s.get("kept").unwrap_err();
    assert!(matches!(err, StorageError::TransactionClosed(_)));
    assert!(err.to_string().contains("rolled back"), "{err}");
    assert!(matches!(
        s.txn_commit(tx),
        Err(StorageError::TransactionClosed(_))
    ));
    s.txn_drop(tx).unwrap();
    assert_eq!(s.get("kept").unwrap(), Some(b"1".to_vec()));
    assert_eq!(s.get("undone").unwrap(), None);
    s.end_turn(true).unwrap();
}

#[test]
fn nested_transactions_roll_back_inner_only() {
    let mut s = store();
    let outer = s.txn_begin().unwrap();
    s.put("outer", b"1").unwrap();
    let inner = s.txn_begin().unwrap();
    s.put("inner", b"1").unwrap();
    assert!(
        matches!(s.txn_commit(outer), Err(StorageError::InvalidArgument(_))),
        "an outer transaction cannot commit while an inner one is open"
    );
    s.txn_rollback(inner).unwrap();
    s.txn_drop(inner).unwrap();
    s.txn_commit(outer).unwrap();
    assert_eq!(s.get("outer").unwrap(), Some(b"1".to_vec()));
    assert_eq!(s.get("inner").unwrap(), None);
}

#[test]
fn dropping_an_uncommitted_transaction_rolls_it_back() {
    let mut s = store();
    let tx = s.txn_begin().unwrap();
    s.put("a", b"1").unwrap();
    s.txn_drop(tx).unwrap();
    assert_eq!(s.get("a").unwrap(), None);
    assert!(!s.in_transaction());
}

#[test]
fn a_failed_turn_rolls_back_only_its_own_writes_within_a_batch() {
    let mut s = store();
    s.begin_batch().unwrap();
    s.begin_turn().unwrap();
    s.put("first", b"1").unwrap();
    s.end_turn(true).unwrap();
    s.begin_turn().unwrap();
    s.put("second", b"1").unwrap();
    let tx = s.txn_begin().unwrap();
    s.put("third", b"1").unwrap();
    let _ = tx;
    s.end_turn(false).unwrap();
    s.commit_batch().unwrap();
    assert_eq!(s.get("first").unwrap(), Some(b"1".to_vec()));
    assert_eq!(s.get("second").unwrap(), None);
    assert_eq!(s.get("third").unwrap(), None);
}

#[test]
fn a_transaction_left_open_at_the_end_of_a_turn_is_rolled_back() {
    let mut s = store();
    s.begin_turn().unwrap();
    s.put("turn", b"1").unwrap();
    let _leaked = s.txn_begin().unwrap();
    s.put("leaked", b"1").unwrap();
    s.end_turn(true).unwrap();
    assert_eq!(s.get("turn").unwrap(), Some(b"1".to_vec()));
    assert_eq!(s.get("leaked").unwrap(), None);
    assert!(s.connection().is_autocommit());
}

#[test]
fn the_alarm_is_set_overwritten_and_deleted() {
    let mut s = store();
    assert_eq!(s.get_alarm().unwrap(), None);
    s.set_alarm(EARLIEST_ALARM_MS).unwrap();
    s.set_alarm(2_000_000_000_000).unwrap();
    assert_eq!(s.get_alarm().unwrap(), Some(2_000_000_000_000));
    assert!(s.take_alarm_touched());
    assert!(!s.take_alarm_touched());
    s.delete_alarm().unwrap();
    assert_eq!(s.get_alarm().unwrap(), None);
}

#[test]
fn alarm_times_before_2000_are_refused() {
    let mut s = store();
    for bad in [0, 1, EARLIEST_ALARM_MS - 1, 1_700_000_000] {
        let err = s.set_alarm(bad).unwrap_err();
        assert!(matches!(err, StorageError::InvalidArgument(_)), "{bad}");
        assert!(err.to_string().contains("2000"), "{err}");
    }
    assert_eq!(s.get_alarm().unwrap(), None);
}

#[test]
fn an_alarm_set_in_a_rolled_back_transaction_is_undone() {
    let mut s = store();
    s.begin_turn().unwrap();
    let tx = s.txn_begin().unwrap();
    s.set_alarm(2_000_000_000_000).unwrap();
    s.txn_rollback(tx).unwrap();
    s.txn_drop(tx).unwrap();
    assert_eq!(s.get_alarm().unwrap(), None);
    s.set_alarm(2_000_000_000_000).unwrap();
    s.end_turn(false).unwrap();
    assert_eq!(
        s.get_alarm().unwrap(),
        None,
        "a failed turn leaves no alarm"
    );
}

#[test]
fn delete_all_also_deletes_the_alarm() {
    let mut s = filled(&["a"]);
    s.set_alarm(2_000_000_000_000).unwrap();
    s.delete_all(None).unwrap();
    assert_eq!(s.get_alarm().unwrap(), None);
}

#[test]
fn a_batch_reports_whether_it_wrote() {
    let mut s = store();
    s.begin_batch().unwrap();
    s.begin_turn().unwrap();
    assert_eq!(s.get("a").unwrap(), None);
    s.end_turn(true).unwrap();
    assert!(
        !s.batch_wrote(),
        "a read-only batch needs no durable commit"
    );
    s.begin_turn().unwrap();
    s.put("a", b"1").unwrap();
    s.end_turn(true).unwrap();
    assert!(s.batch_wrote());
    s.commit_batch().unwrap();
    assert!(!s.batch_wrote());
}

/// Setting a flag PRAGMA expires every prepared statement; the per-turn bookkeeping once
/// did that on every event, so each event re-parsed all of the host's statements.
#[test]
fn turns_do_not_re_prepare_the_hosts_statements() {
    use rusqlite::StatementStatus::RePrepare;
    let mut s = store();
    s.put("count", b"0").unwrap();
    for i in 0..5 {
        s.begin_batch().unwrap();
        s.begin_turn().unwrap();
        s.get("count").unwrap();
        s.put("count", i.to_string().as_bytes()).unwrap();
        s.end_turn(true).unwrap();
        s.commit_batch().unwrap();
    }
    for sql in [
        "SELECT value FROM _wdo_kv WHERE key = ?1",
        "SAVEPOINT turn",
        "RELEASE turn",
    ] {
        let stmt = s.conn.prepare_cached(sql).unwrap();
        assert_eq!(stmt.get_status(RePrepare), 0, "{sql} was re-prepared");
    }
}

#[test]
fn a_list_page_stops_before_its_byte_bound_and_says_so() {
    let mut s = store();
    let value = vec![7u8; 1000];
    for key in ["a", "b", "c", "d"] {
        s.put(key, &value).unwrap();
    }
    let all = ListOptions::default();
    // Room for two entries and a half: two, and it stopped.
    let (page, stopped) = s.list_page(&all, 2500).unwrap();
    assert_eq!((keys(&page), stopped), (vec!["a", "b"], true));
    // Smaller than one entry: still one, so a pager always moves on.
    let (page, stopped) = s.list_page(&all, 10).unwrap();
    assert_eq!((keys(&page), stopped), (vec!["a"], true));
    // Everything fits: not stopped.
    let (page, stopped) = s.list_page(&all, 1 << 20).unwrap();
    assert_eq!((page.len(), stopped), (4, false));
}
