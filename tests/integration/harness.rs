//! Test harness: builds the guest components once, starts the real `wdo` binary on port 0
//! with a fresh data directory, and speaks HTTP to it.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use serde_json::Value;

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

pub fn guest_target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => PathBuf::from(dir).join("guests"),
        None => repo_root().join("target/guests"),
    }
}

/// The compiled-component cache shared by every test server.
pub fn test_cache_dir() -> PathBuf {
    guest_target_dir().join("wdo-test-cache")
}

/// Builds the examples (with `wdo build`, as a user would; for the JavaScript and Python
/// ones this also installs their toolchains on a fresh machine) and the probe, once per run,
/// then starts one server so that every component is compiled into the shared cache before
/// tests start servers in parallel.
pub fn components() -> &'static Components {
    static BUILT: OnceLock<Components> = OnceLock::new();
    BUILT.get_or_init(|| {
        let root = repo_root();
        let status = Command::new(env!("CARGO_BIN_EXE_wdo"))
            .args(["build", "--config"])
            .arg(root.join("wdo.toml"))
            .status()
            .expect("run wdo build");
        assert!(status.success(), "wdo build failed");
        let target = guest_target_dir();
        let status = Command::new(env!("CARGO"))
            .args([
                "build",
                "--release",
                "--target",
                "wasm32-wasip2",
                "-p",
                "wdo-test-probe",
                "-p",
                "wdo-test-worker",
                "--target-dir",
            ])
            .arg(&target)
            .current_dir(&root)
            .status()
            .expect("run cargo build for the probe");
        assert!(status.success(), "building the probe guest failed");
        // The JavaScript and Python test guests, with the toolchains `wdo build` just
        // installed for the examples.
        let build_js = |module: &str, class: &str, out: &str| {
            let out = target.join(out);
            run_build(
                Command::new("node")
                    .arg(root.join("guest-sdk/js/bin/wdo-js.mjs"))
                    .arg("build")
                    .arg(root.join(module))
                    .args(["--class", class, "--out"])
                    .arg(&out),
            );
            out
        };
        let sdk_js = build_js("tests/guests/sdk-js/object.js", "SdkProbe", "sdk-js.wasm");
        // Cloudflare's documented classes, as the wrangler project holds them.
        let seed = "tests/guests/wrangler-project/src";
        let seed_counter = build_js(
            &format!("{seed}/counter.ts"),
            "Counter",
            "seed-counter.wasm",
        );
        let seed_ratelimiter = build_js(
            &format!("{seed}/rate-limiter.ts"),
            "RateLimiter",
            "seed-ratelimiter.wasm",
        );
        let sdk_py = target.join("sdk-py.wasm");
        run_build(
            Command::new(root.join("guest-sdk/python/.venv/bin/python"))
                .arg(root.join("guest-sdk/python/build.py"))
                .arg(root.join("tests/guests/sdk-py/object.py"))
                .args(["--class", "SdkProbe", "--out"])
                .arg(&sdk_py),
        );
        let components = Components {
            counter: root.join("examples/dist/counter.wasm"),
            counter_js: root.join("examples/dist/counter-js.wasm"),
            counter_py: root.join("examples/dist/counter-py.wasm"),
            ratelimit: root.join("examples/dist/ratelimit.wasm"),
            bank: root.join("examples/dist/bank.wasm"),
            queue: root.join("examples/dist/queue.wasm"),
            chat: root.join("examples/dist/chat.wasm"),
            chat_js: root.join("examples/dist/chat-js.wasm"),
            notes: root.join("examples/dist/notes.wasm"),
            chat_seed: root.join("examples/dist/chat-seed.wasm"),
            game_lobby: root.join("examples/dist/game-lobby.wasm"),
            game_room: root.join("examples/dist/game.wasm"),
            probe: target.join("wasm32-wasip2/release/wdo_test_probe.wasm"),
            worker: target.join("wasm32-wasip2/release/wdo_test_worker.wasm"),
            sdk_js,
            sdk_py,
            seed_counter,
            seed_ratelimiter,
        };
        // Compiling the 2-20 MB JavaScript and Python components takes seconds each (once:
        // the cache keeps them); done here once rather than by every test's server at once.
        drop(Server::start_with(Options::with_namespaces(
            components.namespaces(),
        )));
        components
    })
}

