//! An object's data through the CLI: `wdo kv`, `wdo sql` and `wdo alarm` against a real
//! running host, read back through its public URLs and the CLI itself.

use serde_json::json;

use crate::admin_cli::{start, wdo, wdo_stdin};

#[tokio::test(flavor = "multi_thread")]
async fn kv_entries_are_put_read_raw_listed_and_deleted() {
    let server = start("");
    assert_eq!(server.get("/counter/kv/increment").await.0, 200);
    let run = wdo(
        &server,
        &["kv", "put", "counter", "kv", "greeting", "hello world"],
    )
    .ok();
    assert!(run.text().contains("\"greeting\""), "{}", run.text());
    wdo_stdin(
        &server,
        &["kv", "put", "counter", "kv", "from/stdin", "-"],
        b"piped\n",
    )
    .ok();
    let binary: Vec<u8> = vec![0, 159, 146, 150, 255, b'\n'];
    let file = server.dir.path().join("value.bin");
    std::fs::write(&file, &binary).unwrap();
    wdo(
        &server,
        &[
            "kv",
            "put",
            "counter",
            "kv",
            "bin",
            "--file",
            file.to_str().unwrap(),
        ],
    )
    .ok();

    assert_eq!(
        wdo(&server, &["kv", "get", "counter", "kv", "greeting"])
            .ok()
            .stdout,
        b"hello world"
    );
    assert_eq!(
        wdo(&server, &["kv", "get", "counter", "kv", "from/stdin"])
            .ok()
            .stdout,
        b"piped\n"
    );
    assert_eq!(
        wdo(&server, &["kv", "get", "counter", "kv", "bin"])
            .ok()
            .stdout,
        binary
    );
    let entry = wdo(&server, &["kv", "get", "counter", "kv", "bin", "--json"])
        .ok()
        .json();
    assert_eq!(entry["valueHex"], hex_of(&binary));

    // Keys in order: bin, count, from/stdin, greeting.
    let page = wdo(
        &server,
        &["kv", "list", "counter", "kv", "--limit", "3", "--json"],
    )
    .ok()
    .json();
    let keys: Vec<&str> = page["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["key"].as_str().unwrap())
        .collect();
    assert_eq!(keys, ["bin", "count", "from/stdin"]);
    assert_eq!(page["cursor"], "from/stdin");
    let rest = wdo(
        &server,
        &[
            "kv",
            "list",
            "counter",
            "kv",
            "--cursor",
            "from/stdin",
            "--json",
        ],
    )
    .ok()
    .json();
    assert_eq!(rest["entries"][0]["key"], "greeting");
    let all = wdo(
        &server,
        &[
            "kv", "list", "counter", "kv", "--all", "--limit", "1", "--json",
        ],
    )
    .ok()
    .json();
    assert_eq!(all["entries"].as_array().unwrap().len(), 4, "{all}");
    let table = wdo(&server, &["kv", "list", "counter", "kv", "--prefix", "g"])
        .ok()
        .text();
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 2, "{table}");
    assert!(
        lines[0].contains("KEY") && lines[0].contains("VALUE"),
        "{table}"
    );
    assert!(
        lines[1].contains("greeting") && lines[1].contains("hello world"),
        "{table}"
    );

    let run = wdo(&server, &["kv", "delete", "counter", "kv", "greeting"]).ok();
    assert!(
        run.text().contains("deleted \"greeting\""),
        "{}",
        run.text()
    );
    wdo(&server, &["kv", "get", "counter", "kv", "greeting"]).fails(3, "no key \"greeting\"");
    wdo(&server, &["kv", "get", "counter", "nobody", "greeting"]).fails(3, "no object \"nobody\"");
    wdo(&server, &["kv", "put", "counter", "kv", "k"]).fails(2, "");
}

