//! The servers under test, as child processes on loopback: the real `wdo` binary and
//! Cloudflare's `workerd` (installed from npm), each with a private temporary data directory
//! that is removed afterwards. Dropping a [`Server`] kills its process, so nothing is left
//! running even when a scenario fails.

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context;

/// Which runtime a server is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Runtime {
    Wdo,
    Workerd,
}

impl Runtime {
    pub fn name(self) -> &'static str {
        match self {
            Runtime::Wdo => "wdo",
            Runtime::Workerd => "workerd",
        }
    }
}

/// How to start one runtime.
#[derive(Debug, Clone)]
pub enum Launch {
    Wdo {
        binary: PathBuf,
        component: PathBuf,
        /// The chat example (scenario 5).
        chat: PathBuf,
        /// The test probe (scenario 7) and the CPU limit of its events (the length of the
        /// long query).
        probe: PathBuf,
        probe_cpu_limit: Duration,
        /// The test worker (scenario 8), on the routes `/w/` with `PROBE` bound to the
        /// probe's namespace.
        worker: PathBuf,
        /// Compiled-component cache, kept between runs so that startup does not compile.
        cache_dir: PathBuf,
    },
    Workerd {
        binary: PathBuf,
        config: PathBuf,
    },
}

pub struct Server {
    launch: Launch,
    child: Option<Child>,
    pub addr: SocketAddr,
    /// wdo's admin listener (Prometheus `/metrics`).
    pub admin: Option<SocketAddr>,
    /// Holds the data directory and the log; removed on drop.
    work: tempfile::TempDir,
}

impl Server {
    /// wdo's Prometheus `/metrics` text (None for workerd).
    pub async fn metrics_text(&self) -> Option<String> {
        let admin = self.admin?;
        let mut sender = crate::load::connect(admin).await.ok()?;
        let body = crate::load::request(&mut sender, &hyper::Method::GET, "/metrics", admin)
            .await
            .ok()?;
        Some(String::from_utf8_lossy(&body).into_owned())
    }

    pub fn start(launch: Launch) -> anyhow::Result<Server> {
        let work = tempfile::Builder::new()
            .prefix("wdo-bench-")
            .tempdir()
            .context("creating a temporary directory")?;
        std::fs::create_dir_all(work.path().join("data"))?;
        let mut server = Server {
            launch,
            child: None,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            admin: None,
            work,
        };
        server.launch()?;
        Ok(server)
    }

    pub fn runtime(&self) -> Runtime {
        match self.launch {
            Launch::Wdo { .. } => Runtime::Wdo,
            Launch::Workerd { .. } => Runtime::Workerd,
        }
    }

    /// The end of the server's log (stderr), for failure messages.
    pub fn log_tail(&self) -> String {
        read_tail(&self.work.path().join("server.log"))
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Stops the process gracefully and starts it again on the same data: every object is
    /// cold afterwards, its storage intact.
    pub fn restart(&mut self) -> anyhow::Result<()> {
        self.stop();
        self.launch()
    }

    fn launch(&mut self) -> anyhow::Result<()> {
        let data = self.work.path().join("data");
        let log_path = self.work.path().join("server.log");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)?;
        match &self.launch {
            Launch::Wdo {
                binary,
                component,
                chat,
                probe,
                probe_cpu_limit,
                worker,
                cache_dir,
            } => {
                let config = self.work.path().join("wdo.toml");
                let mut text = wdo_config(&data, component, chat, cache_dir);
                text.push_str(&format!(
                    "\n[[namespace]]\nname = \"probe\"\ncomponent = {probe:?}\ncpu-limit = \"{}ms\"\n\
                     bindings = {{ PROBE = \"probe\" }}\n",
                    probe_cpu_limit.as_millis()
                ));
                text.push_str(&format!(
                    "\n[worker]\ncomponent = {worker:?}\nroutes = [\"/w/\"]\n\
                     bindings = {{ PROBE = \"probe\" }}\n"
                ));
                std::fs::write(&config, text)?;
                let mut child = Command::new(binary)
                    .args(["serve", "--config"])
                    .arg(&config)
                    .args(["--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0"])
                    .env("RUST_LOG", "warn")
                    .stdin(Stdio::null())
                    .stdout(Stdio::piped())
                    .stderr(log)
                    .spawn()
                    .with_context(|| format!("cannot start {}", binary.display()))?;
                let stdout = child.stdout.take().expect("piped stdout");
                self.child = Some(child);
                let line = read_line_within(stdout, Duration::from_secs(120));
                // "wdo listening on http://ADDR (admin http://ADDR) namespaces: ..."
                let words: Vec<&str> = line.as_deref().unwrap_or("").split_whitespace().collect();
                let parse = |word: Option<&&str>| {
                    word.and_then(|w| w.strip_prefix("http://"))
                        .and_then(|a| a.trim_end_matches(')').parse::<SocketAddr>().ok())
                };
                let addr = parse(words.get(3));
                self.admin = parse(words.get(5));
                let Some(addr) = addr else {
                    self.kill();
                    anyhow::bail!(
                        "wdo did not start (first line {line:?}); its log:\n{}",
                        read_tail(&log_path)
                    );
                };
                self.addr = addr;
            }
            Launch::Workerd { binary, config } => {
                let addr = free_port()?;
                let child = Command::new(binary)
                    .arg("serve")
                    .arg(config)
                    .arg("--socket-addr")
                    .arg(format!("http={addr}"))
                    .arg("--directory-path")
                    .arg(format!("do-storage={}", data.display()))
                    .stdin(Stdio::null())
                    .stdout(log.try_clone()?)
                    .stderr(log)
                    .spawn()
                    .with_context(|| format!("cannot start {}", binary.display()))?;
                self.child = Some(child);
                self.addr = addr;
                if let Err(e) = self.wait_until_accepting(Duration::from_secs(60)) {
                    self.kill();
                    return Err(e.context(format!("workerd's log:\n{}", read_tail(&log_path))));
                }
            }
        }
        Ok(())
    }

