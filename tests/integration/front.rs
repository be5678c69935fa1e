//! The HTTP front: routing errors, body limits, headers and status both ways, overload.

use serde_json::json;

use crate::harness::{Options, Server};

#[tokio::test(flavor = "multi_thread")]
async fn unknown_namespace_is_404_json_and_malformed_paths_400() {
    let server = Server::start();
    let (status, value) = server.get("/nope/a/get").await;
    assert_eq!(status, 404);
    assert!(
        value["error"]
            .as_str()
            .unwrap()
            .contains("unknown namespace \"nope\""),
        "{value}"
    );
    for path in ["/", "/counter", "/counter/", "//get", "/counter/%FF/get"] {
        let (status, value) = server.get(path).await;
        assert_eq!(status, 400, "{path}: {value}");
        assert!(
            value["error"].as_str().unwrap().contains("malformed path"),
            "{value}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_object_sees_its_own_path_query_method_headers_and_body() {
    let server = Server::start();
    let response = server
        .client
        .put(server.url("/probe/p/echo?status=201&x=a%20b"))
        .header("x-custom", "hello")
        .body("12345")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201, "status passes through");
    assert_eq!(response.headers()["x-probe"], "yes", "headers pass through");
    let seen: serde_json::Value = response.json().await.unwrap();
    assert_eq!(seen["method"], json!("PUT"));
    assert_eq!(seen["url"], json!("/echo?status=201&x=a%20b"));
    assert_eq!(seen["bodyLength"], json!(5));
    let headers = seen["headers"].as_array().unwrap();
    assert!(
        headers.contains(&json!(["x-custom", "hello"])),
        "{headers:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_body_over_the_limit_is_413_and_at_the_limit_is_accepted() {
    let server = Server::start_with(Options {
        extra: "max-body-size = 1000".into(),
        ..Options::default()
    });
    let at = "x".repeat(1000);
    let response = server
        .client
        .post(server.url("/probe/b/echo"))
        .body(at)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let over = "x".repeat(1001);
    let response = server
        .client
        .post(server.url("/probe/b/echo"))
        .body(over)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);
    // Without a Content-Length (chunked), the limit still holds.
    let chunks = futures_stream(vec![vec![b'x'; 600], vec![b'x'; 600]]);
    let response = server
        .client
        .post(server.url("/probe/b/echo"))
        .body(reqwest::Body::wrap_stream(chunks))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);
}

fn futures_stream(
    chunks: Vec<Vec<u8>>,
) -> impl futures_core::Stream<Item = Result<Vec<u8>, std::io::Error>> {
    struct Chunks(std::vec::IntoIter<Vec<u8>>);
    impl futures_core::Stream for Chunks {
        type Item = Result<Vec<u8>, std::io::Error>;
        fn poll_next(
            mut self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Option<Self::Item>> {
            std::task::Poll::Ready(self.0.next().map(Ok))
        }
    }
    Chunks(chunks.into_iter())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_full_inbox_answers_503_with_retry_after() {
    let server = Server::start_with(Options {
        extra: "inbox-depth = 1\nmax-group-commit = 1".into(),
        ..Options::default()
    });
    let mut tasks = Vec::new();
    for _ in 0..12 {
        let client = server.client.clone();
        let url = server.url("/probe/busy/spin?ms=500");
        tasks.push(tokio::spawn(async move {
            let response = client.get(url).send().await.unwrap();
            let retry = response
                .headers()
                .get("retry-after")
                .map(|v| v.to_str().unwrap().to_string());
            (response.status().as_u16(), retry)
        }));
    }
    let mut ok = 0;
    let mut refused = 0;
    for task in tasks {
        match task.await.unwrap() {
            (200, _) => ok += 1,
            (503, Some(retry)) => {
                assert_eq!(retry, "1");
                refused += 1;
            }
            other => panic!("unexpected answer {other:?}"),
        }
    }
    assert!(ok >= 1, "some requests were served");
    assert!(refused >= 1, "some requests were refused: ok {ok}");
}

#[tokio::test(flavor = "multi_thread")]
async fn guest_output_reaches_the_host_log_tagged_with_the_object() {
    let server = Server::start();
    let (_, seen) = server.get("/probe/talker/echo").await;
    let id = seen["id"].as_str().unwrap().to_string();
    server
        .get("/probe/talker/print?text=hello-from-guest")
        .await;
    let log = server.log();
    let line = log
        .lines()
        .find(|l| l.contains("probe says hello-from-guest"))
        .expect("stdout line in the log");
    assert!(
        line.contains("namespace=probe") && line.contains(&id),
        "{line}"
    );
    assert!(log
        .lines()
        .any(|l| l.contains("probe warns hello-from-guest") && l.contains("stderr")));
}

/// Request bodies waiting for one busy object are bounded by bytes (`max-inbox-bytes`), not
/// only by count: of three 600 KiB bodies sent while the object is busy, one fits under
/// 1 MiB and the other two answer 503, whatever order they arrive in.
#[tokio::test]
async fn the_bodies_queued_for_one_object_are_bounded_by_bytes() {
    let server = Server::start_with(Options {
        extra: "max-inbox-bytes = 1048576".into(),
        ..Options::default()
    });
    let busy = server
        .client
        .get(server.url("/probe/full/spin?ms=3000&key=busy"))
        .send();
    let busy = tokio::spawn(busy);
    let started = crate::harness::eventually(std::time::Duration::from_secs(30), || async {
        server.log().contains("spinning for busy")
    })
    .await;
    assert!(started, "{}", server.log());
    let body = vec![b'x'; 600 << 10];
    let posts = (0..3).map(|_| {
        server
            .client
            .post(server.url("/probe/full/echo"))
            .body(body.clone())
            .send()
    });
    let mut statuses: Vec<u16> = futures_util::future::join_all(posts)
        .await
        .into_iter()
        .map(|response| response.expect("POST").status().as_u16())
        .collect();
    statuses.sort();
    assert_eq!(statuses, vec![200, 503, 503]);
    assert_eq!(busy.await.unwrap().unwrap().status(), 200);
    // Once the object has caught up, a body is taken again.
    let (status, echo) = server.post_raw("/probe/full/echo", "after").await;
    assert_eq!((status, echo["bodyLength"].clone()), (200, json!(5)));
}
