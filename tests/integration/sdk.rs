//! The JavaScript and Python SDKs through the real host: transactions, rollback on an
//! uncaught exception, alarms, listing, requests and responses, SQL, WebSockets. The same probe object is written in
//! both languages (tests/guests/sdk-js, tests/guests/sdk-py) with one HTTP contract.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::connect_async;
use tokio_tungstenite::tungstenite::Message;

use crate::harness::{eventually, Options, Server};

macro_rules! sdk_contract {
    ($($language:ident => $namespace:literal),* $(,)?) => {$(
        mod $language {
            #[tokio::test(flavor = "multi_thread")]
            async fn a_transaction_commits_when_its_callback_succeeds() {
                super::a_transaction_commits_when_its_callback_succeeds($namespace).await;
            }

            #[tokio::test(flavor = "multi_thread")]
            async fn a_transaction_rolls_back_when_its_callback_throws() {
                super::a_transaction_rolls_back_when_its_callback_throws($namespace).await;
            }

            #[tokio::test(flavor = "multi_thread")]
            async fn an_explicit_rollback_undoes_the_writes_and_keeps_the_result() {
                super::an_explicit_rollback_undoes_the_writes_and_keeps_the_result($namespace)
                    .await;
            }

            #[tokio::test(flavor = "multi_thread")]
            async fn an_uncaught_exception_answers_500_and_rolls_the_event_back() {
                super::an_uncaught_exception_answers_500_and_rolls_the_event_back($namespace)
                    .await;
            }

            #[tokio::test(flavor = "multi_thread")]
            async fn an_alarm_fires_and_a_failed_attempt_is_rolled_back_and_retried() {
                super::an_alarm_fires_and_a_failed_attempt_is_rolled_back_and_retried(
                    $namespace,
                )
                .await;
            }

            #[tokio::test(flavor = "multi_thread")]
            async fn list_selects_by_prefix_in_key_order_and_reverse() {
                super::list_selects_by_prefix_in_key_order_and_reverse($namespace).await;
            }

            #[tokio::test(flavor = "multi_thread")]
            async fn many_entries_are_put_atomically_and_got_back_as_a_map_in_key_order() {
                super::many_entries_are_put_atomically_and_got_back_as_a_map_in_key_order(
                    $namespace,
                )
                .await;
            }

            #[tokio::test(flavor = "multi_thread")]
            async fn the_object_sees_the_request_and_shapes_the_response() {
                super::the_object_sees_the_request_and_shapes_the_response($namespace).await;
            }

            #[tokio::test(flavor = "multi_thread")]
            async fn sql_binds_reads_counts_and_refuses_host_tables() {
                super::sql_binds_reads_counts_and_refuses_host_tables($namespace).await;
            }

            #[tokio::test(flavor = "multi_thread")]
            async fn websockets_accept_echo_attach_tag_auto_respond_and_close() {
                super::websockets_accept_echo_attach_tag_auto_respond_and_close($namespace)
                    .await;
            }
        }
    )*};
}

sdk_contract!(js => "sdk-js", python => "sdk-py");

async fn a_transaction_commits_when_its_callback_succeeds(ns: &str) {
    let server = Server::start();
    assert_eq!(
        server
            .post(&format!("/{ns}/t/txn"), json!({"fail": false}))
            .await,
        (200, json!({"committed": true}))
    );
    assert_eq!(
        server.get(&format!("/{ns}/t/get?keys=a,b")).await,
        (200, json!({"a": 1, "b": {"two": [2]}}))
    );
}

async fn a_transaction_rolls_back_when_its_callback_throws(ns: &str) {
    let server = Server::start();
    assert_eq!(
        server
            .post(&format!("/{ns}/t/txn"), json!({"fail": true}))
            .await,
        (200, json!({"committed": false, "error": "boom"}))
    );
    assert_eq!(
        server.get(&format!("/{ns}/t/get?keys=a,b")).await,
        (200, json!({"a": null, "b": null})),
        "both writes, through the transaction and through storage, were undone"
    );
}

async fn an_explicit_rollback_undoes_the_writes_and_keeps_the_result(ns: &str) {
    let server = Server::start();
    assert_eq!(
        server.post(&format!("/{ns}/t/rollback"), json!(null)).await,
        (200, json!({"result": "kept"}))
    );
    assert_eq!(
        server.get(&format!("/{ns}/t/get?keys=r")).await,
        (200, json!({"r": null}))
    );
}

async fn an_uncaught_exception_answers_500_and_rolls_the_event_back(ns: &str) {
    let server = Server::start();
    let (status, body) = server.post(&format!("/{ns}/t/trap"), json!(null)).await;
    assert_eq!(status, 500, "{body}");
    assert_eq!(
        server.get(&format!("/{ns}/t/get?keys=t")).await,
        (200, json!({"t": null})),
        "the write before the exception was rolled back, and a fresh instance answers"
    );
    assert!(
        server.log().contains("deliberate failure"),
        "the exception is in the host's log:\n{}",
        server.log()
    );
}

