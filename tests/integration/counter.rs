//! The `counter` contract (EXAMPLES.md), run against the same object written in Rust
//! (`counter`), JavaScript (`counter-js`) and Python (`counter-py`).

use serde_json::json;

use crate::harness::Server;

/// One module of tests per language, each calling the shared checks with its namespace:
/// `counter::js::starts_at_zero_and_increments_by_one`, ...
macro_rules! counter_contract {
    ($($language:ident => $namespace:literal),* $(,)?) => {$(
        mod $language {
            #[tokio::test(flavor = "multi_thread")]
            async fn starts_at_zero_and_increments_by_one() {
                super::starts_at_zero_and_increments_by_one($namespace).await;
            }

            #[tokio::test(flavor = "multi_thread")]
            async fn unknown_path_is_404() {
                super::unknown_path_is_404($namespace).await;
            }

            #[tokio::test(flavor = "multi_thread")]
            async fn two_hundred_concurrent_increments_lose_no_update() {
                super::two_hundred_concurrent_increments_lose_no_update($namespace).await;
            }

            #[tokio::test(flavor = "multi_thread")]
            async fn stores_the_count_as_the_same_json_as_every_language() {
                super::stores_the_count_as_the_same_json_as_every_language($namespace).await;
            }
        }
    )*};
}

counter_contract!(rust => "counter", js => "counter-js", python => "counter-py");

async fn starts_at_zero_and_increments_by_one(ns: &str) {
    let server = Server::start();
    let path = |name: &str, action: &str| format!("/{ns}/{name}/{action}");
    assert_eq!(
        server.get(&path("a", "get")).await,
        (200, json!({"count": 0}))
    );
    assert_eq!(
        server.get(&path("a", "increment")).await,
        (200, json!({"count": 1}))
    );
    assert_eq!(
        server.post(&path("a", "increment"), json!(null)).await,
        (200, json!({"count": 2}))
    );
    assert_eq!(
        server.get(&path("a", "get")).await,
        (200, json!({"count": 2}))
    );
    // Objects are separate: another name has its own count.
    assert_eq!(
        server.get(&path("b", "get")).await,
        (200, json!({"count": 0}))
    );
}

async fn unknown_path_is_404(ns: &str) {
    let server = Server::start();
    let (status, _) = server.get(&format!("/{ns}/a/nope")).await;
    assert_eq!(status, 404);
}

async fn two_hundred_concurrent_increments_lose_no_update(ns: &str) {
    let server = Server::start();
    let mut tasks = Vec::new();
    for _ in 0..200 {
        let client = server.client.clone();
        let url = server.url(&format!("/{ns}/hot/increment"));
        tasks.push(tokio::spawn(async move {
            let response = client.post(url).send().await.unwrap();
            assert_eq!(response.status(), 200);
            response.json::<serde_json::Value>().await.unwrap()["count"]
                .as_u64()
                .unwrap()
        }));
    }
    let mut seen = Vec::new();
    for task in tasks {
        seen.push(task.await.unwrap());
    }
    seen.sort_unstable();
    assert_eq!(
        seen,
        (1..=200).collect::<Vec<u64>>(),
        "each increment saw a distinct count"
    );
    assert_eq!(
        server.get(&format!("/{ns}/hot/get")).await,
        (200, json!({"count": 200}))
    );
}

/// The SDKs all store values as compact JSON, so one object's data reads the same whichever
/// language wrote it: the `count` key holds the bytes `2` after two increments.
async fn stores_the_count_as_the_same_json_as_every_language(ns: &str) {
    let mut server = Server::start();
    server.get(&format!("/{ns}/json/increment")).await;
    server.get(&format!("/{ns}/json/increment")).await;
    server.stop();
    let dir = server.dir.path().join("data").join(ns);
    let files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| {
            path.extension().is_some_and(|ext| ext == "sqlite")
                && path
                    .file_name()
                    .is_some_and(|name| name != "metadata.sqlite")
        })
        .collect();
    assert_eq!(files.len(), 1, "one object database in {dir:?}: {files:?}");
    let db = rusqlite::Connection::open(&files[0]).unwrap();
    let value: Vec<u8> = db
        .query_row(
            "SELECT value FROM _wdo_kv WHERE key = CAST('count' AS BLOB)",
            [],
            |row| row.get(0),
        )
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&value), "2");
}
