//! What a hostile guest tries against the host through its storage, and that the host holds:
//! `delete-all` writing into the host's tables, and results too large for the host's memory.
//! After each attack the object keeps answering.

use serde_json::{json, Value};

use crate::harness::Server;

/// Runs `query` in probe object `name`; the probe answers SQL errors as values.
async fn sql(server: &Server, name: &str, query: &str) -> Value {
    let (status, value) = server
        .post(&format!("/probe/{name}/sql"), json!({"query": query}))
        .await;
    assert_eq!(status, 200, "{query}: {value}");
    value
}

#[tokio::test(flavor = "multi_thread")]
async fn delete_all_cannot_be_made_to_write_into_the_hosts_tables() {
    let server = Server::start();
    // Dropping `a_parent` (tables are dropped in name order) deletes its row; the cascade
    // deletes `b_child`'s, whose trigger writes a key and an alarm into the host's tables.
    let created = sql(
        &server,
        "cascade",
        "CREATE TABLE a_parent (id INTEGER PRIMARY KEY);
         CREATE TABLE b_child (p INTEGER REFERENCES a_parent(id) ON DELETE CASCADE);
         CREATE TRIGGER smuggle AFTER DELETE ON b_child BEGIN
             INSERT INTO _wdo_kv VALUES (CAST('smuggled' AS BLOB), CAST('true' AS BLOB));
             INSERT OR REPLACE INTO _wdo_alarm VALUES (1, 4102444800000);
         END;
         INSERT INTO a_parent VALUES (1); INSERT INTO b_child VALUES (1)",
    )
    .await;
    assert!(created["error"].is_null(), "{created}");
    assert_eq!(
        server.get("/probe/cascade/delete-all").await,
        (200, json!({"ok": true}))
    );
    assert_eq!(
        server.get("/probe/cascade/get?key=smuggled").await,
        (200, json!({"value": null})),
        "delete-all wrote a key into the host's table"
    );
    assert_eq!(
        server.get("/probe/cascade/alarm/get").await,
        (200, json!({"alarm": null})),
        "delete-all set an alarm"
    );
    let left = sql(
        &server,
        "cascade",
        "SELECT name FROM sqlite_schema WHERE name NOT LIKE '\\_wdo\\_%' ESCAPE '\\'",
    )
    .await;
    assert_eq!(left["rows"], json!([]), "{left}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_result_too_large_for_the_hosts_memory_is_refused_and_the_object_goes_on() {
    let server = Server::start();
    // 2,000,000 rows of 100 empty strings: once charged a few bytes a row, it drove the host
    // to gigabytes; charged as held, it stops at the 64 MiB limit after ~20,000 rows.
    let columns = vec!["''"; 100].join(", ");
    let query = format!(
        "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 2000000)
         SELECT {columns} FROM n"
    );
    let refused = sql(&server, "big", &query).await;
    assert_eq!(
        refused["error"],
        json!({
            "code": "LimitExceeded",
            "message": "the result of statement 1 is over the limit of 67108864 bytes (counted \
                as the host holds it: 24 bytes per row and 32 per value, plus each text's and \
                BLOB's bytes); select fewer rows (LIMIT and OFFSET) or columns",
        }),
        "{refused}"
    );
    let page = sql(&server, "big", &format!("{query} LIMIT 100")).await;
    assert_eq!(page["rows"].as_array().map(Vec::len), Some(100), "{page}");
    assert_eq!(
        server.get("/probe/big/echo").await.0,
        200,
        "the object answers after the refusal"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_list_too_large_for_one_call_is_refused_and_can_be_paged() {
    let server = Server::start();
    // 40 values of 2 MiB: 80 MiB, over the 64 MiB a list may answer at once.
    let (status, value) = server
        .get(&format!("/probe/listed/fill?count=40&size={}", 2 << 20))
        .await;
    assert_eq!((status, &value), (200, &json!({"ok": true})));
    assert_eq!(
        server.get("/probe/listed/list").await,
        (
            200,
            json!({"error": "the entries of this list are over the limit of 67108864 bytes for \
                one call (keys and values, and 48 bytes per entry); list them in pages: pass a \
                limit, then start-after the last key returned"})
        )
    );
    let (status, page) = server.get("/probe/listed/list?limit=10").await;
    assert_eq!(status, 200);
    assert_eq!(page["keys"].as_array().map(Vec::len), Some(10), "{page}");
    assert_eq!(server.get("/probe/listed/echo").await.0, 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_guest_reaches_no_file_socket_name_or_environment_of_the_host() {
    let server = Server::start();
    // The host's own admin listener, a TCP port that certainly accepts on loopback.
    let admin = server.admin.trim_start_matches("http://").to_string();
    let (status, escape) = server
        .get(&format!("/probe/escape/escape?connect={admin}"))
        .await;
    assert_eq!(status, 200, "{escape}");
    // (The working directory reads as "/", a name with nothing behind it: `list` fails.)
    for attempt in ["read", "write", "list", "connect", "resolve"] {
        assert!(
            escape[attempt]["error"].is_string(),
            "{attempt} reached the host: {escape}"
        );
    }
    assert_eq!(
        (escape["env"].clone(), escape["args"].clone()),
        (json!(0), json!(0)),
        "{escape}"
    );
    assert!(!std::path::Path::new("/tmp/escaped").exists());
}
