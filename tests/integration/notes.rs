//! The `notes` example's HTTP contract (EXAMPLES.md, "notes — SQL").

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};

use crate::harness::Server;

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

async fn add(server: &Server, notes: &str, text: &str) -> i64 {
    let (status, value) = server
        .post(&format!("/notes/{notes}"), json!({ "text": text }))
        .await;
    assert_eq!(status, 201, "{value}");
    value["id"].as_i64().expect("an id")
}

/// (id, text) of the notes a search returns, in order.
async fn search(server: &Server, path: &str) -> Vec<(i64, String)> {
    let (status, value) = server.get(path).await;
    assert_eq!(status, 200, "{value}");
    value["notes"]
        .as_array()
        .expect("a list of notes")
        .iter()
        .map(|note| {
            (
                note["id"].as_i64().unwrap(),
                note["text"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn texts(notes: &[(i64, String)]) -> Vec<&str> {
    notes.iter().map(|(_, text)| text.as_str()).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn notes_are_added_searched_deleted_and_counted() {
    let server = Server::start();
    assert_eq!(server.get("/notes/n").await, (200, json!({"notes": []})));
    let before = now_ms();
    assert_eq!(add(&server, "n", "buy milk").await, 1);
    assert_eq!(add(&server, "n", "call mom").await, 2);
    assert_eq!(add(&server, "n", "milk again").await, 3);
    let after = now_ms();

    let (status, all) = server.get("/notes/n").await;
    assert_eq!(status, 200);
    let all = all["notes"].as_array().unwrap();
    assert_eq!(all.len(), 3);
    for note in all {
        assert_eq!(note.as_object().unwrap().len(), 3, "{note}");
        let created = note["created"].as_i64().unwrap();
        assert!((before..=after).contains(&created), "{note}");
    }
    let found = search(&server, "/notes/n?q=milk").await;
    assert_eq!(found, [(1, "buy milk".into()), (3, "milk again".into())]);
    assert!(search(&server, "/notes/n?q=Milk").await.is_empty());

    assert_eq!(
        server.delete("/notes/n/2").await,
        (200, json!({"deleted": 1}))
    );
    assert_eq!(
        server.delete("/notes/n/2").await,
        (200, json!({"deleted": 0}))
    );
    let (status, stats) = server.get("/notes/n/stats").await;
    assert_eq!(status, 200);
    assert_eq!(stats["count"], json!(2));
    assert!(stats["databaseSize"].as_u64().unwrap() > 0, "{stats}");
    // Another object has its own table.
    assert!(search(&server, "/notes/other").await.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn notes_reject_bad_requests() {
    let server = Server::start();
    assert_eq!(server.post_raw("/notes/b", "{").await.0, 400);
    assert_eq!(server.post("/notes/b", json!({})).await.0, 400);
    assert_eq!(server.post("/notes/b", json!({"text": 5})).await.0, 400);
    assert_eq!(server.delete("/notes/b/abc").await.0, 400);
    assert_eq!(server.get("/notes/b/1/2").await.0, 404);
    assert_eq!(server.delete("/notes/b").await.0, 405);
    let (status, stats) = server.get("/notes/b/stats").await;
    assert_eq!((status, &stats["count"]), (200, &json!(0)), "{stats}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_search_term_is_bound_so_sql_in_it_is_inert() {
    let server = Server::start();
    add(&server, "i", "100% sure").await;
    add(&server, "i", "it's fine").await;
    add(&server, "i", "under_score").await;
    for (q, expected) in [
        ("%27%20OR%201%3D1%20--", vec![]),
        ("%25", vec!["100% sure"]),
        ("_", vec!["under_score"]),
        ("%27", vec!["it's fine"]),
        ("x%27)%3B%20DROP%20TABLE%20notes%3B%20--", vec![]),
        ("%22%3B%20DELETE%20FROM%20notes%3B", vec![]),
    ] {
        let found = search(&server, &format!("/notes/i?q={q}")).await;
        assert_eq!(texts(&found), expected, "q={q}");
    }
    let (_, stats) = server.get("/notes/i/stats").await;
    assert_eq!(
        stats["count"],
        json!(3),
        "the table and its rows are intact"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_database_size_grows_as_notes_are_added() {
    let server = Server::start();
    let size = |stats: Value| stats["databaseSize"].as_u64().unwrap();
    let before = size(server.get("/notes/s/stats").await.1);
    let text = "n".repeat(2000);
    for _ in 0..20 {
        add(&server, "s", &text).await;
    }
    let (_, stats) = server.get("/notes/s/stats").await;
    assert_eq!(stats["count"], json!(20));
    assert!(size(stats) >= before + 20 * 2000, "grew from {before}");
}
