//! SQL through the real host, with the probe: refusals and limits as the guest meets them,
//! SQL in the turn's transaction, the database's size limit, and the shared database file.

use serde_json::{json, Value};

use crate::harness::{Options, Server};

/// Runs `query` in object `name` of the probe; the probe answers errors as values.
async fn sql(server: &Server, name: &str, query: &str, params: Value) -> Value {
    let (status, value) = server
        .post(
            &format!("/probe/{name}/sql"),
            json!({"query": query, "params": params}),
        )
        .await;
    assert_eq!(status, 200, "{query}: {value}");
    value
}

async fn rows(server: &Server, name: &str, query: &str) -> Value {
    let value = sql(server, name, query, json!([])).await;
    assert!(value["error"].is_null(), "{query}: {value}");
    value["rows"].clone()
}

async fn key(server: &Server, name: &str, key: &str) -> Value {
    let (status, value) = server.get(&format!("/probe/{name}/get?key={key}")).await;
    assert_eq!(status, 200);
    value["value"].clone()
}

#[tokio::test(flavor = "multi_thread")]
async fn every_refusal_reaches_the_guest_as_an_error_naming_what_was_refused() {
    let server = Server::start();
    server
        .client
        .post(server.url("/probe/r/put?key=kept"))
        .body("yes")
        .send()
        .await
        .unwrap();
    rows(&server, "r", "CREATE TABLE t (x)").await;
    let long = format!("SELECT '{}'", "x".repeat(100_000));
    let many: Vec<Value> = (0..101).map(|i| json!(i)).collect();
    let marks = format!("SELECT {}", vec!["?"; 101].join(","));
    let cases: Vec<(&str, Value, &str, &str)> = vec![
        (
            "SELECT * FROM _wdo_kv",
            json!([]),
            "NotAuthorized",
            "_wdo_kv",
        ),
        (
            "SELECT count(*) FROM _wdo_kv",
            json!([]),
            "NotAuthorized",
            "_wdo_kv",
        ),
        (
            "INSERT INTO _wdo_kv VALUES (x'01', x'01')",
            json!([]),
            "NotAuthorized",
            "_wdo_kv",
        ),
        ("DELETE FROM _wdo_kv", json!([]), "NotAuthorized", "_wdo_kv"),
        (
            "CREATE VIEW peek AS SELECT * FROM _wdo_kv; SELECT * FROM peek",
            json!([]),
            "NotAuthorized",
            "_wdo_kv",
        ),
        (
            "CREATE TRIGGER spy AFTER INSERT ON _wdo_kv BEGIN SELECT 1; END",
            json!([]),
            "NotAuthorized",
            "_wdo_kv",
        ),
        (
            "ATTACH DATABASE '/tmp/elsewhere.sqlite' AS other",
            json!([]),
            "NotAuthorized",
            "ATTACH",
        ),
        ("DETACH DATABASE main", json!([]), "NotAuthorized", "DETACH"),
        ("BEGIN", json!([]), "NotAuthorized", "BEGIN"),
        ("COMMIT", json!([]), "NotAuthorized", "COMMIT"),
        ("ROLLBACK", json!([]), "NotAuthorized", "ROLLBACK"),
        ("SAVEPOINT mine", json!([]), "NotAuthorized", "SAVEPOINT"),
        ("RELEASE mine", json!([]), "NotAuthorized", "RELEASE"),
        (
            "PRAGMA journal_mode = DELETE",
            json!([]),
            "NotAuthorized",
            "journal_mode",
        ),
        (
            "PRAGMA writable_schema = ON",
            json!([]),
            "NotAuthorized",
            "writable_schema",
        ),
        (
            "PRAGMA max_page_count = 99999999",
            json!([]),
            "NotAuthorized",
            "max_page_count",
        ),
        (
            "SELECT load_extension('/tmp/evil.so')",
            json!([]),
            "NotAuthorized",
            "load_extension",
        ),
        (
            "CREATE TEMP TABLE scratch (x)",
            json!([]),
            "NotAuthorized",
            "temporary",
        ),
        (&long, json!([]), "LimitExceeded", "100000"),
        (&marks, json!(many), "LimitExceeded", "101"),
        (
            "INSERT INTO t VALUES (?)",
            json!([{"text": (2 << 20) + 1}]),
            "LimitExceeded",
            "2097152",
        ),
        (
            "INSERT INTO t VALUES (zeroblob(2097153))",
            json!([]),
            "LimitExceeded",
            "2097152",
        ),
        (
            "SELECT * FROM t WHERE x = ?",
            json!([]),
            "InvalidArgument",
            "parameters",
        ),
        ("SELEC 1", json!([]), "QueryFailed", "syntax error"),
    ];
    for (query, params, code, named) in cases {
        let value = sql(&server, "r", query, params).await;
        let error = &value["error"];
        let shown = &query[..query.len().min(60)];
        assert_eq!(error["code"], json!(code), "{shown}: {value}");
        let message = error["message"].as_str().unwrap();
        assert!(message.contains(named), "{shown}: {message}");
    }
    assert_eq!(
        rows(
            &server,
            "r",
            "SELECT name FROM pragma_table_list WHERE name = 't'"
        )
        .await,
        json!([["t"]])
    );
    assert_eq!(
        rows(&server, "r", "PRAGMA table_info(t)").await[0][1],
        json!("x")
    );
    assert_eq!(
        rows(&server, "r", "SELECT count(*) FROM t").await,
        json!([[0]])
    );
    assert_eq!(
        key(&server, "r", "kept").await,
        json!("yes"),
        "no refusal trapped or rolled back"
    );
    assert!(!std::path::Path::new("/tmp/elsewhere.sqlite").exists());
}

