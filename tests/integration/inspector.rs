//! The inspector page in a real browser: headless Chromium, driven through Debian's
//! chromedriver (WebDriver), finds an object by name, reads its key-value entries and SQL
//! tables, runs a query in the console, exports the database (the file really arrives and
//! opens), deletes an object's data after a confirmation, and sees the live charts draw;
//! with an admin token it asks for the token and works once the right one is typed.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{json, Value};

use crate::harness::{decode, Options, Server};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// How long anything on the page may take to appear (a loaded 2-core machine).
const DEADLINE: Duration = Duration::from_secs(90);
const TOKEN: &str = "5d0c8e2f71a94b36a8e0f3c2d7b61e94";
const ENTER: &str = "\u{e007}";

/// chromedriver and the browser it starts, in a process group of their own: dropped, the
/// whole group is killed.
struct Driver {
    child: Child,
    port: u16,
}

impl Driver {
    fn start() -> Driver {
        for program in [CHROMIUM, CHROMEDRIVER] {
            assert!(
                Path::new(program).exists(),
                "{program} is missing: run scripts/test.sh, whose need_browser installs \
                 Debian's chromium and chromium-driver"
            );
        }
        use std::os::unix::process::CommandExt;
        let mut child = Command::new(CHROMEDRIVER)
            .arg("--port=0")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .expect("start chromedriver");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(rest) = line.split("started successfully on port ").nth(1) {
                    let _ = tx.send(rest.trim_end_matches('.').parse::<u16>().ok());
                }
            }
        });
        let mut driver = Driver { child, port: 0 };
        driver.port = rx
            .recv_timeout(DEADLINE)
            .ok()
            .flatten()
            .expect("chromedriver did not say on which port it listens");
        driver
    }

    /// A headless Chromium session downloading into `downloads`.
    async fn browser(&self, profile: &Path, downloads: &Path) -> Client {
        let mut capabilities = serde_json::Map::new();
        capabilities.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": CHROMIUM,
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                    "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync", "--window-size=1400,1000",
                    format!("--user-data-dir={}", profile.display()),
                ],
                "prefs": {
                    "download.default_directory": downloads,
                    "download.prompt_for_download": false,
                    "download.directory_upgrade": true,
                },
            }),
        );
        ClientBuilder::new(HttpConnector::new())
            .capabilities(capabilities)
            .connect(&format!("http://127.0.0.1:{}", self.port))
            .await
            .expect("a WebDriver session with headless Chromium")
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let group = self.child.id() as i32;
        unsafe { libc::kill(-group, libc::SIGKILL) };
        let _ = self.child.wait();
    }
}

/// The element `css` names, once it is on the page.
async fn find(client: &Client, css: &str) -> Element {
    match client
        .wait()
        .at_most(DEADLINE)
        .every(Duration::from_millis(100))
        .for_element(Locator::Css(css))
        .await
    {
        Ok(element) => element,
        Err(e) => panic!("no {css} on the page: {e}\n{}", page_text(client).await),
    }
}