fn run_build(command: &mut Command) {
    let status = command
        .status()
        .unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"));
    assert!(status.success(), "{command:?} failed: {status}");
}

pub struct Components {
    pub counter: PathBuf,
    pub counter_js: PathBuf,
    pub counter_py: PathBuf,
    pub ratelimit: PathBuf,
    pub bank: PathBuf,
    pub queue: PathBuf,
    pub chat: PathBuf,
    pub chat_js: PathBuf,
    pub notes: PathBuf,
    /// Cloudflare's documented ChatRoom (standard WebSockets), in TypeScript
    /// (`examples/chat-seed`).
    pub chat_seed: PathBuf,
    /// The game example's `Lobby` and `GameRoom` (`examples/game`).
    pub game_lobby: PathBuf,
    pub game_room: PathBuf,
    pub probe: PathBuf,
    /// The test Worker (`tests/guests/worker-probe`), not a namespace.
    pub worker: PathBuf,
    pub sdk_js: PathBuf,
    pub sdk_py: PathBuf,
    /// Cloudflare's documented Counter and RateLimiter, in TypeScript.
    pub seed_counter: PathBuf,
    pub seed_ratelimiter: PathBuf,
}

impl Components {
    /// Every component under the namespace tests address it by.
    pub fn namespaces(&self) -> Vec<(String, PathBuf)> {
        [
            ("counter", &self.counter),
            ("counter-js", &self.counter_js),
            ("counter-py", &self.counter_py),
            ("ratelimit", &self.ratelimit),
            ("bank", &self.bank),
            ("queue", &self.queue),
            ("chat", &self.chat),
            ("chat-js", &self.chat_js),
            ("notes", &self.notes),
            ("probe", &self.probe),
            ("sdk-js", &self.sdk_js),
            ("sdk-py", &self.sdk_py),
            ("seed-counter", &self.seed_counter),
            ("seed-ratelimiter", &self.seed_ratelimiter),
            ("chat-seed", &self.chat_seed),
            ("game-lobby", &self.game_lobby),
            ("game-room", &self.game_room),
        ]
        .into_iter()
        .map(|(name, path)| (name.to_string(), path.clone()))
        .collect()
    }
}

/// Settings for one test server; fields are written into its `wdo.toml`.
#[derive(Clone)]
pub struct Options {
    pub idle_timeout: &'static str,
    pub extra: String,
    /// Per-namespace settings appended to every namespace table.
    pub namespace_extra: String,
    /// (namespace, component) pairs in addition to the defaults.
    pub namespaces: Vec<(String, PathBuf)>,
    /// Where compiled components are cached; by default one directory shared by all tests.
    pub cache_dir: Option<PathBuf>,
    /// Run `wdo dev` (build, serve, reload changed components) instead of `wdo serve`.
    pub dev: bool,
    /// A command that runs `wdo` as its child (e.g. `strace` injecting faults); empty to
    /// run `wdo` directly.
    pub wrapper: Vec<String>,
    /// Environment variables of the process.
    pub env: Vec<(&'static str, String)>,
    /// The data directory; by default `data` in the server's temporary directory.
    pub data_dir: Option<PathBuf>,
    /// A config file to serve as it is (e.g. a `wrangler.toml`) instead of the `wdo.toml`
    /// written from these options.
    pub config_file: Option<PathBuf>,
    /// More arguments of `wdo serve` (or `dev`).
    pub args: Vec<String>,
    /// The public listener's address (a cluster node's, which the others must know before
    /// it starts); by default any free port.
    pub listen: Option<String>,
}

impl Options {
    /// Only these namespaces (no build of the examples).
    pub fn with_namespaces(namespaces: Vec<(String, PathBuf)>) -> Self {
        Options {
            idle_timeout: "10s",
            extra: String::new(),
            namespace_extra: String::new(),
            namespaces,
            cache_dir: None,
            dev: false,
            wrapper: Vec::new(),
            env: Vec::new(),
            data_dir: None,
            config_file: None,
            args: Vec::new(),
            listen: None,
        }
    }
}

impl Default for Options {
    fn default() -> Self {
        Options::with_namespaces(components().namespaces())
    }
}

pub struct Server {
    child: Option<Child>,
    pub dir: tempfile::TempDir,
    pub base: String,
    pub admin: String,
    pub options: Options,
    pub client: reqwest::Client,
}

impl Server {
    pub fn start() -> Server {
        Server::start_with(Options::default())
    }