async fn an_alarm_fires_and_a_failed_attempt_is_rolled_back_and_retried(ns: &str) {
    let server = Server::start_with(Options {
        extra: "alarm-retry-base = \"100ms\"".into(),
        ..Options::default()
    });
    assert_eq!(
        server.post(&format!("/{ns}/al/alarm"), json!(null)).await,
        (200, json!({"set": true}))
    );
    let path = format!("/{ns}/al/get?keys=alarmed,attempt:0,attempt:1");
    let expected = json!({
        "alarmed": {"retryCount": 1, "isRetry": true, "scheduled": true},
        "attempt:0": null,
        "attempt:1": true,
    });
    let done = eventually(Duration::from_secs(20), || async {
        server.get(&path).await == (200, expected.clone())
    })
    .await;
    assert!(done, "{:?}\n{}", server.get(&path).await, server.log());
}

async fn list_selects_by_prefix_in_key_order_and_reverse(ns: &str) {
    let server = Server::start();
    assert_eq!(
        server.get(&format!("/{ns}/l/list")).await,
        (
            200,
            // A key over 2 KiB is refused with the host's code, through the SDK's StorageError.
            json!({"keys": ["p:1", "p:2"], "last": [["p:2", 2]], "longKey": "limit-exceeded"})
        )
    );
}

/// JavaScript: `put(new Map([...]))` and `get([...])` returning a Map; Python: `put_many(dict)`
/// and `get_many` returning a dict. A batch with one bad entry stores none of them.
async fn many_entries_are_put_atomically_and_got_back_as_a_map_in_key_order(ns: &str) {
    let server = Server::start();
    assert_eq!(
        server.get(&format!("/{ns}/m/many")).await,
        (
            200,
            json!({
                "isMap": true,
                "entries": [["m:a", 1], ["m:b", {"two": 2}]],
                "refused": "limit-exceeded"
            })
        )
    );
}

async fn the_object_sees_the_request_and_shapes_the_response(ns: &str) {
    let server = Server::start();
    let response = server
        .client
        .put(server.url(&format!("/{ns}/alice/echo?x=a%20b")))
        .header("x-test", "hello")
        .body(r#"{"n": 1}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    assert_eq!(response.headers()["x-answer"], "42");
    assert_eq!(response.headers()["content-type"], "application/json");
    assert_eq!(
        response.json::<serde_json::Value>().await.unwrap(),
        json!({
            "method": "PUT", "path": "/echo", "x": "a b", "header": "hello",
            "body": {"n": 1}, "idLength": 64, "name": "alice", "loaded": 0,
        })
    );
    let (status, body) = server
        .post_raw(&format!("/{ns}/alice/echo"), "{not json")
        .await;
    assert_eq!(status, 400);
    assert!(
        body["error"]
            .as_str()
            .is_some_and(|e| e.starts_with("invalid JSON body")),
        "{body}"
    );
}

async fn sql_binds_reads_counts_and_refuses_host_tables(ns: &str) {
    let server = Server::start();
    assert_eq!(
        server.get(&format!("/{ns}/q/sql")).await,
        (
            200,
            json!({
                "written": 2,
                "columns": ["id", "v", "r"],
                "rows": [{"id": 1, "v": "a", "r": 1.5}, {"id": 2, "v": "b", "r": null}],
                "one": {"n": 2},
                "raw": [["a"], ["b"]],
                "error": "not-authorized",
                "sized": true,
            })
        )
    );
}

async fn websockets_accept_echo_attach_tag_auto_respond_and_close(ns: &str) {
    let server = Server::start();
    let (status, _) = server.get(&format!("/{ns}/w/ws?name=ann")).await;
    assert_eq!(status, 426);
    let (mut ann, response) = connect_async(server.ws_url(&format!("/{ns}/w/ws?name=ann")))
        .await
        .expect("websocket connect");
    assert_eq!(response.status(), 101);
    async fn next(
        client: &mut (impl StreamExt<Item = Result<Message, tokio_tungstenite::tungstenite::Error>>
                  + Unpin),
    ) -> Message {
        loop {
            let message = tokio::time::timeout(Duration::from_secs(10), client.next())
                .await
                .expect("a message in time")
                .expect("open")
                .expect("no error");
            if !matches!(message, Message::Ping(_) | Message::Pong(_)) {
                return message;
            }
        }
    }
    assert_eq!(next(&mut ann).await, Message::text("hello"));
    ann.send(Message::text("hi")).await.unwrap();
    let Message::Text(echo) = next(&mut ann).await else {
        panic!("expected text")
    };
    assert_eq!(
        serde_json::from_str::<Value>(&echo).unwrap(),
        json!({"echo": "hi", "attachment": {"name": "ann"}, "tags": ["probe"], "sockets": 1, "same": true})
    );
    ann.send(Message::binary(vec![1u8, 2, 3])).await.unwrap();
    assert_eq!(next(&mut ann).await, Message::binary(vec![3u8, 2, 1]));
    ann.send(Message::text("marco")).await.unwrap();
    assert_eq!(next(&mut ann).await, Message::text("polo"));
    ann.send(Message::text("bye")).await.unwrap();
    let Message::Close(Some(frame)) = next(&mut ann).await else {
        panic!("expected a close frame")
    };
    assert_eq!(u16::from(frame.code), 4000);

    let (mut bob, _) = connect_async(server.ws_url(&format!("/{ns}/w/ws?name=bob")))
        .await
        .expect("websocket connect");
    assert_eq!(next(&mut bob).await, Message::text("hello"));
    bob.close(None).await.unwrap();
    assert!(
        eventually(Duration::from_secs(10), || async {
            server.get(&format!("/{ns}/w/closed")).await.1["closed"]["name"] == json!("bob")
        })
        .await
    );
}