#[tokio::test(flavor = "multi_thread")]
async fn exec_reports_rows_read_and_written_for_inserts_and_selects() {
    let server = Server::start();
    rows(
        &server,
        "c",
        "CREATE TABLE t (id INTEGER PRIMARY KEY, x TEXT)",
    )
    .await;
    let insert = sql(
        &server,
        "c",
        "INSERT INTO t (x) VALUES (?), (?), (?)",
        json!(["a", "b", "c"]),
    )
    .await;
    assert_eq!(
        (&insert["rowsRead"], &insert["rowsWritten"]),
        (&json!(0), &json!(3)),
        "{insert}"
    );
    let select = sql(&server, "c", "SELECT id, x FROM t ORDER BY id", json!([])).await;
    assert_eq!(select["columns"], json!(["id", "x"]));
    assert_eq!(select["rows"], json!([[1, "a"], [2, "b"], [3, "c"]]));
    assert_eq!(
        (&select["rowsRead"], &select["rowsWritten"]),
        (&json!(3), &json!(0))
    );
    let one = sql(&server, "c", "SELECT x FROM t WHERE id = ?", json!([2])).await;
    assert_eq!(
        (&one["rows"], &one["rowsRead"]),
        (&json!([["b"]]), &json!(1))
    );
    let values = sql(
        &server,
        "c",
        "SELECT ?, ?, ?, ?, ?",
        json!([null, 7, 1.5, "t", {"blob": [1, 2]}]),
    )
    .await;
    assert_eq!(
        values["rows"],
        json!([[null, 7, 1.5, "t", {"blob": [1, 2]}]])
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_propagated_constraint_error_rolls_back_the_turns_other_writes() {
    let server = Server::start();
    rows(&server, "p", "CREATE TABLE t (x INTEGER PRIMARY KEY)").await;
    let (status, value) = server
        .post(
            "/probe/p/sql-propagate",
            json!({"queries": ["INSERT INTO t VALUES (1)", "INSERT INTO t VALUES (1)"]}),
        )
        .await;
    assert_eq!(status, 500, "{value}");
    let message = value["error"].as_str().unwrap();
    assert!(
        message.contains("UNIQUE constraint failed: t.x"),
        "{message}"
    );
    assert_eq!(
        key(&server, "p", "before").await,
        json!(null),
        "the key-value write was rolled back"
    );
    assert_eq!(
        rows(&server, "p", "SELECT count(*) FROM t").await,
        json!([[0]]),
        "and the first insert"
    );
    assert!(
        server.log().contains("rolled its event back"),
        "{}",
        server.log()
    );
    // Without an error, the same writes are kept.
    let (status, _) = server
        .post(
            "/probe/p/sql-propagate",
            json!({"queries": ["INSERT INTO t VALUES (2)"]}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(key(&server, "p", "before").await, json!(true));
    assert_eq!(rows(&server, "p", "SELECT x FROM t").await, json!([[2]]));
}

#[tokio::test(flavor = "multi_thread")]
async fn sql_writes_are_rolled_back_by_a_trap_and_by_an_explicit_transaction() {
    let server = Server::start();
    rows(&server, "x", "CREATE TABLE t (x)").await;
    let (status, _) = server
        .post(
            "/probe/x/sql-then-trap",
            json!({"query": "INSERT INTO t VALUES (1)"}),
        )
        .await;
    assert_eq!(status, 500);
    assert_eq!(
        rows(&server, "x", "SELECT count(*) FROM t").await,
        json!([[0]])
    );

    let insert = json!({"query": "INSERT INTO t VALUES (2)"});
    let (status, value) = server
        .post("/probe/x/sql-in-transaction?commit=false", insert.clone())
        .await;
    assert_eq!((status, value), (200, json!({"committed": false})));
    assert_eq!(
        rows(&server, "x", "SELECT count(*) FROM t").await,
        json!([[0]])
    );
    assert_eq!(key(&server, "x", "in-transaction").await, json!(null));
    let (status, value) = server
        .post("/probe/x/sql-in-transaction?commit=true", insert)
        .await;
    assert_eq!((status, value), (200, json!({"committed": true})));
    assert_eq!(rows(&server, "x", "SELECT x FROM t").await, json!([[2]]));
    assert_eq!(key(&server, "x", "in-transaction").await, json!(true));
}

#[tokio::test(flavor = "multi_thread")]
async fn key_value_data_and_sql_tables_share_one_database_file() {
    let mut server = Server::start();
    let (_, echo) = server.get("/probe/shared/echo").await;
    let id = echo["id"].as_str().unwrap().to_owned();
    let (status, _) = server
        .post_raw("/probe/shared/put?key=greeting", "hello")
        .await;
    assert_eq!(status, 200);
    rows(
        &server,
        "shared",
        "CREATE TABLE t (x); INSERT INTO t VALUES ('from sql')",
    )
    .await;
    server.stop();

    let dir = server.dir.path().join("data/probe");
    let databases: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .filter(|name| name.ends_with(".sqlite") && name != "metadata.sqlite")
        .collect();
    assert_eq!(databases, [format!("{id}.sqlite")]);
    let db = rusqlite::Connection::open(dir.join(&databases[0])).unwrap();
    let kv: Vec<u8> = db
        .query_row(
            "SELECT value FROM _wdo_kv WHERE key = CAST('greeting' AS BLOB)",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(kv, b"\"hello\"");
    let text: String = db.query_row("SELECT x FROM t", [], |r| r.get(0)).unwrap();
    assert_eq!(text, "from sql");
}

#[tokio::test(flavor = "multi_thread")]
async fn delete_all_wipes_sql_tables_too() {
    let server = Server::start();
    rows(
        &server,
        "d",
        "CREATE TABLE t (x); INSERT INTO t VALUES (1); CREATE VIEW v AS SELECT * FROM t",
    )
    .await;
    server.post("/probe/d/put?key=k", json!(1)).await;
    assert_eq!(server.get("/probe/d/delete-all").await.0, 200);
    let value = sql(&server, "d", "SELECT * FROM t", json!([])).await;
    assert!(
        value["error"]["message"]
            .as_str()
            .unwrap()
            .contains("no such table: t"),
        "{value}"
    );
    assert_eq!(key(&server, "d", "k").await, json!(null));
    let left = rows(&server, "d", "SELECT name FROM sqlite_schema ORDER BY name").await;
    assert_eq!(
        left,
        json!([["_wdo_alarm"], ["_wdo_kv"]]),
        "only the host's tables are left"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_full_database_fails_the_turn_with_507_and_keeps_what_was_committed() {
    let server = Server::start_with(Options {
        namespace_extra: "max-database-size = 65536".into(),
        ..Options::default()
    });
    rows(&server, "f", "CREATE TABLE t (b BLOB)").await;
    let insert = json!({"query": "INSERT INTO t VALUES (zeroblob(4000))", "params": []});
    let mut committed = 0;
    let failure = loop {
        let (status, value) = server.post("/probe/f/sql", insert.clone()).await;
        if status != 200 {
            break (status, value);
        }
        committed += 1;
        assert!(
            committed < 20,
            "a 64 KiB database took {committed} rows of 4000 bytes"
        );
    };
    // The database's size limit is a full database: 507, saying so.
    assert_eq!(failure.0, 507, "{}\n{}", failure.1, server.log());
    assert!(
        failure.1["error"].as_str().is_some_and(
            |e| e.starts_with("the disk is full (or the object reached its max-database-size)")
        ),
        "{}",
        failure.1
    );
    assert!(failure.1["errorId"].is_string());
    assert!(committed >= 5, "only {committed} rows fitted");
    assert!(
        server.log().contains("database is full"),
        "{}",
        server.log()
    );
    assert_eq!(
        rows(&server, "f", "SELECT count(*) FROM t").await,
        json!([[committed]])
    );
    let (_, size) = server.get("/probe/f/sql-size").await;
    assert!(size["size"].as_u64().unwrap() <= 65536, "{size}");
    // Freeing room makes the object writable again.
    rows(&server, "f", "DELETE FROM t WHERE rowid % 2 = 0").await;
    assert_eq!(server.post("/probe/f/sql", insert).await.0, 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn sql_past_the_events_cpu_limit_is_stopped_and_rolled_back() {
    let server = Server::start_with(Options {
        namespace_extra: "cpu-limit = \"300ms\"".into(),
        ..Options::default()
    });
    rows(&server, "cpu", "CREATE TABLE t (x)").await;
    let forever = "INSERT INTO t VALUES (1);
        WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c) SELECT count(*) FROM c";
    let started = std::time::Instant::now();
    let (status, value) = server
        .post("/probe/cpu/sql", json!({"query": forever, "params": []}))
        .await;
    assert_eq!(status, 500, "{value}");
    assert!(started.elapsed().as_secs() < 10);
    let error_id = value["errorId"].as_str().unwrap();
    let log = server.log();
    let line = log.lines().find(|l| l.contains(error_id)).unwrap();
    assert!(line.contains("CPU time limit"), "{line}");
    assert_eq!(
        rows(&server, "cpu", "SELECT count(*) FROM t").await,
        json!([[0]])
    );
}
