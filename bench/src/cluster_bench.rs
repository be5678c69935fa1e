//! `wdo-bench cluster`: three wdo nodes on this machine, on a three-member etcd cluster and a
//! three-server NATS JetStream cluster (all on loopback, each in a temporary directory), the
//! counter example on every node. It measures scenario 1 (one hot object) and scenario 2
//! (random objects) through the owner only and through any node, the same two on a single
//! host (no cluster) in the same run for the cost of replication, and failover: `--kills`
//! times, an object is placed on a node, that node is killed (SIGKILL), and one increment
//! of the object is sent through another node at once; its latency is the failover time
//! (the dead node's lease expiring, the claim, the rebuild from the log and the increment).
//! The killed node is restarted before the next round.
//!
//! ```text
//! cargo run --release -p wdo-bench -- cluster [--lease 10s] [--kills 20] [--objects 10000]
//!     [--hot-requests 100000] [--max-duration 20s]
//! ```
//!
//! Needs `etcd` and `nats-server` on the PATH (Debian: `etcd-server`, `nats-server`).

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context;
use hyper::Method;

use crate::load::{self, Load, Objects};
use crate::setup;
use crate::stats::Summary;

struct Sizes {
    lease: String,
    kills: usize,
    objects: u64,
    hot_requests: u64,
    max_duration: Duration,
}

/// Parses the arguments after `cluster`.
fn sizes(args: &[String]) -> anyhow::Result<Sizes> {
    let mut sizes = Sizes {
        lease: "10s".into(),
        kills: 20,
        objects: 10_000,
        hot_requests: 100_000,
        max_duration: Duration::from_secs(20),
    };
    let mut args = args.iter();
    while let Some(flag) = args.next() {
        let value = args
            .next()
            .with_context(|| format!("{flag} needs a value"))?;
        let number = || {
            value
                .parse::<u64>()
                .with_context(|| format!("{flag} {value}"))
        };
        match flag.as_str() {
            "--lease" => sizes.lease = value.clone(),
            "--kills" => sizes.kills = number()? as usize,
            "--objects" => sizes.objects = number()?,
            "--hot-requests" => sizes.hot_requests = number()?,
            "--max-duration" => {
                let seconds = value.trim_end_matches('s').parse::<f64>();
                sizes.max_duration =
                    Duration::from_secs_f64(seconds.with_context(|| format!("{flag} {value}"))?);
            }
            _ => anyhow::bail!(
                "unknown option {flag}: use --lease, --kills, --objects, --hot-requests, --max-duration"
            ),
        }
    }
    Ok(sizes)
}

/// A child process, killed when dropped.
struct Process {
    child: Option<Child>,
    log: PathBuf,
}

impl Process {
    fn spawn(program: &str, args: &[String], log: PathBuf) -> anyhow::Result<Process> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)?;
        let child = Command::new(program)
            .args(args)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(file.try_clone()?)
            .stderr(file)
            .spawn()
            .with_context(|| {
                format!("cannot start {program} (Debian: apt-get install etcd-server nats-server)")
            })?;
        Ok(Process {
            child: Some(child),
            log,
        })
    }

    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    fn tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().rev().take(20).collect();
        lines.into_iter().rev().collect::<Vec<_>>().join("\n")
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A loopback port below the ephemeral range, free now, and not given out before.
fn port() -> u16 {
    use rand::Rng;
    static GIVEN: std::sync::Mutex<Vec<u16>> = std::sync::Mutex::new(Vec::new());
    let mut given = GIVEN.lock().expect("ports lock");
    loop {
        let port = rand::rng().random_range(20_000..32_000);
        if !given.contains(&port) && TcpListener::bind(("127.0.0.1", port)).is_ok() {
            given.push(port);
            return port;
        }
    }
}

/// etcd and NATS, three of each.
struct Engines {
    _processes: Vec<Process>,
    etcd: Vec<u16>,
    nats: Vec<u16>,
}

