use serde_json::json;

use crate::harness::Server;

async fn balance(server: &Server, bank: &str, user: &str) -> i64 {
    let (status, value) = server.get(&format!("/bank/{bank}/balance/{user}")).await;
    assert_eq!(status, 200, "{value}");
    value["balance"].as_i64().unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn deposit_balance_and_transfer() {
    let server = Server::start();
    assert_eq!(balance(&server, "b", "alice").await, 0);
    assert_eq!(
        server
            .post("/bank/b/deposit", json!({"user": "alice", "amount": 100}))
            .await,
        (200, json!({"balance": 100}))
    );
    assert_eq!(
        server
            .post(
                "/bank/b/transfer",
                json!({"from": "alice", "to": "bob", "amount": 30})
            )
            .await,
        (200, json!({"ok": true}))
    );
    assert_eq!(balance(&server, "b", "alice").await, 70);
    assert_eq!(balance(&server, "b", "bob").await, 30);
    // Not enough money: nothing changes.
    assert_eq!(
        server
            .post(
                "/bank/b/transfer",
                json!({"from": "bob", "to": "alice", "amount": 31})
            )
            .await,
        (200, json!({"ok": false}))
    );
    assert_eq!(balance(&server, "b", "alice").await, 70);
    assert_eq!(balance(&server, "b", "bob").await, 30);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_trap_after_the_debit_rolls_the_turn_back_and_the_object_keeps_serving() {
    let server = Server::start();
    server
        .post("/bank/t/deposit", json!({"user": "alice", "amount": 50}))
        .await;
    let (status, value) = server
        .post(
            "/bank/t/transfer?fail=after-debit",
            json!({"from": "alice", "to": "bob", "amount": 20}),
        )
        .await;
    assert_eq!(status, 500, "{value}");
    let error_id = value["errorId"].as_str().expect("an error id").to_string();
    assert_eq!(balance(&server, "t", "alice").await, 50);
    assert_eq!(balance(&server, "t", "bob").await, 0);
    // The log names the same error id.
    assert!(
        server.log().contains(&error_id),
        "log lacks error id {error_id}"
    );
    // A fresh instance serves the next requests.
    assert_eq!(
        server
            .post(
                "/bank/t/transfer",
                json!({"from": "alice", "to": "bob", "amount": 20})
            )
            .await,
        (200, json!({"ok": true}))
    );
    assert_eq!(balance(&server, "t", "bob").await, 20);
}

#[tokio::test(flavor = "multi_thread")]
async fn batch_is_all_or_nothing() {
    let server = Server::start();
    server
        .post("/bank/x/deposit", json!({"user": "a", "amount": 10}))
        .await;
    let ok = json!({"transfers": [
        {"from": "a", "to": "b", "amount": 4},
        {"from": "b", "to": "c", "amount": 4},
    ]});
    assert_eq!(
        server.post("/bank/x/batch", ok).await,
        (200, json!({"ok": true}))
    );
    assert_eq!(balance(&server, "x", "a").await, 6);
    assert_eq!(balance(&server, "x", "c").await, 4);
    let failing = json!({"transfers": [
        {"from": "a", "to": "b", "amount": 5},
        {"from": "c", "to": "b", "amount": 1},
        {"from": "b", "to": "a", "amount": 100},
    ]});
    assert_eq!(
        server.post("/bank/x/batch", failing).await,
        (200, json!({"ok": false, "failedAt": 2}))
    );
    assert_eq!(balance(&server, "x", "a").await, 6);
    assert_eq!(balance(&server, "x", "b").await, 0);
    assert_eq!(balance(&server, "x", "c").await, 4);
}

#[tokio::test(flavor = "multi_thread")]
async fn bank_rejects_bad_amounts_and_bad_json() {
    let server = Server::start();
    for bad in [
        json!({"user": "a", "amount": 0}),
        json!({"user": "a", "amount": -3}),
        json!({"user": "a", "amount": 1.5}),
        json!({"user": "a"}),
        json!({"amount": 3}),
    ] {
        let (status, value) = server.post("/bank/v/deposit", bad.clone()).await;
        assert_eq!(status, 400, "{bad} -> {value}");
    }
    assert_eq!(server.post_raw("/bank/v/transfer", "[").await.0, 400);
    assert_eq!(server.get("/bank/v/nothing-here").await.0, 404);
    assert_eq!(balance(&server, "v", "a").await, 0);
}
