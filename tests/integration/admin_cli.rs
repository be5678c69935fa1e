//! The operator's commands (`wdo objects`, `kv`, `sql`, `alarm`, `namespaces`, `reload`):
//! the real `wdo` binary run as a CLI against a real running host, its output read back as
//! a person or a script would, and its exit codes checked for every kind of failure. An
//! object's data (`kv`, `sql`, `alarm`) is in `admin_cli_data.rs`, with these helpers.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::{json, Value};

use crate::harness::{components, eventually, Options, Server};

const TOKEN: &str = "9c2e4a6b8d0f1e3a5c7b9d1f3e5a7c9b";

/// What one run of the CLI did.
pub struct Run {
    pub code: i32,
    pub stdout: Vec<u8>,
    pub stderr: String,
}

impl Run {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {}", self.text()))
    }

    /// Asserts success and answers stdout.
    pub fn ok(self) -> Run {
        assert_eq!(
            self.code,
            0,
            "stdout: {}\nstderr: {}",
            self.text(),
            self.stderr
        );
        self
    }

    /// Asserts exit `code` with one `wdo: error: ` line holding `needle`.
    pub fn fails(self, code: i32, needle: &str) -> Run {
        assert_eq!(self.code, code, "stderr: {}", self.stderr);
        assert!(
            self.stderr.starts_with("wdo: error: ") && self.stderr.trim_end().lines().count() == 1,
            "not one error line: {:?}",
            self.stderr
        );
        assert!(
            self.stderr.contains(needle),
            "{needle:?} not in {:?}",
            self.stderr
        );
        self
    }
}

/// A CLI invocation in `dir`, without the caller's admin settings and without a terminal.
fn command(dir: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_wdo"));
    command
        .args(args)
        .current_dir(dir)
        .env_remove("WDO_ADMIN")
        .env_remove("WDO_ADMIN_TOKEN")
        .stdin(Stdio::null());
    command
}

