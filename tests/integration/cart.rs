//! The `cart` example: a Rust worker (`examples/cart-worker`, routes `/cart/`) that checks
//! requests and calls a Rust object (`examples/cart`, namespace `carts`) by typed RPC,
//! served beside a second worker (the JavaScript gateway) in one config, as the root
//! `wdo.toml` does.

use serde_json::{json, Value};

use crate::harness::{components, repo_root, Options, Server};

fn server() -> Server {
    components(); // builds the examples
    let dist = repo_root().join("examples/dist");
    let mut options = Options::with_namespaces(vec![
        ("carts".to_string(), dist.join("cart.wasm")),
        ("gateway-counter".to_string(), dist.join("gateway.wasm")),
    ]);
    options.extra = format!(
        "[[worker]]\nname = \"cart\"\ncomponent = {:?}\nroutes = [\"/cart/\"]\n\
         bindings = {{ CARTS = \"carts\" }}\n\
         [[worker]]\nname = \"gateway\"\ncomponent = {:?}\nroutes = [\"/gateway/\"]\n\
         bindings = {{ COUNTER = \"gateway-counter\" }}\n",
        dist.join("cart-worker.wasm"),
        dist.join("gateway-worker.wasm"),
    );
    Server::start_with(options)
}

fn items(list: &[(&str, u32)]) -> Value {
    let items: Vec<Value> = list
        .iter()
        .map(|(item, qty)| json!({"item": item, "qty": qty}))
        .collect();
    let total: u32 = list.iter().map(|(_, qty)| qty).sum();
    json!({"items": items, "totalQty": total})
}

#[tokio::test(flavor = "multi_thread")]
async fn a_shopping_session_through_the_rust_worker() {
    let mut server = server();
    assert_eq!(server.get("/cart/ann").await, (200, items(&[])));
    let add = |item: &str, qty: u32| json!({"item": item, "qty": qty});
    assert_eq!(
        server.post("/cart/ann/add", add("apple", 2)).await,
        (200, items(&[("apple", 2)]))
    );
    assert_eq!(
        server.post("/cart/ann/add", json!({"item": "pear"})).await,
        (200, items(&[("apple", 2), ("pear", 1)]))
    );
    // The object's own URL agrees with the worker.
    assert_eq!(
        server.get("/carts/ann/items").await,
        (200, items(&[("apple", 2), ("pear", 1)]))
    );
    assert_eq!(
        server
            .post("/cart/ann/remove", json!({"item": "pear"}))
            .await,
        (200, items(&[("apple", 2)]))
    );
    let (status, order) = server.post("/cart/ann/checkout", json!(null)).await;
    assert_eq!(status, 200);
    assert_eq!(
        order,
        json!({"order": 1, "items": [{"item": "apple", "qty": 2}]})
    );
    assert_eq!(server.get("/cart/ann").await, (200, items(&[])));
    // Another user has another cart.
    server.post("/cart/bob/add", add("tea", 1)).await;
    assert_eq!(server.get("/cart/ann").await, (200, items(&[])));

    // Order numbers survive an eviction of the object and a restart of the host.
    let evict = format!("{}/v1/namespaces/carts/objects/ann/evict", server.admin);
    let response = server.client.post(&evict).send().await.unwrap();
    assert_eq!(response.status(), 200);
    server.post("/cart/ann/add", add("plum", 3)).await;
    let (_, order) = server.post("/cart/ann/checkout", json!(null)).await;
    assert_eq!(order["order"], json!(2));
    server.restart();
    let (status, orders) = server.get("/cart/ann/orders").await;
    assert_eq!(status, 200);
    let numbers: Vec<&Value> = orders["orders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| &o["order"])
        .collect();
    assert_eq!(numbers, [&json!(1), &json!(2)]);
    assert_eq!(server.get("/cart/bob").await, (200, items(&[("tea", 1)])));

    // The other worker serves beside it.
    assert_eq!(
        server.get("/gateway/increment").await,
        (200, json!({"count": 1}))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_worker_and_the_cart_refuse_bad_requests_saying_why() {
    let server = server();
    let error = |body: &Value| body["error"].as_str().unwrap_or_default().to_owned();
    // The worker's checks: nothing reaches the object.
    let (status, body) = server.post_raw("/cart/ann/add", "not json").await;
    assert_eq!(status, 400);
    assert!(error(&body).contains("not the JSON expected"), "{body}");
    let (status, body) = server
        .post("/cart/ann/add", json!({"item": "apple", "qti": 2}))
        .await;
    assert_eq!(status, 400);
    assert!(error(&body).contains("qti"), "{body}");
    let (status, body) = server
        .post("/cart/ann/add", json!({"item": "apple", "qty": 0}))
        .await;
    assert_eq!(
        (status, error(&body).contains("qty")),
        (400, true),
        "{body}"
    );
    let (status, body) = server.get("/cart/a%20b").await;
    assert_eq!(status, 400, "{body}");
    let (status, _) = server.get("/cart/ann/add").await;
    assert_eq!(status, 405);
    let (status, _) = server.post("/cart/ann/pay", json!(null)).await;
    assert_eq!(status, 404);
    let (status, _) = server.get("/cart").await;
    assert_eq!(status, 404);
    assert_eq!(
        server.get("/carts/ann/items").await,
        (200, items(&[])),
        "the object was never written"
    );
    // The cart's rules: answered 409 with the cart's reason.
    let (status, body) = server
        .post("/cart/ann/add", json!({"item": "Apple!", "qty": 1}))
        .await;
    assert_eq!(status, 409);
    assert!(error(&body).contains("a-z, 0-9"), "{body}");
    let (status, body) = server.post("/cart/ann/checkout", json!(null)).await;
    assert_eq!(status, 409);
    assert!(error(&body).contains("empty"), "{body}");
    server
        .post("/cart/ann/add", json!({"item": "a", "qty": 99}))
        .await;
    let (status, body) = server
        .post("/cart/ann/add", json!({"item": "a", "qty": 1}))
        .await;
    assert_eq!(status, 409);
    assert!(error(&body).contains("between 1 and 99"), "{body}");
    for i in 1..50 {
        let (status, body) = server
            .post("/cart/ann/add", json!({"item": format!("item-{i}")}))
            .await;
        assert_eq!(status, 200, "{body}");
    }
    let (status, body) = server
        .post("/cart/ann/add", json!({"item": "one-too-many"}))
        .await;
    assert_eq!(status, 409);
    assert!(error(&body).contains("at most 50"), "{body}");
    let (_, cart) = server.get("/cart/ann").await;
    assert_eq!(cart["items"].as_array().unwrap().len(), 50);
}
