//! Real engines for the cluster tests, on loopback: a three-member etcd cluster and a
//! three-server NATS JetStream cluster, each in its own temporary directory, started by the
//! test and killed when it drops them. Cluster tests run one at a time (`exclusive`): each
//! starts nine processes, and two of them at once on a 2-core machine would only test the
//! scheduler.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Held for the whole of a cluster test.
pub fn exclusive() -> std::sync::MutexGuard<'static, ()> {
    static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());
    ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner())
}

/// A port nothing listens on now, below the kernel's ephemeral range (32768 and up), so that
/// no client connection of the tests takes it before the engine or node binds it.
pub fn free_port() -> u16 {
    use rand::Rng;
    loop {
        let port = rand::rng().random_range(20_000..32_000);
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

/// One engine process, which a test can kill.
pub struct Member {
    pub client_port: u16,
    program: &'static str,
    args: Vec<String>,
    log: std::path::PathBuf,
    child: Option<Child>,
}

impl Member {
    fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        let child = Command::new(self.program)
            .args(&self.args)
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .stdin(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start {} (scripts/test.sh installs etcd-server and nats-server): {e}",
                    self.program
                )
            });
        self.child = Some(child);
    }

    /// SIGKILL.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Member {
    fn drop(&mut self) {
        self.kill();
    }
}

pub struct Engines {
    pub etcd: Vec<Member>,
    pub nats: Vec<Member>,
    pub dir: tempfile::TempDir,
}

impl Engines {
    /// Starts both clusters and waits until etcd has a leader and every NATS server takes
    /// connections (JetStream elects its leaders later; wdo waits for that).
    pub fn start() -> Engines {
        let dir = tempfile::tempdir().unwrap();
        let etcd_peers: Vec<(u16, u16)> = (0..3).map(|_| (free_port(), free_port())).collect();
        let initial: Vec<String> = etcd_peers
            .iter()
            .enumerate()
            .map(|(i, (_, peer))| format!("e{i}=http://127.0.0.1:{peer}"))
            .collect();
        let mut etcd = Vec::new();
        for (i, (client, peer)) in etcd_peers.iter().enumerate() {
            let data = dir.path().join(format!("etcd{i}"));
            let mut member = Member {
                client_port: *client,
                program: "etcd",
                args: vec![
                    format!("--name=e{i}"),
                    format!("--data-dir={}", data.display()),
                    format!("--listen-client-urls=http://127.0.0.1:{client}"),
                    format!("--advertise-client-urls=http://127.0.0.1:{client}"),
                    format!("--listen-peer-urls=http://127.0.0.1:{peer}"),
                    format!("--initial-advertise-peer-urls=http://127.0.0.1:{peer}"),
                    format!("--initial-cluster={}", initial.join(",")),
                    "--initial-cluster-state=new".into(),
                    "--initial-cluster-token=wdo-test".into(),
                    // A loaded 2-core machine: elections slower than the defaults.
                    "--heartbeat-interval=200".into(),
                    "--election-timeout=2000".into(),
                ],
                log: dir.path().join(format!("etcd{i}.log")),
                child: None,
            };
            member.spawn();
            etcd.push(member);
        }
        let nats_ports: Vec<(u16, u16)> = (0..3).map(|_| (free_port(), free_port())).collect();
        let mut nats = Vec::new();
        for (i, (client, route)) in nats_ports.iter().enumerate() {
            let routes: Vec<String> = nats_ports
                .iter()
                .filter(|(_, r)| r != route)
                .map(|(_, r)| format!("\"nats-route://127.0.0.1:{r}\""))
                .collect();
            let config = dir.path().join(format!("nats{i}.conf"));
            std::fs::write(
                &config,
                format!(
                    "server_name: n{i}\nhost: 127.0.0.1\nport: {client}\n\
                     jetstream {{ store_dir: {:?} }}\n\
                     cluster {{ name: wdo-test\n listen: 127.0.0.1:{route}\n routes: [{}] }}\n",
                    dir.path().join(format!("nats{i}")),
                    routes.join(", ")
                ),
            )
            .unwrap();
            let mut member = Member {
                client_port: *client,
                program: "nats-server",
                args: vec!["-c".into(), config.display().to_string()],
                log: dir.path().join(format!("nats{i}.log")),
                child: None,
            };
            member.spawn();
            nats.push(member);
        }
        let engines = Engines { etcd, nats, dir };
        let deadline = Instant::now() + Duration::from_secs(60);
        for member in &engines.etcd {
            while !etcd_healthy(member.client_port) {
                assert!(
                    Instant::now() < deadline,
                    "etcd did not start:\n{}",
                    engines.logs()
                );
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        for member in &engines.nats {
            while TcpStream::connect(("127.0.0.1", member.client_port)).is_err() {
                assert!(
                    Instant::now() < deadline,
                    "nats-server did not start:\n{}",
                    engines.logs()
                );
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        engines
    }

    /// The `[cluster]` table of node `node`, listening at `advertise`.
    pub fn cluster_toml(&self, node: &str, advertise: &str, lease: &str, name: &str) -> String {
        let etcd: Vec<String> = self
            .etcd
            .iter()
            .map(|m| format!("\"127.0.0.1:{}\"", m.client_port))
            .collect();
        let nats: Vec<String> = self
            .nats
            .iter()
            .map(|m| format!("\"127.0.0.1:{}\"", m.client_port))
            .collect();
        format!(
            "[cluster]\nnode-id = {node:?}\nadvertise = {advertise:?}\netcd = [{}]\nnats = [{}]\nlease = {lease:?}\nname = {name:?}\n",
            etcd.join(", "),
            nats.join(", ")
        )
    }

    /// Every engine's log, for a failure's message.
    pub fn logs(&self) -> String {
        let mut text = String::new();
        for entry in std::fs::read_dir(self.dir.path()).unwrap().flatten() {
            let path = entry.path();
            if path.extension().is_some_and(|e| e == "log") {
                let log = std::fs::read_to_string(&path).unwrap_or_default();
                let tail: Vec<&str> = log.lines().rev().take(15).collect();
                text.push_str(&format!("--- {}\n", path.display()));
                for line in tail.into_iter().rev() {
                    text.push_str(line);
                    text.push('\n');
                }
            }
        }
        text
    }
}

/// etcd's `/health` says it has a leader.
fn etcd_healthy(port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    if stream
        .write_all(b"GET /health HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    answer.contains("\"health\":\"true\"")
}