/// Waits until the text of `css` holds every one of `parts`; returns the text.
async fn text_with(client: &Client, css: &str, parts: &[&str]) -> String {
    let deadline = tokio::time::Instant::now() + DEADLINE;
    let mut last = String::new();
    loop {
        if let Ok(element) = client.find(Locator::Css(css)).await {
            if let Ok(text) = element.text().await {
                if parts.iter().all(|part| text.contains(part)) {
                    return text;
                }
                last = text;
            }
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{css} never showed {parts:?}; it shows {last:?}\n{}",
            page_text(client).await
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits until `script` (a function body) returns true.
async fn until(client: &Client, what: &str, script: &str) {
    let deadline = tokio::time::Instant::now() + DEADLINE;
    loop {
        if client.execute(script, vec![]).await.ok() == Some(Value::Bool(true)) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what} never happened\n{}",
            page_text(client).await
        );
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
}

async fn page_text(client: &Client) -> String {
    match client
        .execute("return document.body.innerText", vec![])
        .await
    {
        Ok(Value::String(text)) => format!("the page shows:\n{text}"),
        other => format!("(the page's text cannot be read: {other:?})"),
    }
}

/// Clicks `css`, finding it again if the page replaced it between finding and clicking
/// (the sidebar and the summary are redrawn while the page runs).
async fn click(client: &Client, css: &str) {
    let deadline = tokio::time::Instant::now() + DEADLINE;
    loop {
        match find(client, css).await.click().await {
            Ok(()) => return,
            Err(e) => assert!(
                tokio::time::Instant::now() < deadline,
                "cannot click {css}: {e}\n{}",
                page_text(client).await
            ),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn type_into(client: &Client, css: &str, text: &str) {
    let input = find(client, css).await;
    input.clear().await.expect("clear");
    input.send_keys(text).await.expect("type");
}

async fn admin(server: &Server, method: &str, path: &str, body: &str, auth: bool) -> (u16, Value) {
    let mut request = server
        .client
        .request(method.parse().unwrap(), format!("{}{path}", server.admin))
        .body(body.to_string());
    if auth {
        request = request.header("authorization", format!("Bearer {TOKEN}"));
    }
    decode(request.send().await.expect("admin request")).await
}

/// Requests to the public listener until dropped (bounded), so the charts have something
/// to draw.
struct Traffic(tokio::task::JoinHandle<()>);

impl Traffic {
    fn start(server: &Server) -> Traffic {
        let client = server.client.clone();
        let url = server.url("/counter/chart-traffic/increment");
        Traffic(tokio::spawn(async move {
            for _ in 0..3000 {
                let _ = client.get(&url).send().await;
                tokio::time::sleep(Duration::from_millis(40)).await;
            }
        }))
    }
}

impl Drop for Traffic {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Waits for the charts to have drawn lines and the latency legend to show numbers.
async fn charts_draw(client: &Client) {
    until(
        client,
        "the request chart drawing points",
        "const c = document.querySelector('#chart-requests');
         if (!c || Number(c.dataset.points) < 2) return false;
         const pixels = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
         let lit = 0;
         for (let i = 3; i < pixels.length; i += 4) if (pixels[i] > 0) lit++;
         return lit > 500;",
    )
    .await;
    let p50 = text_with(client, "#legend-latency [data-series=p50]", &[" ms"]).await;
    let ms: f64 = p50.trim_end_matches(" ms").parse().expect("p50 in ms");
    assert!(ms > 0.0 && ms < 10_000.0, "p50 {p50}");
    let rate = text_with(client, "#legend-requests [data-series=requests]", &[]).await;
    assert!(rate.parse::<f64>().is_ok_and(|r| r > 0.0), "{rate}");
}

/// The page's own module, in the browser, on two scrapes whose answers are known: 100
/// requests (50 under 1 ms, 50 between 1 and 2 ms) in 2 s, 20 commits of 60 events in 5
/// fsyncs.
async fn chart_arithmetic(client: &Client) {
    let script = r#"
        const done = arguments[arguments.length - 1];
        import("/inspector/metrics.js").then((m) => {
          const scrape = (n, c, e, f) => m.parse(
            `wdo_request_duration_seconds_bucket{namespace="a",class="2xx",le="0.001"} ${n / 2}
` +
            `wdo_request_duration_seconds_bucket{namespace="a",class="2xx",le="0.002"} ${n}
` +
            `wdo_request_duration_seconds_bucket{namespace="a",class="2xx",le="+Inf"} ${n}
` +
            `wdo_request_duration_seconds_count{namespace="a",class="2xx"} ${n}
` +
            `wdo_events_per_commit_count{namespace="a"} ${c}
` +
            `wdo_events_per_commit_sum{namespace="a"} ${e}
` +
            `wdo_wal_sync_duration_seconds_count{namespace="a"} ${f}
# EOF
`);
          done(m.derive(scrape(0, 10, 10, 5), scrape(100, 30, 70, 10), 2));
        }, (e) => done(String(e)));
    "#;
    let derived = client.execute_async(script, vec![]).await.expect("run");
    let number = |key: &str| derived[key].as_f64().unwrap_or_else(|| panic!("{derived}"));
    assert_eq!(number("requests"), 50.0, "{derived}");
    assert!((number("p50") - 1.0).abs() < 1e-9, "{derived}");
    assert!((number("p99") - 1.98).abs() < 1e-9, "{derived}");
    assert_eq!(number("commitsPerFsync"), 4.0, "{derived}");
    assert_eq!(number("eventsPerCommit"), 3.0, "{derived}");
}

fn screenshot_to(png: &[u8]) {
    let mut paths = Vec::new();
    if let Some(dir) = std::env::var_os("CARGO_TARGET_DIR") {
        paths.push(PathBuf::from(dir).join("inspector.png"));
    }
    if let Some(path) = std::env::var_os("WDO_INSPECTOR_SCREENSHOT") {
        paths.push(PathBuf::from(path));
    }
    for path in paths {
        std::fs::write(&path, png).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    }
}

/// The `.sqlite` file that arrived in `dir` (Chromium writes a `.crdownload` first).
async fn downloaded(dir: &Path) -> PathBuf {
    let deadline = tokio::time::Instant::now() + DEADLINE;
    loop {
        let files: Vec<PathBuf> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        if let Some(file) = files
            .iter()
            .find(|f| f.extension().is_some_and(|e| e == "sqlite"))
        {
            return file.clone();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no .sqlite file arrived in {}: {files:?}",
            dir.display()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_inspector_finds_an_object_shows_its_data_runs_sql_exports_it_and_charts_the_host() {
    let server = Server::start();
    for text in ["buy milk", "call the plumber", "ship the inspector"] {
        let (status, body) = server
            .post("/notes/inspector-notes", json!({ "text": text }))
            .await;
        assert_eq!(status, 201, "{body}");
    }
    let (status, body) = server
        .post("/notes/shopping-list", json!({ "text": "bread" }))
        .await;
    assert_eq!(status, 201, "{body}");
    let object = "/v1/namespaces/notes/objects/inspector-notes";
    for (key, value) in [("owner", "ops-team"), ("settings%2Ftheme", "dark")] {
        let (status, body) =
            admin(&server, "PUT", &format!("{object}/kv/{key}"), value, false).await;
        assert_eq!(status, 200, "{body}");
    }
    let _traffic = Traffic::start(&server);

    let driver = Driver::start();
    let temp = tempfile::tempdir().unwrap();
    let downloads = temp.path().join("downloads");
    std::fs::create_dir(&downloads).unwrap();
    let client = driver
        .browser(&temp.path().join("profile"), &downloads)
        .await;
    client.goto(&format!("{}/", server.admin)).await.unwrap();

    // Find the object by a part of its name: the other note is filtered out.
    click(&client, "a.namespace[data-namespace=notes]").await;
    type_into(&client, "#object-search", "inspector").await;
    until(
        &client,
        "the search listing only inspector-notes",
        "const rows = [...document.querySelectorAll('#object-list .object-row')];
         return rows.length === 1 && rows[0].dataset.target === 'inspector-notes';",
    )
    .await;
    click(&client, ".object-row[data-target=inspector-notes]").await;
    text_with(&client, "#object-title", &["inspector-notes"]).await;
    text_with(&client, "#summary", &["SIZE", "KiB", "LIVE", "SOCKETS"]).await;

    // Its key-value entries (the default tab), then its SQL tables and rows.
    text_with(
        &client,
        "#kv-list",
        &["owner", "ops-team", "settings/theme", "dark"],
    )
    .await;
    click(&client, "#tab-tables").await;
    text_with(&client, "#table-list", &["notes", "3", "_wdo_kv"]).await;
    text_with(&client, "#rows-table", &["buy milk", "call the plumber"]).await;

    // The console: a query and its result; a write without "write" is refused, visibly.
    click(&client, "#tab-console").await;
    type_into(
        &client,
        "#sql-input",
        "SELECT count(*) AS n, max(text) AS last FROM notes",
    )
    .await;
    click(&client, "#sql-run").await;
    text_with(
        &client,
        "#sql-table",
        &["n", "last", "3", "ship the inspector"],
    )
    .await;
    type_into(&client, "#sql-input", "DELETE FROM notes").await;
    click(&client, "#sql-run").await;
    text_with(&client, "#sql-result .error", &["write = true"]).await;

    // The export arrives as a file and holds the data.
    click(&client, "#export").await;
    let file = downloaded(&downloads).await;
    let name = file.file_name().unwrap().to_string_lossy().into_owned();
    assert!(name.starts_with("notes-"), "{name}");
    // The browser renames the file once it is complete; let a slow disk catch up.
    let copy = eventually_open(&file).await;
    let notes: i64 = copy
        .query_row("SELECT count(*) FROM notes", [], |r| r.get(0))
        .unwrap();
    assert_eq!(notes, 3);
    let owner: Vec<u8> = copy
        .query_row(
            "SELECT value FROM _wdo_kv WHERE key = CAST('owner' AS BLOB)",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(owner, b"ops-team");
    text_with(&client, "#toasts", &["Exported", name.as_str()]).await;

    // The charts draw what the traffic does (and have a few dozen seconds of it before the
    // picture is taken), and the page's arithmetic holds on known scrapes.
    charts_draw(&client).await;
    chart_arithmetic(&client).await;
    until(
        &client,
        "eight scrapes on the request chart",
        "return Number(document.querySelector('#chart-requests').dataset.points) >= 16;",
    )
    .await;
    click(&client, "#tab-tables").await;
    text_with(&client, "#rows-table", &["ship the inspector"]).await;
    // The toast of the export has gone (5 s), so the picture shows the page itself.
    until(
        &client,
        "the notes to clear",
        "return document.querySelectorAll('#toasts .toast').length === 0;",
    )
    .await;
    let png = client.screenshot().await.expect("screenshot");
    assert!(png.starts_with(b"\x89PNG"), "not a PNG");
    screenshot_to(&png);

    // Open the other object by its exact name, and delete its data after confirming.
    type_into(&client, "#object-search", &format!("shopping-list{ENTER}")).await;
    text_with(&client, "#object-title", &["shopping-list"]).await;
    click(&client, "#delete-data").await;
    text_with(
        &client,
        "#confirm-title",
        &["Delete the data of shopping-list"],
    )
    .await;
    click(&client, "#confirm-yes").await;
    text_with(&client, "#toasts", &["Deleted"]).await;
    let (status, tables) = admin(
        &server,
        "GET",
        "/v1/namespaces/notes/objects/shopping-list/sql/tables",
        "",
        false,
    )
    .await;
    assert_eq!(status, 200, "{tables}");
    assert!(
        !tables["tables"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["name"] == "notes"),
        "{tables}"
    );
    client.close().await.expect("end the browser session");
}

/// Opens a downloaded SQLite file, retrying while the browser may still be writing it.
async fn eventually_open(file: &Path) -> rusqlite::Connection {
    let deadline = tokio::time::Instant::now() + DEADLINE;
    loop {
        let opened =
            rusqlite::Connection::open_with_flags(file, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
                .and_then(|c| {
                    c.query_row("SELECT count(*) FROM sqlite_schema", [], |r| {
                        r.get::<_, i64>(0)
                    })?;
                    Ok(c)
                });
        match opened {
            Ok(connection) => return connection,
            Err(e) => assert!(
                tokio::time::Instant::now() < deadline,
                "{} does not open as SQLite: {e}",
                file.display()
            ),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn with_an_admin_token_the_inspector_asks_for_it_and_works_once_it_is_typed() {
    let server = Server::start_with(Options {
        extra: format!("admin-token = {TOKEN:?}"),
        ..Options::default()
    });
    assert_eq!(server.get("/counter/visits/increment").await.0, 200);
    // The page and its files are served without the token; the API is not.
    let page = server
        .client
        .get(format!("{}/", server.admin))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let csp = page.headers()["content-security-policy"].to_str().unwrap();
    assert!(csp.starts_with("default-src 'self'"), "{csp}");
    assert!(page.text().await.unwrap().contains("/inspector/app.js"));
    assert_eq!(
        admin(&server, "GET", "/v1/namespaces", "", false).await.0,
        401
    );
    let (status, visits) = admin(
        &server,
        "GET",
        "/v1/namespaces/counter/objects/visits",
        "",
        true,
    )
    .await;
    assert_eq!(status, 200, "{visits}");
    let id = visits["id"].as_str().unwrap().to_string();
    let _traffic = Traffic::start(&server);

    let driver = Driver::start();
    let temp = tempfile::tempdir().unwrap();
    let client = driver
        .browser(&temp.path().join("profile"), temp.path())
        .await;
    client.goto(&format!("{}/", server.admin)).await.unwrap();

    // Asked for the token with the API's reason; a wrong one is refused and said so.
    text_with(&client, "#token-reason", &["Authorization: Bearer"]).await;
    type_into(&client, "#token-input", "not-the-admin-token").await;
    click(&client, "#token-submit").await;
    text_with(&client, "#token-reason", &["the admin token is wrong"]).await;
    type_into(&client, "#token-input", TOKEN).await;
    click(&client, "#token-submit").await;

    // Then everything works: namespaces, an object opened by @id, its data, the charts.
    click(&client, "a.namespace[data-namespace=counter]").await;
    type_into(&client, "#object-search", &format!("@{id}{ENTER}")).await;
    text_with(&client, "#object-id", &[id.as_str()]).await;
    text_with(&client, "#kv-list", &["count", "1"]).await;
    charts_draw(&client).await;
    until(
        &client,
        "the token kept in sessionStorage",
        &format!("return sessionStorage.getItem('wdo-admin-token') === '{TOKEN}';"),
    )
    .await;
    client.close().await.expect("end the browser session");
}