fn start_engines(dir: &Path) -> anyhow::Result<Engines> {
    let mut processes = Vec::new();
    let etcd: Vec<(u16, u16)> = (0..3).map(|_| (port(), port())).collect();
    let members: Vec<String> = etcd
        .iter()
        .enumerate()
        .map(|(i, (_, peer))| format!("b{i}=http://127.0.0.1:{peer}"))
        .collect();
    for (i, (client, peer)) in etcd.iter().enumerate() {
        let args = [
            format!("--name=b{i}"),
            format!("--data-dir={}", dir.join(format!("etcd{i}")).display()),
            format!("--listen-client-urls=http://127.0.0.1:{client}"),
            format!("--advertise-client-urls=http://127.0.0.1:{client}"),
            format!("--listen-peer-urls=http://127.0.0.1:{peer}"),
            format!("--initial-advertise-peer-urls=http://127.0.0.1:{peer}"),
            format!("--initial-cluster={}", members.join(",")),
            "--initial-cluster-state=new".into(),
            "--heartbeat-interval=200".into(),
            "--election-timeout=2000".into(),
        ];
        let log = dir.join(format!("etcd{i}.log"));
        processes.push(Process::spawn("etcd", &args, log)?);
    }
    let nats: Vec<(u16, u16)> = (0..3).map(|_| (port(), port())).collect();
    for (i, (client, route)) in nats.iter().enumerate() {
        let routes: Vec<String> = nats
            .iter()
            .filter(|(_, r)| r != route)
            .map(|(_, r)| format!("\"nats-route://127.0.0.1:{r}\""))
            .collect();
        let config = dir.join(format!("nats{i}.conf"));
        let store = dir.join(format!("nats{i}"));
        std::fs::write(
            &config,
            format!(
                "server_name: s{i}\nhost: 127.0.0.1\nport: {client}\njetstream {{ store_dir: {store:?} }}\n\
                 cluster {{ name: wdo-bench\n listen: 127.0.0.1:{route}\n routes: [{}] }}\n",
                routes.join(", ")
            ),
        )?;
        let args = ["-c".to_owned(), config.display().to_string()];
        processes.push(Process::spawn(
            "nats-server",
            &args,
            dir.join(format!("nats{i}.log")),
        )?);
    }
    let engines = Engines {
        _processes: processes,
        etcd: etcd.iter().map(|(c, _)| *c).collect(),
        nats: nats.iter().map(|(c, _)| *c).collect(),
    };
    let ports = engines.etcd.iter().chain(&engines.nats);
    for (port, process) in ports.zip(&engines._processes) {
        wait_for_port(*port, Duration::from_secs(60))
            .with_context(|| format!("an engine did not start: {}", process.tail()))?;
    }
    Ok(engines)
}

fn wait_for_port(port: u16, timeout: Duration) -> anyhow::Result<()> {
    let deadline = Instant::now() + timeout;
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        anyhow::ensure!(Instant::now() < deadline, "nothing listens on port {port}");
        std::thread::sleep(Duration::from_millis(100));
    }
    Ok(())
}

/// One wdo node (or the single host, with no `[cluster]`).
struct Node {
    process: Process,
    addr: SocketAddr,
    config: PathBuf,
    binary: PathBuf,
}

impl Node {
    fn start(
        binary: &Path,
        dir: &Path,
        name: &str,
        counter: &Path,
        cluster: Option<&str>,
    ) -> anyhow::Result<Node> {
        let addr: SocketAddr = format!("127.0.0.1:{}", port()).parse()?;
        let config = dir.join(format!("{name}.toml"));
        let data = dir.join(name);
        let cache = setup::cache_dir().join("cwasm");
        let mut text = format!(
            "data-dir = {data:?}\ncache-dir = {cache:?}\n\n[[namespace]]\nname = \"counter\"\n\
             component = {counter:?}\ndurability = \"full\"\n\n"
        );
        if let Some(cluster) = cluster {
            text.push_str(&format!(
                "{}advertise = \"{addr}\"\n",
                cluster.replace("NODE", name)
            ));
        }
        std::fs::write(&config, text)?;
        let mut node = Node {
            process: Process {
                child: None,
                log: dir.join(format!("{name}.log")),
            },
            addr,
            config,
            binary: binary.to_owned(),
        };
        node.launch()?;
        Ok(node)
    }