    pub fn start_with(options: Options) -> Server {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut server = Server {
            child: None,
            dir,
            base: String::new(),
            admin: String::new(),
            options,
            client: reqwest::Client::builder()
                .pool_max_idle_per_host(64)
                .build()
                .unwrap(),
        };
        server.launch();
        server
    }

    fn write_config(&self) -> PathBuf {
        let mut text = format!(
            "data-dir = {:?}\ncache-dir = {:?}\nidle-timeout = {:?}\n{}\n",
            self.data_dir(),
            self.options
                .cache_dir
                .clone()
                .unwrap_or_else(test_cache_dir),
            self.options.idle_timeout,
            self.options.extra
        );
        for (name, component) in &self.options.namespaces {
            text.push_str(&format!(
                "[[namespace]]\nname = {name:?}\ncomponent = {component:?}\n{}\n",
                self.options.namespace_extra
            ));
        }
        let path = self.dir.path().join("wdo.toml");
        std::fs::write(&path, text).unwrap();
        path
    }

    /// Where the server keeps its objects.
    pub fn data_dir(&self) -> PathBuf {
        let default = || self.dir.path().join("data");
        self.options.data_dir.clone().unwrap_or_else(default)
    }

    /// Starts the process and waits for its "listening" line.
    fn launch(&mut self) {
        let mut child = self.spawn();
        let stdout = child.stdout.take().unwrap();
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).unwrap();
        assert!(
            line.starts_with("wdo listening on http://"),
            "wdo did not start: {line:?}\n{}",
            self.log()
        );
        let mut words = line.split_whitespace();
        self.base = words.nth(3).unwrap().to_string();
        self.admin = words.nth(1).unwrap().trim_end_matches(')').to_string();
        self.child = Some(child);
    }

    /// Stops the server, starts it again with its (changed) options and expects it to refuse
    /// to start; returns what it logged.
    pub fn restart_refused(&mut self) -> String {
        self.stop();
        let mut child = self.spawn();
        let status = wait_timeout(&mut child, Duration::from_secs(60));
        assert!(
            status.is_some_and(|s| !s.success()),
            "wdo did not refuse to start: {status:?}\n{}",
            self.log()
        );
        self.log()
    }