fn finish(command: &mut Command, stdin: Option<&[u8]>) -> Run {
    if stdin.is_some() {
        command.stdin(Stdio::piped());
    }
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run wdo");
    if let Some(bytes) = stdin {
        child.stdin.take().unwrap().write_all(bytes).unwrap();
    }
    let output = child.wait_with_output().unwrap();
    Run {
        code: output.status.code().expect("wdo exited, not killed"),
        stdout: output.stdout,
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// `wdo <args> --admin <the server>` in the server's directory.
pub fn wdo(server: &Server, args: &[&str]) -> Run {
    let mut command = command(server.dir.path(), args);
    command.args(["--admin", &server.admin]);
    finish(&mut command, None)
}

pub fn wdo_stdin(server: &Server, args: &[&str], stdin: &[u8]) -> Run {
    let mut command = command(server.dir.path(), args);
    command.args(["--admin", &server.admin]);
    finish(&mut command, Some(stdin))
}

/// A server with only the namespaces these tests use (faster to start).
pub fn start(extra: &str) -> Server {
    let c = components();
    Server::start_with(Options {
        namespaces: vec![
            ("counter".into(), c.counter.clone()),
            ("queue".into(), c.queue.clone()),
            ("notes".into(), c.notes.clone()),
        ],
        extra: extra.to_string(),
        ..Options::default()
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn objects_are_listed_a_page_at_a_time_or_all_at_once_and_shown_one_by_one() {
    let server = start("");
    for name in ["a", "b", "c", "d", "e"] {
        assert_eq!(
            server.get(&format!("/counter/{name}/increment")).await.0,
            200
        );
    }
    // Paging through the JSON by the cursor each page names.
    let mut names = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut args = vec!["objects", "list", "counter", "--limit", "2", "--json"];
        if let Some(cursor) = &cursor {
            args.extend(["--cursor", cursor.as_str()]);
        }
        let page = wdo(&server, &args).ok().json();
        let objects = page["objects"].as_array().unwrap();
        assert!(objects.len() <= 2, "{page}");
        names.extend(
            objects
                .iter()
                .map(|o| o["name"].as_str().unwrap().to_string()),
        );
        pages += 1;
        match page["cursor"].as_str() {
            Some(next) => cursor = Some(next.to_string()),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    names.sort();
    assert_eq!(names, ["a", "b", "c", "d", "e"]);

    // A table for people; the next page's cursor on stderr.
    let run = wdo(&server, &["objects", "list", "counter", "--limit", "2"]).ok();
    let text = run.text();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    for column in [
        "NAME",
        "ID",
        "SIZE",
        "LAST WRITE",
        "LIVE",
        "ALARM",
        "SOCKETS",
    ] {
        assert!(lines[0].contains(column), "{text}");
    }
    assert!(lines[1].contains(" yes "), "{text}");
    assert!(run.stderr.contains("--cursor "), "{}", run.stderr);

    // --all follows every cursor; it also pages with a small --limit.
    let all = wdo(&server, &["objects", "list", "counter", "--all", "--json"])
        .ok()
        .json();
    assert_eq!(all["objects"].as_array().unwrap().len(), 5, "{all}");
    assert_eq!(all["cursor"], Value::Null);
    let run = wdo(
        &server,
        &["objects", "list", "counter", "--all", "--limit", "2"],
    )
    .ok();
    assert_eq!(run.text().lines().count(), 6, "{}", run.text());
    assert!(run.stderr.is_empty(), "{}", run.stderr);

    let shown = wdo(&server, &["objects", "show", "counter", "c", "--json"])
        .ok()
        .json();
    assert_eq!(shown["name"], "c");
    assert_eq!(shown["live"], true);
    assert!(shown["sizeBytes"].as_u64().unwrap() > 0, "{shown}");
    let id = shown["id"].as_str().unwrap().to_string();
    let by_id = wdo(&server, &["objects", "show", "counter", &format!("@{id}")])
        .ok()
        .text();
    assert!(by_id.contains(&id), "{by_id}");
    let live = by_id
        .lines()
        .find(|line| line.starts_with("live "))
        .unwrap();
    assert!(live.ends_with(" yes"), "{by_id}");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_export_is_a_sqlite_file_and_importing_it_copies_the_object() {
    let server = start("");
    for _ in 0..3 {
        assert_eq!(server.get("/counter/alice/increment").await.0, 200);
    }
    let dir = server.dir.path();
    let run = wdo(&server, &["objects", "export", "counter", "alice"]).ok();
    assert!(run.text().contains("alice.sqlite"), "{}", run.text());
    let file = dir.join("alice.sqlite");
    let db = rusqlite::Connection::open(&file).unwrap();
    let count: Vec<u8> = db
        .query_row(
            "SELECT value FROM _wdo_kv WHERE key = CAST('count' AS BLOB)",
            [],
            |row| row.get(0),
        )
        .unwrap();
    assert_eq!(count, b"3");
    drop(db);

    // An existing file is kept unless --force; nothing is left behind either way.
    std::fs::write(&file, b"precious").unwrap();
    wdo(&server, &["objects", "export", "counter", "alice"]).fails(2, "--force");
    assert_eq!(std::fs::read(&file).unwrap(), b"precious");
    let elsewhere = dir.join("copy.sqlite");
    let run = wdo(
        &server,
        &[
            "objects",
            "export",
            "counter",
            "alice",
            "-o",
            elsewhere.to_str().unwrap(),
            "--json",
        ],
    )
    .ok();
    assert_eq!(
        run.json()["bytes"],
        std::fs::metadata(&elsewhere).unwrap().len()
    );
    wdo(
        &server,
        &["objects", "export", "counter", "alice", "--force"],
    )
    .ok();
    assert!(std::fs::read(&file)
        .unwrap()
        .starts_with(b"SQLite format 3\0"));
    let leftovers: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains(".part-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");

    // Imported into another object, which then serves the data.
    let run = wdo(
        &server,
        &["objects", "import", "counter", "bob", "copy.sqlite"],
    )
    .ok();
    assert!(run.text().contains("into counter/bob"), "{}", run.text());
    let (status, body) = server.get("/counter/bob/get").await;
    assert_eq!((status, body), (200, json!({"count": 3})));
    let run = wdo(&server, &["kv", "get", "counter", "bob", "count"]).ok();
    assert_eq!(run.stdout, b"3");

    // Garbage is refused by the host, and a missing file by the CLI.
    std::fs::write(dir.join("garbage.sqlite"), b"not a database at all").unwrap();
    wdo(
        &server,
        &["objects", "import", "counter", "bob", "garbage.sqlite"],
    )
    .fails(2, "refused import, nothing changed");
    wdo(
        &server,
        &["objects", "import", "counter", "bob", "missing.sqlite"],
    )
    .fails(2, "cannot read missing.sqlite");
    assert_eq!(server.get("/counter/bob/get").await.1, json!({"count": 3}));
}

#[tokio::test(flavor = "multi_thread")]
async fn delete_needs_yes_without_a_terminal_and_evict_retires_the_object() {
    let server = start("");
    assert_eq!(server.get("/counter/doomed/increment").await.0, 200);
    wdo(&server, &["objects", "delete", "counter", "doomed"])
        .fails(2, "without --yes: stdin is not a terminal");
    assert_eq!(
        server.get("/counter/doomed/get").await.1,
        json!({"count": 1})
    );
    let run = wdo(
        &server,
        &["objects", "delete", "counter", "doomed", "--yes"],
    )
    .ok();
    assert!(
        run.text().contains("deleted the data of counter/doomed"),
        "{}",
        run.text()
    );
    assert_eq!(
        server.get("/counter/doomed/get").await.1,
        json!({"count": 0})
    );

    assert_eq!(server.get("/counter/busy/increment").await.0, 200);
    let live = |run: Run| run.ok().json()["live"].clone();
    assert_eq!(
        live(wdo(
            &server,
            &["objects", "show", "counter", "busy", "--json"]
        )),
        true
    );
    let run = wdo(&server, &["objects", "evict", "counter", "busy"]).ok();
    assert!(
        run.text().contains("evicted counter/busy"),
        "{}",
        run.text()
    );
    let retired = eventually(Duration::from_secs(30), || async {
        live(wdo(
            &server,
            &["objects", "show", "counter", "busy", "--json"],
        )) == false
    })
    .await;
    assert!(retired, "counter/busy is still live after evict");
    assert_eq!(server.get("/counter/busy/get").await.1, json!({"count": 1}));
}

/// `wdo <args>` on a terminal (a pseudo-terminal from util-linux's `script`) that types
/// `typed`.
fn on_a_terminal(server: &Server, args: &[&str], typed: &[u8]) -> Run {
    let mut line = format!("'{}'", env!("CARGO_BIN_EXE_wdo"));
    for arg in args.iter().chain(&["--admin", server.admin.as_str()]) {
        line.push_str(&format!(" '{arg}'"));
    }
    let mut script = Command::new("script");
    script
        .args(["--quiet", "--return", "--command", &line, "/dev/null"])
        .current_dir(server.dir.path())
        .env_remove("WDO_ADMIN")
        .env_remove("WDO_ADMIN_TOKEN");
    finish(&mut script, Some(typed))
}

#[tokio::test(flavor = "multi_thread")]
async fn delete_on_a_terminal_asks_first_and_deletes_only_on_yes() {
    let server = start("");
    assert_eq!(server.get("/counter/asked/increment").await.0, 200);
    let run = on_a_terminal(&server, &["objects", "delete", "counter", "asked"], b"n\n");
    assert_eq!(run.code, 1, "{}", run.text());
    assert!(
        run.text().contains("This cannot be undone. [y/N]"),
        "{}",
        run.text()
    );
    assert!(run.text().contains("not deleted"), "{}", run.text());
    assert_eq!(
        server.get("/counter/asked/get").await.1,
        json!({"count": 1})
    );

    let run = on_a_terminal(&server, &["objects", "delete", "counter", "asked"], b"y\n");
    assert_eq!(run.code, 0, "{}", run.text());
    assert!(
        run.text().contains("deleted the data of counter/asked"),
        "{}",
        run.text()
    );
    assert_eq!(
        server.get("/counter/asked/get").await.1,
        json!({"count": 0})
    );

    // An unknown object is said before anything is asked.
    let run = on_a_terminal(&server, &["objects", "delete", "counter", "nobody"], b"y\n");
    assert_eq!(run.code, 3, "{}", run.text());
    assert!(!run.text().contains("[y/N]"), "{}", run.text());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_token_protected_host_answers_exit_code_4_without_the_token() {
    let server = start(&format!("admin-token = {TOKEN:?}"));
    wdo(&server, &["namespaces"]).fails(4, "Authorization: Bearer");
    wdo(
        &server,
        &["namespaces", "--token", "wrong-token-wrong-token"],
    )
    .fails(4, "the admin token is wrong");
    let mut with_env = command(server.dir.path(), &["namespaces", "--json"]);
    with_env
        .args(["--admin", &server.admin])
        .env("WDO_ADMIN_TOKEN", TOKEN);
    let names: Vec<Value> = finish(&mut with_env, None).ok().json()["namespaces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|ns| ns["name"].clone())
        .collect();
    assert_eq!(names, [json!("counter"), json!("queue"), json!("notes")]);

    // Address and token from a config: named by --config, or ./wdo.toml by default.
    let dir = tempfile::tempdir().unwrap();
    let listen = server.admin.trim_start_matches("http://");
    let config = format!("admin-listen = {listen:?}\nadmin-token = {TOKEN:?}\n");
    std::fs::write(dir.path().join("wdo.toml"), &config).unwrap();
    finish(&mut command(dir.path(), &["namespaces"]), None).ok();
    let elsewhere = tempfile::tempdir().unwrap();
    let path = dir.path().join("wdo.toml");
    let args = ["namespaces", "--config", path.to_str().unwrap()];
    let run = finish(&mut command(elsewhere.path(), &args), None).ok();
    assert!(run.text().contains("counter"), "{}", run.text());
    // WDO_ADMIN names the host: the config is not read, so its token is not sent.
    let mut other = command(dir.path(), &["namespaces"]);
    other.env("WDO_ADMIN", &server.admin);
    finish(&mut other, None).fails(4, "Authorization: Bearer");
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_things_answer_3_an_unreachable_host_5_and_bad_usage_2() {
    let server = start("");
    wdo(&server, &["objects", "show", "counter", "nobody"])
        .fails(3, "no object \"nobody\" in namespace \"counter\"");
    wdo(&server, &["objects", "list", "nope"]).fails(3, "unknown namespace \"nope\"");
    wdo(&server, &["objects", "show", "counter", "@1234"]).fails(2, "malformed object id");
    wdo(&server, &["reload", "nope"]).fails(3, "unknown namespace");

    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    let mut unreachable = command(server.dir.path(), &["namespaces"]);
    unreachable.args(["--admin", &format!("http://{closed}")]);
    finish(&mut unreachable, None)
        .fails(5, &format!("cannot reach the admin API at http://{closed}"));

    let mut usage = command(
        server.dir.path(),
        &["objects", "list", "counter", "--limit", "0"],
    );
    finish(&mut usage, None).fails(2, "invalid value '0' for '--limit <LIMIT>'");
    let mut usage = command(server.dir.path(), &["kv", "get", "counter", "x"]);
    finish(&mut usage, None).fails(2, "required arguments were not provided: <KEY>");
    let mut https = command(server.dir.path(), &["namespaces"]);
    https.args(["--admin", "https://127.0.0.1:1"]);
    finish(&mut https, None).fails(2, "plain http");
}

#[tokio::test(flavor = "multi_thread")]
async fn namespaces_are_listed_and_a_reload_that_does_not_compile_answers_2() {
    let dir = tempfile::tempdir().unwrap();
    let component = dir.path().join("counter.wasm");
    std::fs::copy(&components().counter, &component).unwrap();
    let server = Server::start_with(Options {
        namespaces: vec![("counter".into(), component.clone())],
        ..Options::default()
    });
    let text = wdo(&server, &["namespaces"]).ok().text();
    assert!(
        text.contains("NAMESPACE") && text.contains("counter"),
        "{text}"
    );
    let run = wdo(&server, &["reload", "counter", "--json"]).ok();
    assert_eq!(run.json()["namespaces"][0]["reloaded"], true);
    wdo(&server, &["reload"]).ok();

    std::fs::write(&component, b"not wasm").unwrap();
    wdo(&server, &["reload", "counter"]).fails(2, "the previous code keeps serving");
    assert_eq!(server.get("/counter/x/increment").await.0, 200);
}