    fn launch(&mut self) -> anyhow::Result<()> {
        let args = [
            "serve".to_owned(),
            "--config".into(),
            self.config.display().to_string(),
            "--listen".into(),
            self.addr.to_string(),
            "--admin-listen".into(),
            "127.0.0.1:0".into(),
        ];
        let log = self.process.log.clone();
        self.process = Process::spawn(&self.binary.display().to_string(), &args, log)?;
        wait_for_port(self.addr.port(), Duration::from_secs(120))
            .with_context(|| format!("the node did not start: {}", self.process.tail()))
    }
}

async fn increment(addr: SocketAddr, name: &str, timeout: Duration) -> anyhow::Result<()> {
    let path = format!("/counter/{name}/increment");
    let status = load::post_status(addr, &path, "", timeout).await?;
    anyhow::ensure!(status == 200, "{path} via {addr}: status {status}");
    Ok(())
}

/// Every node answers for objects it does not own yet.
async fn wait_serving(addrs: &[SocketAddr]) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(60);
    for (i, addr) in addrs.iter().enumerate() {
        loop {
            match increment(*addr, &format!("ready-{i}"), Duration::from_secs(10)).await {
                Ok(()) => break,
                Err(e) if Instant::now() > deadline => return Err(e.context("the cluster")),
                Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
            }
        }
    }
    Ok(())
}

struct Row {
    what: String,
    summary: Summary,
}

fn print_rows(rows: &[Row]) {
    println!("| run | requests | req/s | p50 | p99 | failed |");
    println!("| --- | --- | --- | --- | --- | --- |");
    for row in rows {
        let s = &row.summary;
        println!(
            "| {} | {} | {:.0} | {:.2} ms | {:.2} ms | {} |",
            row.what,
            s.ok,
            s.throughput(),
            s.p50().as_secs_f64() * 1e3,
            s.p99().as_secs_f64() * 1e3,
            s.failures
        );
    }
}

/// Scenarios 1 and 2 against `addrs` (their connections spread over them); rows named after
/// `label`. Scenario 1 warms up first; scenario 2 creates its objects, then increments them.
async fn scenarios(
    label: &str,
    addrs: &[SocketAddr],
    owner_of_hot: &[SocketAddr],
    sizes: &Sizes,
    rows: &mut Vec<Row>,
) -> anyhow::Result<()> {
    let hot = |requests| Load {
        addr: addrs[0],
        method: Method::POST,
        objects: Objects::One(format!("/counter/hot-{label}/increment")),
        connections: 16,
        requests,
        max_duration: sizes.max_duration,
    };
    // The hot object is placed on the first of `owner_of_hot` by its first request.
    increment(
        owner_of_hot[0],
        &format!("hot-{label}"),
        Duration::from_secs(10),
    )
    .await?;
    hot(2_000).run_on(owner_of_hot).await?;
    let summary = hot(sizes.hot_requests).run_on(owner_of_hot).await?;
    rows.push(Row {
        what: format!("1. one object, increment, {label}, through its owner"),
        summary,
    });
    if owner_of_hot.len() != addrs.len() {
        let summary = hot(sizes.hot_requests).run_on(addrs).await?;
        rows.push(Row {
            what: format!("1. one object, increment, {label}, through any node"),
            summary,
        });
    }
    let create = Load {
        addr: addrs[0],
        method: Method::POST,
        objects: Objects::Each {
            prefix: format!("/counter/many-{label}-"),
            suffix: "/increment".into(),
        },
        connections: 16,
        requests: sizes.objects,
        max_duration: sizes.max_duration * 3,
    }
    .run_on(addrs)
    .await?;
    let created = create.ok;
    rows.push(Row {
        what: format!("2. creating {created} objects, {label}"),
        summary: create,
    });
    let random = Load {
        addr: addrs[0],
        method: Method::POST,
        objects: Objects::Random {
            prefix: format!("/counter/many-{label}-"),
            count: created.max(1),
            suffix: "/increment".into(),
        },
        connections: 16,
        requests: sizes.objects * 4,
        max_duration: sizes.max_duration,
    }
    .run_on(addrs)
    .await?;
    rows.push(Row {
        what: format!("2. {created} random objects, increment, {label}, through any node"),
        summary: random,
    });
    Ok(())
}

