//! The admin API: namespaces, objects in pages, an object's key-value entries, SQL, alarm,
//! sockets, eviction, export, import and deletion; all through the real binary.

use std::time::Duration;

use serde_json::{json, Value};

use crate::harness::{decode, eventually, Server};

async fn call(server: &Server, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let url = format!("{}{path}", server.admin);
    let mut request = server
        .client
        .request(method.parse().unwrap(), url)
        .header("user-agent", "admin-test");
    if let Some(body) = body {
        request = request.json(&body);
    }
    decode(request.send().await.expect("admin request")).await
}

async fn get(server: &Server, path: &str) -> (u16, Value) {
    call(server, "GET", path, None).await
}

/// The error message of a refused call, checked to have `status`.
async fn refused(
    server: &Server,
    method: &str,
    path: &str,
    body: Option<Value>,
    status: u16,
) -> String {
    let (got, value) = call(server, method, path, body).await;
    assert_eq!(got, status, "{method} {path}: {value}");
    value["error"].as_str().unwrap_or_default().to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn objects_are_listed_in_pages_with_size_liveness_and_alarm() {
    let server = Server::start();
    for name in ["a", "b", "c", "d", "e"] {
        assert_eq!(
            server.get(&format!("/counter/{name}/increment")).await.0,
            200
        );
    }
    let mut seen = Vec::new();
    let mut cursor = String::new();
    loop {
        let (status, page) = get(
            &server,
            &format!("/v1/namespaces/counter/objects?limit=2&cursor={cursor}"),
        )
        .await;
        assert_eq!(status, 200, "{page}");
        let objects = page["objects"].as_array().unwrap();
        assert!(objects.len() <= 2);
        for object in objects {
            assert!(object["sizeBytes"].as_u64().unwrap() > 0, "{object}");
            assert_eq!(object["live"], json!(true), "{object}");
            assert!(object["lastWriteMs"].as_u64().is_some(), "{object}");
            assert_eq!(object["alarmMs"], Value::Null);
            seen.push(object["name"].as_str().unwrap().to_string());
        }
        match page["cursor"].as_str() {
            Some(next) => cursor = next.to_string(),
            None => break,
        }
    }
    seen.sort();
    assert_eq!(seen, ["a", "b", "c", "d", "e"]);

    let (status, value) = get(&server, "/v1/namespaces").await;
    assert_eq!(status, 200);
    let counter = value["namespaces"]
        .as_array()
        .unwrap()
        .iter()
        .find(|ns| ns["name"] == "counter")
        .unwrap()
        .clone();
    assert_eq!(counter["version"]["hash"].as_str().unwrap().len(), 64);

    let path = "/v1/namespaces/counter/objects?limit=0";
    assert!(refused(&server, "GET", path, None, 400)
        .await
        .contains("limit"));
    let path = "/v1/namespaces/counter/objects?limit=many";
    assert!(refused(&server, "GET", path, None, 400)
        .await
        .contains("limit"));
    let path = "/v1/namespaces/counter/objects?cursor=xyz";
    assert!(refused(&server, "GET", path, None, 400)
        .await
        .contains("cursor"));
    let path = "/v1/namespaces/nope/objects";
    assert!(refused(&server, "GET", path, None, 404)
        .await
        .contains("unknown namespace"));
    let path = "/v1/namespaces/counter/objects/@1234";
    assert!(refused(&server, "GET", path, None, 400)
        .await
        .contains("malformed object id"));
    let path = "/v1/namespaces/counter/objects/never-ran";
    assert!(refused(&server, "GET", path, None, 404)
        .await
        .contains("no object"));
    let (status, shown) = get(&server, "/v1/namespaces/counter/objects/a").await;
    assert_eq!(status, 200);
    assert_eq!(shown["name"], "a");
    let id = shown["id"].as_str().unwrap();
    let (status, by_id) = get(&server, &format!("/v1/namespaces/counter/objects/@{id}")).await;
    assert_eq!((status, &by_id["id"]), (200, &shown["id"]));
}

#[tokio::test(flavor = "multi_thread")]
async fn objects_are_found_by_a_part_of_their_name() {
    let server = Server::start();
    for name in ["room-a", "room-b", "Room-c", "lobby"] {
        let path = format!("/counter/{name}/increment");
        assert_eq!(server.get(&path).await.0, 200);
    }
    let names = |page: &Value| -> Vec<String> {
        let mut names: Vec<String> = page["objects"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["name"].as_str().unwrap().to_string())
            .collect();
        names.sort();
        names
    };
    let (status, page) = get(&server, "/v1/namespaces/counter/objects?name=room").await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(names(&page), ["room-a", "room-b"]);
    // Paged under the filter: one at a time, the cursor leads to the other.
    let path = "/v1/namespaces/counter/objects?name=room&limit=1";
    let (_, first) = get(&server, path).await;
    let cursor = first["cursor"].as_str().expect("a second page").to_string();
    let (_, second) = get(&server, &format!("{path}&cursor={cursor}")).await;
    assert_eq!(second["cursor"], Value::Null, "{second}");
    let mut both = [names(&first), names(&second)].concat();
    both.sort();
    assert_eq!(both, ["room-a", "room-b"]);
    let (_, none) = get(&server, "/v1/namespaces/counter/objects?name=cellar").await;
    assert_eq!(none["objects"], json!([]));
    // Percent-encoded like any query parameter.
    let (_, encoded) = get(&server, "/v1/namespaces/counter/objects?name=%52oom").await;
    assert_eq!(names(&encoded), ["Room-c"]);
    let long = "x".repeat(1025);
    let error = refused(
        &server,
        "GET",
        &format!("/v1/namespaces/counter/objects?name={long}"),
        None,
        400,
    )
    .await;
    assert!(error.contains("name must be at most 1024 bytes"), "{error}");
}

#[tokio::test(flavor = "multi_thread")]
async fn key_value_entries_are_paged_by_prefix_and_written_inside_the_objects_order() {
    let server = Server::start();
    for _ in 0..3 {
        server.get("/counter/kv/increment").await;
    }
    let base = "/v1/namespaces/counter/objects/kv";
    let (status, value) = get(&server, &format!("{base}/kv/count")).await;
    assert_eq!((status, &value["value"]), (200, &json!("3")), "{value}");
    let response = server
        .client
        .put(format!("{}{base}/kv/count", server.admin))
        .body("41")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    // The object sees the write at once: its instance was discarded.
    assert_eq!(
        server.get("/counter/kv/increment").await,
        (200, json!({"count": 42}))
    );
    for key in ["a/1", "a/2", "a/3", "b/1"] {
        let response = server
            .client
            .put(format!(
                "{}{base}/kv/{}",
                server.admin,
                key.replace('/', "%2F")
            ))
            .body(key.to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
    }
    let (status, page) = get(&server, &format!("{base}/kv?prefix=a%2F&limit=2")).await;
    assert_eq!(status, 200, "{page}");
    let keys: Vec<&str> = page["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["key"].as_str().unwrap())
        .collect();
    assert_eq!(keys, ["a/1", "a/2"]);
    assert_eq!(page["cursor"], "a/2");
    let (_, page) = get(
        &server,
        &format!("{base}/kv?prefix=a%2F&limit=2&cursor=a%2F2"),
    )
    .await;
    assert_eq!(page["entries"][0]["key"], "a/3");
    assert_eq!(page["entries"][0]["value"], "a/3");
    assert_eq!(page["cursor"], Value::Null);
    assert!(
        refused(&server, "GET", &format!("{base}/kv/missing"), None, 404)
            .await
            .contains("missing")
    );
    let (status, value) = call(&server, "DELETE", &format!("{base}/kv/b%2F1"), None).await;
    assert_eq!((status, &value["deleted"]), (200, &json!(true)));
    assert!(
        refused(&server, "GET", &format!("{base}/kv?limit=5000"), None, 400)
            .await
            .contains("limit")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn sql_tables_and_rows_are_paged_and_a_statement_writes_only_when_asked() {
    let server = Server::start();
    for text in ["one", "two", "three"] {
        assert_eq!(
            server.post("/notes/mine", json!({"text": text})).await.0,
            201
        );
    }
    let base = "/v1/namespaces/notes/objects/mine";
    let (status, value) = get(&server, &format!("{base}/sql/tables")).await;
    assert_eq!(status, 200);
    let notes = value["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "notes")
        .unwrap_or_else(|| panic!("{value}"))
        .clone();
    assert_eq!(
        (notes["rows"].as_u64(), &notes["internal"]),
        (Some(3), &json!(false))
    );
    let (status, page) = get(&server, &format!("{base}/sql/tables/notes/rows?limit=2")).await;
    assert_eq!(status, 200);
    assert_eq!(page["columns"], json!(["id", "text", "created"]));
    assert_eq!(page["rows"].as_array().unwrap().len(), 2);
    assert_eq!(page["nextOffset"], 2);
    let (_, page) = get(
        &server,
        &format!("{base}/sql/tables/notes/rows?limit=2&offset=2"),
    )
    .await;
    assert_eq!(page["rows"][0][1], "three");
    assert_eq!(page["nextOffset"], Value::Null);

    let select = json!({"sql": "SELECT text FROM notes ORDER BY id"});
    let (status, value) = call(&server, "POST", &format!("{base}/sql"), Some(select)).await;
    assert_eq!(
        (status, &value["rows"]),
        (200, &json!([["one"], ["two"], ["three"]]))
    );
    let delete = json!({"sql": "DELETE FROM notes WHERE text = 'two'"});
    let message = refused(
        &server,
        "POST",
        &format!("{base}/sql"),
        Some(delete.clone()),
        400,
    )
    .await;
    assert!(message.contains("write = true"), "{message}");
    let (_, value) = server.get("/notes/mine").await;
    assert_eq!(
        value["notes"].as_array().unwrap().len(),
        3,
        "nothing was deleted"
    );
    let write = json!({"sql": "DELETE FROM notes WHERE text = 'two'", "write": true});
    let (status, value) = call(&server, "POST", &format!("{base}/sql"), Some(write)).await;
    assert_eq!((status, &value["changes"]), (200, &json!(1)), "{value}");
    let (_, value) = server.get("/notes/mine").await;
    assert_eq!(value["notes"].as_array().unwrap().len(), 2);
    assert!(server.log().contains("admin SQL"), "each run is logged");
    assert!(server.log().contains("admin-test"), "with who sent it");

    let path = format!("{base}/sql");
    assert!(refused(
        &server,
        "POST",
        &path,
        Some(json!({"sql": "SELEC nonsense"})),
        400
    )
    .await
    .contains("compile"));
    assert!(
        refused(&server, "POST", &path, Some(json!({"query": "x"})), 400)
            .await
            .contains("sql")
    );
    assert!(refused(
        &server,
        "POST",
        &path,
        Some(json!({"sql": "SELECT 1; SELECT 2"})),
        400
    )
    .await
    .contains("one statement"));
    let path = format!("{base}/sql/tables/nope/rows");
    assert!(refused(&server, "GET", &path, None, 400)
        .await
        .contains("no table"));
    let path = format!("{base}/sql/tables/notes/rows?offset=-1");
    assert!(refused(&server, "GET", &path, None, 400)
        .await
        .contains("offset"));
}

#[tokio::test(flavor = "multi_thread")]
async fn an_alarm_is_read_set_run_now_and_deleted() {
    let server = Server::start();
    let schedule = json!({"task": "report", "delaySeconds": 3600});
    assert_eq!(server.post("/queue/jobs/schedule", schedule).await.0, 200);
    let base = "/v1/namespaces/queue/objects/jobs";
    let (status, alarm) = get(&server, &format!("{base}/alarm")).await;
    assert_eq!(status, 200);
    assert!(alarm["scheduledMs"].as_u64().is_some(), "{alarm}");
    let (status, ran) = call(&server, "POST", &format!("{base}/alarm/run"), None).await;
    assert_eq!((status, &ran["ran"]), (200, &json!(true)), "{ran}");
    let (_, jobs) = server.get("/queue/jobs/status").await;
    assert_eq!(jobs["done"][0]["task"], "report", "{jobs}");
    let (_, ran) = call(&server, "POST", &format!("{base}/alarm/run"), None).await;
    assert_eq!(ran["ran"], json!(false), "no alarm left: {ran}");

    let later = 4_000_000_000_000u64;
    let (status, _) = call(
        &server,
        "PUT",
        &format!("{base}/alarm"),
        Some(json!({"scheduledMs": later})),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        get(&server, &format!("{base}/alarm")).await.1["scheduledMs"],
        later
    );
    let (_, listed) = get(&server, "/v1/namespaces/queue/objects").await;
    assert_eq!(
        listed["objects"][0]["alarmMs"], later,
        "the scheduler has it: {listed}"
    );
    let (status, deleted) = call(&server, "DELETE", &format!("{base}/alarm"), None).await;
    assert_eq!((status, &deleted["deleted"]), (200, &json!(true)));
    assert_eq!(
        get(&server, &format!("{base}/alarm")).await.1["scheduledMs"],
        Value::Null
    );

    let path = format!("{base}/alarm");
    assert!(refused(&server, "PUT", &path, Some(json!({"at": 1})), 400)
        .await
        .contains("scheduledMs"));
    assert!(
        refused(&server, "PUT", &path, Some(json!({"scheduledMs": 5})), 400)
            .await
            .contains("2000")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_export_is_a_consistent_database_that_imports_into_another_object() {
    let server = Server::start();
    for _ in 0..5 {
        server.get("/counter/source/increment").await;
    }
    let url = format!(
        "{}/v1/namespaces/counter/objects/source/export",
        server.admin
    );
    let response = server.client.get(url).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "application/vnd.sqlite3"
    );
    let bytes = response.bytes().await.unwrap().to_vec();
    assert!(bytes.starts_with(b"SQLite format 3\0"));
    let copy = server.dir.path().join("copy.sqlite");
    std::fs::write(&copy, &bytes).unwrap();
    let count: String = rusqlite::Connection::open(&copy)
        .unwrap()
        .query_row(
            "SELECT CAST(value AS TEXT) FROM _wdo_kv WHERE key = CAST('count' AS BLOB)",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(count, "5");

    let import = |name: &str, body: Vec<u8>| {
        let url = format!(
            "{}/v1/namespaces/counter/objects/{name}/import",
            server.admin
        );
        let client = server.client.clone();
        async move { decode(client.put(url).body(body).send().await.unwrap()).await }
    };
    let (status, value) = import("target", bytes.clone()).await;
    assert_eq!(status, 200, "{value}");
    assert_eq!(
        server.get("/counter/target/increment").await,
        (200, json!({"count": 6}))
    );

    let (status, value) = import("target", b"this is not a database".repeat(500)).await;
    assert_eq!(status, 400);
    assert!(
        value["error"]
            .as_str()
            .unwrap()
            .contains("not a SQLite database"),
        "{value}"
    );
    let (status, value) = import("target", Vec::new()).await;
    assert_eq!(status, 400, "{value}");
    let mut torn = bytes.clone();
    torn.truncate(torn.len() / 2);
    let (status, value) = import("target", torn).await;
    assert_eq!(status, 400, "a torn file is refused: {value}");
    assert_eq!(
        server.get("/counter/target/get").await,
        (200, json!({"count": 6})),
        "nothing changed"
    );

    // Importing over a live object with data replaces it; its next event sees the new data.
    let (status, _) = import("source", bytes.clone()).await;
    assert_eq!(status, 200);
    assert_eq!(
        server.get("/counter/source/get").await,
        (200, json!({"count": 5}))
    );
    // The import survives a restart.
    let mut server = server;
    server.restart();
    assert_eq!(
        server.get("/counter/target/get").await,
        (200, json!({"count": 6}))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn deleting_an_objects_data_and_evicting_it_now() {
    let server = Server::start();
    for _ in 0..3 {
        server.get("/counter/gone/increment").await;
    }
    let base = "/v1/namespaces/counter/objects/gone";
    let (status, value) = call(&server, "DELETE", base, None).await;
    assert_eq!(status, 200, "{value}");
    assert_eq!(
        server.get("/counter/gone/get").await,
        (200, json!({"count": 0}))
    );

    assert_eq!(get(&server, base).await.1["live"], json!(true));
    let (status, value) = call(&server, "POST", &format!("{base}/evict"), None).await;
    assert_eq!((status, &value["evicted"]), (200, &json!(true)));
    let evicted = eventually(Duration::from_secs(30), || async {
        server
            .metric("wdo_evictions_total{namespace=\"counter\"}")
            .await
            >= 1.0
    })
    .await;
    assert!(evicted);
    assert_eq!(get(&server, base).await.1["live"], json!(false));
    let (_, value) = call(&server, "POST", &format!("{base}/evict"), None).await;
    assert_eq!(value["evicted"], json!(false));
    assert_eq!(
        server.get("/counter/gone/increment").await,
        (200, json!({"count": 1}))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_objects_sockets_are_listed_with_their_tags() {
    let server = Server::start();
    let (_client, _) =
        tokio_tungstenite::connect_async(server.ws_url("/chat/room/websocket?name=ann"))
            .await
            .expect("connect");
    let path = "/v1/namespaces/chat/objects/room/sockets";
    let listed = eventually(Duration::from_secs(30), || async {
        get(&server, path).await.1["count"] == 1
    })
    .await;
    assert!(listed);
    let (_, value) = get(&server, path).await;
    assert_eq!(value["sockets"][0]["tags"], json!(["room"]), "{value}");
}
