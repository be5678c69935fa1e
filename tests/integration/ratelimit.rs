use serde_json::json;

use crate::harness::Server;

#[tokio::test(flavor = "multi_thread")]
async fn ratelimit_allows_up_to_the_limit_then_refuses_with_retry_after() {
    let server = Server::start();
    let body = json!({"key": "k", "limit": 3, "windowMs": 60_000});
    for remaining in [2, 1, 0] {
        assert_eq!(
            server.post("/ratelimit/r/check", body.clone()).await,
            (200, json!({"allowed": true, "remaining": remaining}))
        );
    }
    let response = server
        .client
        .post(server.url("/ratelimit/r/check"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 429);
    let retry: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry), "Retry-After {retry}");
    let value: serde_json::Value = response.json().await.unwrap();
    assert_eq!(
        value,
        json!({"allowed": false, "remaining": 0, "retryAfter": retry})
    );
    // Keys are independent.
    let other = json!({"key": "other", "limit": 3, "windowMs": 60_000});
    assert_eq!(server.post("/ratelimit/r/check", other).await.0, 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn ratelimit_timestamps_expire_after_the_window() {
    let server = Server::start();
    let body = json!({"key": "k", "limit": 1, "windowMs": 2000});
    assert_eq!(server.post("/ratelimit/w/check", body.clone()).await.0, 200);
    let (status, value) = server.post("/ratelimit/w/check", body.clone()).await;
    assert_eq!(status, 429);
    let retry = value["retryAfter"].as_u64().unwrap();
    assert!(
        (1..=2).contains(&retry),
        "whole seconds, at least one: {retry}"
    );
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    assert_eq!(
        server.post("/ratelimit/w/check", body).await,
        (200, json!({"allowed": true, "remaining": 0}))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn ratelimit_rejects_malformed_input_with_400() {
    let server = Server::start();
    let (status, value) = server.post_raw("/ratelimit/r/check", "{not json").await;
    assert_eq!(status, 400);
    assert!(
        value["error"]
            .as_str()
            .unwrap()
            .to_lowercase()
            .contains("json"),
        "{value}"
    );
    for bad in [
        json!({"limit": 1, "windowMs": 10}),
        json!({"key": "k", "limit": 0, "windowMs": 10}),
        json!({"key": "k", "limit": 1, "windowMs": -5}),
        json!({"key": "k", "limit": "many", "windowMs": 10}),
    ] {
        let (status, value) = server.post("/ratelimit/r/check", bad.clone()).await;
        assert_eq!(status, 400, "{bad} -> {value}");
        assert!(value["error"].is_string(), "{value}");
    }
}