fn hex_of(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn sql_reads_and_writes_only_with_write() {
    let server = start("");
    let (status, _) = server
        .post("/notes/mine", json!({"text": "buy milk"}))
        .await;
    assert_eq!(status, 201);
    let run = wdo(
        &server,
        &["sql", "notes", "mine", "SELECT id, text FROM notes"],
    )
    .ok();
    let text = run.text();
    assert!(text.contains("id") && text.contains("text"), "{text}");
    assert!(
        text.contains("buy milk") && text.contains("(1 row)"),
        "{text}"
    );

    let update = "UPDATE notes SET text = 'buy oat milk'";
    wdo(&server, &["sql", "notes", "mine", update]).fails(
        2,
        "this statement writes; run it with write = true to allow that (wdo sql --write)",
    );
    let run = wdo(&server, &["sql", "notes", "mine", update, "--write"]).ok();
    assert!(run.text().contains("1 row changed"), "{}", run.text());

    let answer = wdo(
        &server,
        &["sql", "notes", "mine", "SELECT text FROM notes", "--json"],
    )
    .ok()
    .json();
    assert_eq!(answer["columns"], json!(["text"]));
    assert_eq!(answer["rows"], json!([["buy oat milk"]]));
    let many = "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 5) SELECT x FROM n";
    let run = wdo(
        &server,
        &["sql", "notes", "mine", many, "--max-rows", "2", "--json"],
    )
    .ok();
    let answer = run.json();
    assert_eq!(answer["rows"], json!([[1], [2]]));
    assert_eq!(answer["truncated"], true);
    wdo(&server, &["sql", "notes", "mine", "SELEC nonsense"]).fails(2, "does not compile");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_alarm_is_set_shown_run_and_deleted() {
    let server = start("");
    let (status, _) = server
        .post(
            "/queue/jobs/schedule",
            json!({"task": "report", "delaySeconds": 3600}),
        )
        .await;
    assert_eq!(status, 200);
    let shown = wdo(&server, &["alarm", "show", "queue", "jobs", "--json"])
        .ok()
        .json();
    let first = shown["scheduledMs"].as_u64().unwrap();

    let run = wdo(&server, &["alarm", "set", "queue", "jobs", "--in", "2h"]).ok();
    assert!(
        run.text().contains("(in 1h 59m") || run.text().contains("(in 2h"),
        "{}",
        run.text()
    );
    let moved = wdo(&server, &["alarm", "show", "queue", "jobs", "--json"])
        .ok()
        .json();
    assert!(
        moved["scheduledMs"].as_u64().unwrap() > first + 3_000_000,
        "{moved}"
    );

    wdo(
        &server,
        &[
            "alarm",
            "set",
            "queue",
            "jobs",
            "--at",
            "2100-01-01T01:00:00+01:00",
        ],
    )
    .ok();
    let at = wdo(&server, &["alarm", "show", "queue", "jobs", "--json"])
        .ok()
        .json();
    assert_eq!(at["scheduledMs"], 4_102_444_800_000u64);
    let text = wdo(&server, &["alarm", "show", "queue", "jobs"])
        .ok()
        .text();
    assert!(text.contains("2100-01-01T00:00:00.000Z"), "{text}");
    wdo(
        &server,
        &["alarm", "set", "queue", "jobs", "--at", "tomorrow"],
    )
    .fails(2, "RFC 3339");
    wdo(&server, &["alarm", "set", "queue", "jobs"]).fails(2, "");

    let run = wdo(&server, &["alarm", "run", "queue", "jobs"]).ok();
    assert!(
        run.text().contains("ran the alarm of queue/jobs"),
        "{}",
        run.text()
    );
    let (_, status) = server.get("/queue/jobs/status").await;
    assert_eq!(
        status["done"],
        json!([{"task": "report", "retryCount": 0}]),
        "{status}"
    );

    server
        .post(
            "/queue/jobs/schedule",
            json!({"task": "later", "delaySeconds": 3600}),
        )
        .await;
    let run = wdo(&server, &["alarm", "delete", "queue", "jobs"]).ok();
    assert!(run.text().contains("deleted the alarm"), "{}", run.text());
    let none = wdo(&server, &["alarm", "show", "queue", "jobs"])
        .ok()
        .text();
    assert!(none.contains("has no alarm"), "{none}");
    let run = wdo(&server, &["alarm", "run", "queue", "jobs", "--json"]).ok();
    assert_eq!(run.json()["ran"], false);
}
