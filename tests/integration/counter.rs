use serde_json::json;

use crate::harness::Server;

#[tokio::test(flavor = "multi_thread")]
async fn counter_starts_at_zero_and_increments_by_one() {
    let server = Server::start();
    assert_eq!(
        server.get("/counter/a/get").await,
        (200, json!({"count": 0}))
    );
    assert_eq!(
        server.get("/counter/a/increment").await,
        (200, json!({"count": 1}))
    );
    assert_eq!(
        server.post("/counter/a/increment", json!(null)).await,
        (200, json!({"count": 2}))
    );
    assert_eq!(
        server.get("/counter/a/get").await,
        (200, json!({"count": 2}))
    );
    // Objects are separate: another name has its own count.
    assert_eq!(
        server.get("/counter/b/get").await,
        (200, json!({"count": 0}))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn counter_unknown_path_is_404() {
    let server = Server::start();
    let (status, _) = server.get("/counter/a/nope").await;
    assert_eq!(status, 404);
}

#[tokio::test(flavor = "multi_thread")]
async fn two_hundred_concurrent_increments_lose_no_update() {
    let server = Server::start();
    let mut tasks = Vec::new();
    for _ in 0..200 {
        let client = server.client.clone();
        let url = server.url("/counter/hot/increment");
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
        server.get("/counter/hot/get").await,
        (200, json!({"count": 200}))
    );
}