    fn wait_until_accepting(&mut self, timeout: Duration) -> anyhow::Result<()> {
        let deadline = Instant::now() + timeout;
        loop {
            if TcpStream::connect_timeout(&self.addr, Duration::from_millis(200)).is_ok() {
                return Ok(());
            }
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                anyhow::bail!("the server exited at start ({status})");
            }
            if Instant::now() > deadline {
                anyhow::bail!("the server did not accept connections within {timeout:?}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// SIGTERM, then SIGKILL if it has not exited within 30 s.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // SAFETY: plain kill(2) on our own child's pid.
            unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
            let deadline = Instant::now() + Duration::from_secs(30);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// The server's resident memory, bytes.
    pub fn rss_bytes(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid()?)).ok()?;
        let kb: u64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))?
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse()
            .ok()?;
        Some(kb * 1024)
    }

    /// File descriptors the server has open.
    pub fn open_files(&self) -> Option<usize> {
        Some(
            std::fs::read_dir(format!("/proc/{}/fd", self.pid()?))
                .ok()?
                .count(),
        )
    }

    /// CPU time the server has used so far (user + system, all threads).
    pub fn cpu_time(&self) -> Option<Duration> {
        process_cpu_time(self.pid()?)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The wdo configuration: the counter example twice, with full and relaxed durability, and
/// the chat example. The idle timeout is wdo's default (10 s): scenario 5 waits for it.
fn wdo_config(data: &Path, component: &Path, chat: &Path, cache_dir: &Path) -> String {
    format!(
        "data-dir = {data:?}\ncache-dir = {cache_dir:?}\n\n\
         [[namespace]]\nname = \"counter\"\ncomponent = {component:?}\ndurability = \"full\"\n\n\
         [[namespace]]\nname = \"counter-relaxed\"\ncomponent = {component:?}\ndurability = \"relaxed\"\n\n\
         [[namespace]]\nname = \"chat\"\ncomponent = {chat:?}\n"
    )
}

/// The first line the child prints, or None if it prints none within `timeout`.
pub(crate) fn read_line_within(
    stdout: std::process::ChildStdout,
    timeout: Duration,
) -> Option<String> {
    let (send, receive) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut reader = BufReader::new(stdout);
        let mut line = String::new();
        let _ = reader.read_line(&mut line);
        let _ = send.send(line);
        // Keep draining so that the child never blocks on a full pipe.
        let mut sink = String::new();
        while reader.read_line(&mut sink).is_ok_and(|n| n > 0) {
            sink.clear();
        }
    });
    receive.recv_timeout(timeout).ok().filter(|l| !l.is_empty())
}

fn read_tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let start = text.len().saturating_sub(4000);
    let start = (start..text.len())
        .find(|&i| text.is_char_boundary(i))
        .unwrap_or(0);
    text[start..].to_string()
}

/// A loopback port that is free now (workerd takes its address on the command line).
fn free_port() -> anyhow::Result<SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?)
}

/// CPU time a process has used so far (user + system, all threads).
pub(crate) fn process_cpu_time(pid: u32) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may hold spaces) start at field 3.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    // SAFETY: sysconf has no preconditions.
    let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    Some(Duration::from_secs_f64(ticks as f64 / per_second))
}