pub fn run(args: &[String]) -> anyhow::Result<()> {
    let sizes = sizes(args)?;
    let binary = setup::wdo_binary(None)?;
    let counter = setup::counter_component(None)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(run_all(&binary, &counter, &sizes))
}

async fn run_all(binary: &Path, counter: &Path, sizes: &Sizes) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let mut rows = Vec::new();
    println!("{}", setup::machine());
    println!("load average at start: {}", setup::load_average());

    // A single host first: the baseline of the cost of replication.
    {
        let single = Node::start(binary, dir.path(), "single", counter, None)?;
        wait_serving(&[single.addr]).await?;
        scenarios(
            "single-host",
            &[single.addr],
            &[single.addr],
            sizes,
            &mut rows,
        )
        .await?;
    }

    let engines = start_engines(dir.path())?;
    let list = |ports: &[u16]| {
        ports
            .iter()
            .map(|p| format!("\"127.0.0.1:{p}\""))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let cluster = format!(
        "[cluster]\nnode-id = \"NODE\"\netcd = [{}]\nnats = [{}]\nlease = {:?}\nname = \"bench\"\n",
        list(&engines.etcd),
        list(&engines.nats),
        sizes.lease
    );
    let mut nodes = Vec::new();
    for i in 0..3 {
        nodes.push(Node::start(
            binary,
            dir.path(),
            &format!("n{i}"),
            counter,
            Some(&cluster),
        )?);
    }
    let addrs: Vec<SocketAddr> = nodes.iter().map(|n| n.addr).collect();
    wait_serving(&addrs).await?;
    scenarios("3-nodes", &addrs, &addrs[..1], sizes, &mut rows).await?;
    print_rows(&rows);

    // Failover.
    let mut failovers = Vec::new();
    for round in 0..sizes.kills {
        let victim = round % 3;
        let survivor = addrs[(victim + 1) % 3];
        let name = format!("failover-{round}");
        increment(addrs[victim], &name, Duration::from_secs(10)).await?;
        let pid = nodes[victim].process.pid();
        nodes[victim].process.kill();
        let killed = Instant::now();
        increment(survivor, &name, Duration::from_secs(120))
            .await
            .with_context(|| {
                format!("round {round}: the object was not served again (pid {pid:?})")
            })?;
        let took = killed.elapsed();
        println!(
            "failover {round}: node n{victim} killed, served again by another node after {:.2} s",
            took.as_secs_f64()
        );
        failovers.push(took.as_micros() as u32);
        nodes[victim].launch()?;
        wait_serving(&addrs).await?;
    }
    if !failovers.is_empty() {
        let summary = Summary::new(failovers, 0, None, Duration::from_secs(1));
        println!(
            "failover over {} kills (lease {}): p50 {:.2} s, p99 {:.2} s, max {:.2} s",
            sizes.kills,
            sizes.lease,
            summary.p50().as_secs_f64(),
            summary.p99().as_secs_f64(),
            summary.percentile(1.0).as_secs_f64()
        );
    }
    println!("load average at end: {}", setup::load_average());
    Ok(())
}
