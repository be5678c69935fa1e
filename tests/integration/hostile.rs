//! What a hostile guest tries against the host through its storage, and that the host holds:
//! `delete-all` writing into the host's tables.

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
