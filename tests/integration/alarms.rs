//! Alarms through the real host: the queue example's contract and every alarm rule.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};

use crate::harness::{eventually, Options, Server};

const WAIT: Duration = Duration::from_secs(20);

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

async fn status(server: &Server, queue: &str) -> Value {
    let (code, value) = server.get(&format!("/queue/{queue}/status")).await;
    assert_eq!(code, 200, "{value}");
    value
}

async fn fired(server: &Server, object: &str) -> Vec<Value> {
    let (_, log) = server.get(&format!("/probe/{object}/alarm/log")).await;
    log["fired"].as_array().unwrap().clone()
}

/// Every alarm attempt of the probe object `object`, failed ones included, from the host's
/// log (the probe prints each attempt; storage would roll failed ones back).
fn attempts(server: &Server, object: &str) -> Vec<Value> {
    server
        .log()
        .lines()
        .filter_map(|line| {
            line.split_once("alarm-attempt ")?
                .1
                .split_once(" namespace=")
                .map(|(json, _)| json.to_owned())
        })
        .map(|json| serde_json::from_str::<Value>(&json).unwrap())
        .filter(|attempt| attempt["object"] == json!(object))
        .collect()
}

/// Fast retries for the tests that exercise backoff.
fn quick_retries() -> Options {
    Options {
        extra: "alarm-retry-base = \"100ms\"".into(),
        ..Options::default()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn queue_runs_tasks_in_order_one_per_alarm() {
    let server = Server::start();
    for task in ["a", "b", "c"] {
        let (code, value) = server
            .post(
                "/queue/q/schedule",
                json!({"task": task, "delaySeconds": 0}),
            )
            .await;
        assert_eq!((code, value), (200, json!({"scheduled": true})));
    }
    let s = status(&server, "q").await;
    assert_eq!(
        s["pending"].as_array().unwrap().len() + s["done"].as_array().unwrap().len(),
        3
    );
    let finished = eventually(WAIT, || async {
        status(&server, "q").await["done"].as_array().unwrap().len() == 3
    })
    .await;
    assert!(finished, "{}", status(&server, "q").await);
    let s = status(&server, "q").await;
    assert_eq!(
        s["done"],
        json!([
            {"task": "a", "retryCount": 0}, {"task": "b", "retryCount": 0}, {"task": "c", "retryCount": 0}
        ])
    );
    assert_eq!(s["pending"], json!([]));
    assert_eq!(s["alarm"], Value::Null, "cleared after the last task");
    assert_eq!(
        server
            .metric("wdo_alarms_fired_total{namespace=\"queue\",outcome=\"success\"}")
            .await,
        3.0
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn queue_status_shows_the_pending_alarm_and_rejects_bad_input() {
    let server = Server::start();
    let before = now_ms();
    server
        .post(
            "/queue/s/schedule",
            json!({"task": "later", "delaySeconds": 60}),
        )
        .await;
    let s = status(&server, "s").await;
    let alarm = s["alarm"].as_u64().unwrap();
    assert!(
        alarm >= before + 60_000 && alarm <= now_ms() + 60_000,
        "{alarm}"
    );
    assert_eq!(s["pending"], json!(["later"]));
    assert_eq!(
        server
            .post(
                "/queue/s/schedule",
                json!({"task": "x", "delaySeconds": -1})
            )
            .await
            .0,
        400
    );
    assert_eq!(
        server
            .post("/queue/s/schedule", json!({"delaySeconds": 1}))
            .await
            .0,
        400
    );
    assert_eq!(server.post_raw("/queue/s/schedule", "nope").await.0, 400);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failing_task_is_retried_with_backoff_and_completes_with_its_retry_count() {
    // The real 2 s base: fail:2 retries after ~2 s and ~4 s more.
    let server = Server::start();
    let started = now_ms();
    server
        .post(
            "/queue/f/schedule",
            json!({"task": "fail:2", "delaySeconds": 0}),
        )
        .await;
    let finished = eventually(Duration::from_secs(30), || async {
        !status(&server, "f").await["done"]
            .as_array()
            .unwrap()
            .is_empty()
    })
    .await;
    assert!(finished);
    assert_eq!(
        status(&server, "f").await["done"],
        json!([{"task": "fail:2", "retryCount": 2}])
    );
    assert!(
        now_ms() - started >= 6_000,
        "two retries wait at least 2 s + 4 s"
    );
    assert_eq!(
        server
            .metric("wdo_alarms_fired_total{namespace=\"queue\",outcome=\"failure\"}")
            .await,
        2.0
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_alarm_never_fires_early_and_get_alarm_is_none_while_it_runs() {
    let server = Server::start();
    let (_, set) = server.get("/probe/early/alarm/set?in=700").await;
    let scheduled = set["scheduled"].as_u64().unwrap();
    assert!(eventually(WAIT, || async { !fired(&server, "early").await.is_empty() }).await);
    let log = fired(&server, "early").await;
    assert_eq!(log.len(), 1);
    assert_eq!(log[0]["scheduledMs"], json!(scheduled));
    assert!(
        log[0]["firedMs"].as_u64().unwrap() >= scheduled,
        "fired early: {log:?}"
    );
    assert_eq!(log[0]["alarmDuringHandler"], Value::Null);
    assert_eq!(log[0]["retryCount"], json!(0));
    assert_eq!(
        server.get("/probe/early/alarm/get").await.1,
        json!({"alarm": null}),
        "cleared after success"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn retries_count_up_back_off_and_stop_after_six() {
    let server = Server::start_with(quick_retries());
    server.get("/probe/r/alarm/fail?times=100").await;
    server.get("/probe/r/alarm/set?in=0").await;
    let dropped = eventually(WAIT, || async {
        server
            .metric("wdo_alarms_dropped_total{namespace=\"probe\"}")
            .await
            == 1.0
    })
    .await;
    assert!(dropped, "the alarm was not dropped");
    let attempts = attempts(&server, "r");
    let counts: Vec<u64> = attempts
        .iter()
        .map(|a| a["retryCount"].as_u64().unwrap())
        .collect();
    assert_eq!(
        counts,
        [0, 1, 2, 3, 4, 5, 6],
        "one first try and six retries"
    );
    assert!(attempts.iter().skip(1).all(|a| a["isRetry"] == json!(true)));
    for (i, pair) in attempts.windows(2).enumerate() {
        let gap = pair[1]["firedMs"].as_u64().unwrap() - pair[0]["firedMs"].as_u64().unwrap();
        assert!(
            gap >= 100 << i,
            "retry {} came after {gap} ms, before its backoff",
            i + 1
        );
    }
    assert_eq!(
        server.get("/probe/r/alarm/get").await.1,
        json!({"alarm": null}),
        "dropped alarms are deleted"
    );
    assert!(server.log().contains("alarm dropped after failing 7 times"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_newer_set_alarm_cancels_pending_retries() {
    let server = Server::start_with(Options {
        extra: "alarm-retry-base = \"4s\"".into(),
        ..Options::default()
    });
    server.get("/probe/n/alarm/fail?times=1").await;
    server.get("/probe/n/alarm/set?in=0").await;
    assert!(eventually(WAIT, || async { attempts(&server, "n").len() == 1 }).await);
    // The first attempt failed; a retry waits ~4 s. A new alarm replaces it, with a fresh count.
    server.get("/probe/n/alarm/fail?times=0").await;
    let (_, set) = server.get("/probe/n/alarm/set?in=300").await;
    assert!(eventually(WAIT, || async { !fired(&server, "n").await.is_empty() }).await);
    let log = fired(&server, "n").await;
    assert_eq!(log[0]["scheduledMs"], set["scheduled"]);
    assert_eq!(log[0]["retryCount"], json!(0));
    tokio::time::sleep(Duration::from_millis(5500)).await;
    assert_eq!(
        fired(&server, "n").await.len(),
        1,
        "the old retry never ran"
    );
    assert_eq!(
        attempts(&server, "n").len(),
        2,
        "{:?}",
        attempts(&server, "n")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_alarm_on_an_evicted_object_wakes_it() {
    let server = Server::start_with(Options {
        idle_timeout: "200ms",
        ..Options::default()
    });
    server.get("/probe/sleeper/alarm/set?in=3000").await;
    let evicted = eventually(WAIT, || async {
        server
            .metric("wdo_evictions_total{namespace=\"probe\"}")
            .await
            >= 1.0
    })
    .await;
    assert!(evicted);
    assert_eq!(
        server.metric("wdo_live_objects{namespace=\"probe\"}").await,
        0.0
    );
    assert!(
        eventually(WAIT, || async {
            server
                .metric("wdo_alarms_fired_total{namespace=\"probe\",outcome=\"success\"}")
                .await
                == 1.0
        })
        .await
    );
    assert_eq!(fired(&server, "sleeper").await.len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_alarm_set_before_a_restart_fires_after_it() {
    let mut server = Server::start();
    let (_, set) = server.get("/probe/durable/alarm/set?in=800").await;
    server.stop();
    tokio::time::sleep(Duration::from_millis(1200)).await;
    server.restart();
    assert!(
        eventually(WAIT, || async {
            !fired(&server, "durable").await.is_empty()
        })
        .await,
        "overdue alarm did not fire after the restart"
    );
    assert_eq!(
        fired(&server, "durable").await[0]["scheduledMs"],
        set["scheduled"]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_alarm_survives_kill_9() {
    let mut server = Server::start();
    server.get("/probe/crashy/alarm/set?in=500").await;
    server.restart_after_kill();
    assert!(eventually(WAIT, || async { fired(&server, "crashy").await.len() == 1 }).await);
}

#[tokio::test(flavor = "multi_thread")]
async fn setting_twice_fires_once_at_the_later_time() {
    let server = Server::start();
    server.get("/probe/twice/alarm/set?in=3000").await;
    let (_, later) = server.get("/probe/twice/alarm/set?in=4000").await;
    assert!(eventually(WAIT, || async { !fired(&server, "twice").await.is_empty() }).await);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let log = fired(&server, "twice").await;
    assert_eq!(log.len(), 1, "{log:?}");
    assert_eq!(log[0]["scheduledMs"], later["scheduled"]);
    assert!(log[0]["firedMs"].as_u64() >= later["scheduled"].as_u64());
}

#[tokio::test(flavor = "multi_thread")]
async fn set_then_delete_never_fires() {
    let server = Server::start();
    let at = now_ms() + 2000;
    for object in ["del", "del2"] {
        assert_eq!(
            server
                .get(&format!("/probe/{object}/alarm/set?at={at}"))
                .await,
            (200, json!({"scheduled": at}))
        );
    }
    assert_eq!(
        server.get("/probe/del/alarm/delete").await,
        (200, json!({"deleted": true}))
    );
    assert_eq!(
        server.get("/probe/del2/delete-all").await,
        (200, json!({"ok": true}))
    );
    // A control alarm due just after the deleted ones: once it has fired, the scheduler
    // has passed their time, and had they fired, their objects' logs would show it first.
    let control = at + 500;
    assert_eq!(
        server
            .get(&format!("/probe/control/alarm/set?at={control}"))
            .await,
        (200, json!({"scheduled": control}))
    );
    let fired_control = eventually(WAIT, || async {
        !fired(&server, "control").await.is_empty()
    })
    .await;
    assert!(fired_control, "the control alarm never fired");
    assert_eq!(fired(&server, "del").await, Vec::<Value>::new());
    assert_eq!(fired(&server, "del2").await, Vec::<Value>::new());
    assert_eq!(
        server.get("/probe/del2/alarm/get").await.1,
        json!({"alarm": null}),
        "delete-all deletes the alarm"
    );
    assert_eq!(
        server
            .metric("wdo_alarms_fired_total{namespace=\"probe\",outcome=\"success\"}")
            .await,
        1.0,
        "only the control alarm fired"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_alarm_set_inside_a_rolled_back_transaction_or_trapped_turn_leaves_no_alarm() {
    let server = Server::start();
    let (_, result) = server
        .get("/probe/rb/alarm/set-then-roll-back?in=300")
        .await;
    assert_eq!(result, json!({"rolledBack": true, "alarm": null}));
    assert_eq!(
        server.get("/probe/rb/alarm/set-then-trap?in=300").await.0,
        500
    );
    assert_eq!(
        server.get("/probe/rb/alarm/get").await.1,
        json!({"alarm": null})
    );
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert!(fired(&server, "rb").await.is_empty());
    assert_eq!(
        server
            .metric("wdo_alarms_scheduled{namespace=\"probe\"}")
            .await,
        0.0
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn set_alarm_refuses_zero_and_times_before_2000() {
    let server = Server::start();
    for at in ["0", "1700000000"] {
        let (code, value) = server.get(&format!("/probe/bad/alarm/set?at={at}")).await;
        assert_eq!(code, 400);
        assert!(
            value["error"]
                .as_str()
                .unwrap()
                .contains("before the year 2000"),
            "{value}"
        );
    }
    assert_eq!(
        server.get("/probe/bad/alarm/get").await.1,
        json!({"alarm": null})
    );
}