    fn spawn(&mut self) -> Child {
        let config = match &self.options.config_file {
            Some(path) => path.clone(),
            None => self.write_config(),
        };
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("wdo.log"))
            .unwrap();
        let mut command = match self.options.wrapper.split_first() {
            Some((program, args)) => {
                let mut command = Command::new(program);
                command.args(args).arg(env!("CARGO_BIN_EXE_wdo"));
                command
            }
            None => Command::new(env!("CARGO_BIN_EXE_wdo")),
        };
        command
            .arg(if self.options.dev { "dev" } else { "serve" })
            .arg("--config")
            .arg(&config)
            .args([
                "--listen",
                self.options.listen.as_deref().unwrap_or("127.0.0.1:0"),
            ])
            .args(["--admin-listen", "127.0.0.1:0"])
            .args(&self.options.args)
            .env("RUST_LOG", "info")
            .envs(self.options.env.iter().map(|(k, v)| (k, v)))
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .expect("start wdo")
    }

    /// Sends a signal to the running process (e.g. `libc::SIGHUP`).
    pub fn signal(&self, signal: i32) {
        let child = self.child.as_ref().expect("the server runs");
        unsafe { libc::kill(child.id() as i32, signal) };
    }

    /// The host's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("wdo.log")).unwrap_or_default()
    }

    /// Graceful stop (SIGTERM), then start again on the same data directory.
    pub fn restart(&mut self) {
        self.stop();
        self.launch();
    }

    /// The `wdo` process: the child, or the wrapper's child.
    fn wdo_pid(child: &Child, wrapped: bool) -> i32 {
        if !wrapped {
            return child.id() as i32;
        }
        let children = format!("/proc/{0}/task/{0}/children", child.id());
        let text = std::fs::read_to_string(&children).unwrap_or_default();
        text.split_whitespace()
            .next()
            .and_then(|pid| pid.parse().ok())
            .unwrap_or_else(|| panic!("the wrapper has no child ({children}: {text:?})"))
    }

    /// The running `wdo` process's id.
    pub fn pid(&self) -> i32 {
        let child = self.child.as_ref().expect("the server runs");
        Self::wdo_pid(child, !self.options.wrapper.is_empty())
    }

    /// A `/proc/<pid>/status` field of the `wdo` process in bytes, e.g. `VmHWM` (peak
    /// resident memory) or `VmRSS`.
    pub fn memory_status(&self, field: &str) -> u64 {
        let text = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap();
        let line = text
            .lines()
            .find(|l| l.starts_with(&format!("{field}:")))
            .unwrap_or_else(|| panic!("no {field} in /proc/<pid>/status"));
        let kib: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
        kib * 1024
    }

    pub fn stop(&mut self) {
        let wrapped = !self.options.wrapper.is_empty();
        if let Some(mut child) = self.child.take() {
            let pid = Self::wdo_pid(&child, wrapped);
            unsafe { libc::kill(pid, libc::SIGTERM) };
            let status = wait_timeout(&mut child, Duration::from_secs(30));
            assert!(
                status.is_some_and(|s| s.success()),
                "wdo did not exit cleanly after SIGTERM: {status:?}"
            );
        }
    }

    /// SIGKILL: no chance to flush anything.
    pub fn kill9(&mut self) {
        let wrapped = !self.options.wrapper.is_empty();
        if let Some(mut child) = self.child.take() {
            if wrapped {
                let pid = Self::wdo_pid(&child, true);
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
            child.kill().unwrap();
            child.wait().unwrap();
        }
    }

    pub fn restart_after_kill(&mut self) {
        self.kill9();
        self.launch();
    }

    /// `ws://` URL of a path.
    pub fn ws_url(&self, path: &str) -> String {
        format!("{}{}", self.base.replacen("http://", "ws://", 1), path)
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        let response = self.client.get(self.url(path)).send().await.expect("GET");
        decode(response).await
    }

    pub async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        let response = self
            .client
            .post(self.url(path))
            .json(&body)
            .send()
            .await
            .expect("POST");
        decode(response).await
    }

    pub async fn delete(&self, path: &str) -> (u16, Value) {
        let response = self
            .client
            .delete(self.url(path))
            .send()
            .await
            .expect("DELETE");
        decode(response).await
    }

    pub async fn post_raw(&self, path: &str, body: &'static str) -> (u16, Value) {
        let response = self
            .client
            .post(self.url(path))
            .body(body)
            .send()
            .await
            .expect("POST");
        decode(response).await
    }

    /// A GET of the admin API (no token).
    pub async fn admin_get(&self, path: &str) -> (u16, Value) {
        let response = self
            .client
            .get(format!("{}{path}", self.admin))
            .send()
            .await
            .expect("admin GET");
        decode(response).await
    }

    pub async fn metrics(&self) -> String {
        let response = self
            .client
            .get(format!("{}/metrics", self.admin))
            .send()
            .await
            .expect("GET /metrics");
        assert_eq!(response.status(), 200);
        response.text().await.unwrap()
    }

    /// The value of one sample, e.g. `wdo_activations_total{namespace="counter"}`. A sample
    /// that is absent fails the test: the host creates every series of a namespace at zero,
    /// so an absent one is a misspelt name or label, which must not read as 0.
    pub async fn metric(&self, sample: &str) -> f64 {
        let text = self.metrics().await;
        text.lines()
            .find_map(|line| {
                line.strip_prefix(sample)
                    .and_then(|rest| rest.trim().parse().ok())
            })
            .unwrap_or_else(|| panic!("no sample {sample} in /metrics:\n{text}"))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill9();
    }
}

pub async fn decode(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, value)
}

fn wait_timeout(child: &mut Child, timeout: Duration) -> Option<std::process::ExitStatus> {
    let deadline = std::time::Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(status);
        }
        if std::time::Instant::now() > deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Polls `check` until it holds or `timeout` passes (for state that settles asynchronously,
/// such as eviction); returns whether it held.
pub async fn eventually<F, Fut>(timeout: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if check().await {
            return true;
        }
        if tokio::time::Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The SQLite database files under `dir`, at any depth.
pub fn sqlite_files(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            found.extend(sqlite_files(&path));
        } else if path.extension().is_some_and(|e| e == "sqlite") {
            found.push(path);
        }
    }
    found
}
