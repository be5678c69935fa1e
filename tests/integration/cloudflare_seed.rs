//! Cloudflare's documented Counter and RateLimiter (tests/guests/wrangler-project/src:
//! their TypeScript as published, importing from "cloudflare:workers") run on wdo through the
//! JavaScript SDK as plain namespaces, outside a wrangler project.

use serde_json::json;

use crate::harness::Server;

#[tokio::test(flavor = "multi_thread")]
async fn the_cloudflare_counter_runs_unchanged() {
    let server = Server::start();
    assert_eq!(
        server.get("/seed-counter/a/get").await,
        (200, json!({"count": 0}))
    );
    assert_eq!(
        server.post("/seed-counter/a/increment", json!(null)).await,
        (200, json!({"count": 1}))
    );
    assert_eq!(
        server.get("/seed-counter/a/increment").await,
        (200, json!({"count": 2}))
    );
    assert_eq!(
        server.get("/seed-counter/a/nope").await,
        (404, json!("Not Found"))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_cloudflare_rate_limiter_runs_unchanged() {
    let server = Server::start();
    let check = json!({"key": "k", "limit": 2, "windowMs": 60_000});
    assert_eq!(
        server
            .post("/seed-ratelimiter/r/check", check.clone())
            .await,
        (200, json!({"allowed": true, "remaining": 1}))
    );
    assert_eq!(
        server
            .post("/seed-ratelimiter/r/check", check.clone())
            .await,
        (200, json!({"allowed": true, "remaining": 0}))
    );
    let response = server
        .client
        .post(server.url("/seed-ratelimiter/r/check"))
        .json(&check)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 429);
    let header: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    // A minute's window, less however long the first two requests took.
    assert!((50..=60).contains(&header), "Retry-After: {header}");
    assert_eq!(
        response.json::<serde_json::Value>().await.unwrap(),
        json!({"allowed": false, "remaining": 0, "retryAfter": header})
    );
}
