//! The scenarios of issue 7, run against one server (wdo or workerd) with the same requests.
//!
//! | id  | what |
//! |-----|------|
//! | 1   | one object, 16 keep-alive connections, `POST /counter/hot/increment` |
//! | 2   | 10,000 existing objects chosen at random, 16 connections, increment (mostly cold activations); creating them first is measured too |
//! | 3   | cold activation: 1,000 objects are written, the server restarted, then the first `GET` of each is timed on one connection |
//! | 4   | one connection, sequential `GET /counter/s4/get`: the round-trip overhead |
//! | 5   | websockets: 10,000 hibernated sockets (server RSS), broadcast to 1,000 (time until all received); see `sockets` |
//! | 6.1, 6.2 | 1 and 2 on a namespace with `durability = "relaxed"` (wdo only: workerd has no such switch) |
//! | 7   | 4 connections, `GET /counter/s7/get`, while four other objects each run a SQL statement until the CPU limit stops it (wdo only) |
//! | 8, 9 | applications (wdo only): a durable increment directly and through the test worker; RPC round trips between two objects; see `apps` |
//!
//! Every write is durable before its answer (fsync) except in 6. A scenario is bounded by a
//! request count and a time limit.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::Context;
use hyper::Method;

use crate::load::{get_json, Load, Objects};
use crate::servers::{Runtime, Server};
use crate::sockets::{SocketSizes, SocketStats};
use crate::stats::Summary;

/// The scenarios of the issue, by number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Scenario {
    HotObject = 1,
    ManyObjects = 2,
    ColdActivation = 3,
    RoundTrip = 4,
    WebSockets = 5,
    Relaxed = 6,
    LongQuery = 7,
    Worker = 8,
    RpcRoundTrip = 9,
}

impl Scenario {
    pub const ALL: [Scenario; 9] = [
        Scenario::HotObject,
        Scenario::ManyObjects,
        Scenario::ColdActivation,
        Scenario::RoundTrip,
        Scenario::WebSockets,
        Scenario::Relaxed,
        Scenario::LongQuery,
        Scenario::Worker,
        Scenario::RpcRoundTrip,
    ];

    pub fn from_number(n: u8) -> Option<Scenario> {
        Scenario::ALL.into_iter().find(|s| *s as u8 == n)
    }
}

/// How big each scenario is.
#[derive(Debug, Clone)]
pub struct Sizes {
    pub connections: usize,
    pub hot_warmup: u64,
    pub hot_requests: u64,
    pub objects: u64,
    pub many_requests: u64,
    pub cold_objects: u64,
    pub round_trips: u64,
    pub sockets: SocketSizes,
    /// Scenario 7: how long the two SQL statements run (the probe's CPU limit), and the
    /// requests measured meanwhile.
    pub long_query: Duration,
    pub long_query_requests: u64,
    /// Scenario 8: requests of each run (after `hot_warmup` warm-up requests).
    pub worker_requests: u64,
    /// Scenario 9: RPC calls in all, and per HTTP request to the calling object.
    pub rpc_calls: u64,
    pub rpc_calls_per_request: u64,
    /// The time limit of each measured run.
    pub max_duration: Duration,
}

impl Sizes {
    /// The sizes of the issue.
    pub fn full() -> Sizes {
        Sizes {
            connections: 16,
            hot_warmup: 2_000,
            hot_requests: 200_000,
            objects: 10_000,
            many_requests: 40_000,
            cold_objects: 1_000,
            round_trips: 20_000,
            sockets: SocketSizes {
                rooms: 90,
                per_room: 100,
                broadcast_sockets: 1_000,
                rounds: 50,
            },
            long_query: Duration::from_secs(30),
            long_query_requests: 1_000_000,
            worker_requests: 100_000,
            rpc_calls: 20_000,
            rpc_calls_per_request: 1_000,
            max_duration: Duration::from_secs(20),
        }
    }

    /// A few hundred requests in all: checks that the harness and the servers work.
    pub fn smoke() -> Sizes {
        Sizes {
            connections: 4,
            hot_warmup: 10,
            hot_requests: 100,
            objects: 50,
            many_requests: 100,
            cold_objects: 20,
            round_trips: 50,
            sockets: SocketSizes {
                rooms: 3,
                per_room: 5,
                broadcast_sockets: 20,
                rounds: 3,
            },
            long_query: Duration::from_secs(3),
            long_query_requests: 50,
            worker_requests: 100,
            rpc_calls: 100,
            rpc_calls_per_request: 50,
            max_duration: Duration::from_secs(60),
        }
    }
}

/// One measured run.
#[derive(Debug, Clone)]
pub struct Measurement {
    /// "1", "2", "3", "4", "6.1", "6.2", "8.1", "9", ...
    pub id: &'static str,
    pub runtime: Runtime,
    pub summary: Summary,
    /// The server's CPU time during the run (user + system).
    pub server_cpu: Option<Duration>,
    /// The server's resident memory after the run.
    pub server_rss: Option<u64>,
    /// wdo only: events that shared one commit, on average (group commit at work).
    pub events_per_commit: Option<f64>,
    /// wdo only: events made durable by one fsync of the WAL (pipelined commits).
    pub events_per_sync: Option<f64>,
    /// wdo: the mean duration of a WAL fsync during the run.
    pub mean_sync: Option<std::time::Duration>,
    /// Scenario 5 only: sockets and memory.
    pub sockets: Option<SocketStats>,
}

impl Measurement {
    /// Server CPU per successful request.
    pub fn cpu_per_request(&self) -> Option<Duration> {
        let cpu = self.server_cpu?;
        (self.summary.ok > 0).then(|| cpu / self.summary.ok as u32)
    }
}

/// Runs `which` against `server`, in an order that keeps each scenario's objects its own
/// and puts the restart of scenario 3 last. Failed requests fail the run.
pub async fn run(
    server: &mut Server,
    which: &[Scenario],
    sizes: &Sizes,
    perf_dir: Option<&Path>,
) -> anyhow::Result<Vec<Measurement>> {
    let runtime = server.runtime();
    let mut results = Vec::new();
    let perf =
        |id: &str| perf_dir.map(|dir| dir.join(format!("{}-{id}.perf.data", runtime.name())));
    let load = |addr, objects, connections, requests, method| Load {
        addr,
        method,
        objects,
        connections,
        requests,
        max_duration: sizes.max_duration,
    };
    let wants = |s: Scenario| which.contains(&s);

    if wants(Scenario::RoundTrip) {
        let path = "/counter/s4/get";
        get_json(server.addr, path)
            .await
            .context("scenario 4: first get")?;
        let l = load(
            server.addr,
            Objects::One(path.into()),
            1,
            sizes.round_trips,
            Method::GET,
        );
        results.push(measure(server, "4", l, perf("4").as_deref()).await?);
    }
    if wants(Scenario::Worker) && runtime == Runtime::Wdo {
        results.extend(crate::apps::worker(server, sizes, perf).await?);
    }
    if wants(Scenario::RpcRoundTrip) && runtime == Runtime::Wdo {
        results.push(crate::apps::rpc_round_trip(server, sizes).await?);
    }
    for (scenario, namespace, hot_id, many_id) in [
        (Scenario::HotObject, "counter", "1", "2"),
        (Scenario::Relaxed, "counter-relaxed", "6.1", "6.2"),
    ] {
        let relaxed = scenario == Scenario::Relaxed;
        if relaxed && (!wants(Scenario::Relaxed) || runtime == Runtime::Workerd) {
            continue;
        }
        if wants(Scenario::HotObject) || relaxed {
            let path = format!("/{namespace}/hot/increment");
            let one = || Objects::One(path.clone());
            let warm = load(
                server.addr,
                one(),
                sizes.connections,
                sizes.hot_warmup,
                Method::POST,
            );
            warm.run().await?.check("warm-up")?;
            let l = load(
                server.addr,
                one(),
                sizes.connections,
                sizes.hot_requests,
                Method::POST,
            );
            let m = measure(server, hot_id, l, perf(hot_id).as_deref()).await?;
            // Every answered increment must be in the count: nothing lost, nothing doubled.
            let count = get_json(server.addr, &format!("/{namespace}/hot/get")).await?["count"]
                .as_u64()
                .context("count is a number")?;
            let expected = sizes.hot_warmup + m.summary.ok;
            anyhow::ensure!(
                count == expected,
                "scenario {hot_id} ({}): the count is {count}, expected {expected}",
                runtime.name()
            );
            results.push(m);
        }
        if wants(Scenario::ManyObjects) || relaxed {
            // The objects exist first, so that the measured run is activations of stored
            // objects (most not live: wdo keeps 1,000 live by default). Creating them is
            // measured too, as its own row.
            let create_id = if relaxed { "6.2-create" } else { "2-create" };
            let each = Objects::Each {
                prefix: format!("/{namespace}/obj-"),
                suffix: "/increment".into(),
            };
            let mut create = load(
                server.addr,
                each,
                sizes.connections,
                sizes.objects,
                Method::POST,
            );
            create.max_duration = Duration::from_secs(300);
            let created = measure(server, create_id, create, perf(create_id).as_deref()).await?;
            anyhow::ensure!(
                created.summary.ok == sizes.objects,
                "scenario {many_id}: only {} of {} objects were created in time",
                created.summary.ok,
                sizes.objects
            );
            results.push(created);
            let objects = Objects::Random {
                prefix: format!("/{namespace}/obj-"),
                count: sizes.objects,
                suffix: "/increment".into(),
            };
            let l = load(
                server.addr,
                objects,
                sizes.connections,
                sizes.many_requests,
                Method::POST,
            );
            results.push(measure(server, many_id, l, perf(many_id).as_deref()).await?);
        }
    }
    if wants(Scenario::ColdActivation) {
        let each = |suffix: &str| Objects::Each {
            prefix: "/counter/cold-".into(),
            suffix: suffix.into(),
        };
        let mut create = load(
            server.addr,
            each("/increment"),
            sizes.connections,
            sizes.cold_objects,
            Method::POST,
        );
        create.max_duration = Duration::from_secs(300);
        let created = create.run().await?;
        created.check("scenario 3: creating the objects")?;
        anyhow::ensure!(
            created.ok == sizes.cold_objects,
            "scenario 3: only {} of {} objects were created in time",
            created.ok,
            sizes.cold_objects
        );
        // A fresh process on the same data: every object is cold, its file on disk.
        server.restart()?;
        let l = load(
            server.addr,
            each("/get"),
            1,
            sizes.cold_objects,
            Method::GET,
        );
        results.push(measure(server, "3", l, perf("3").as_deref()).await?);
    }
    if wants(Scenario::WebSockets) {
        // Restarts the server first, so it runs last.
        let (mut summary, mut stats) = crate::sockets::run(server, &sizes.sockets)
            .await
            .map_err(|e| e.context(format!("the server's log ends:\n{}", server.log_tail())))?;
        if runtime == Runtime::Workerd && stats.first_failure.is_some() {
            // workerd exits when it runs out of file descriptors: measure it again with as
            // many rooms as fit in 90 % of what it took, and say so.
            let full = stats.clone();
            let mut fewer = sizes.sockets.clone();
            fewer.rooms = ((full.sockets * 9 / 10).saturating_sub(fewer.broadcast_sockets))
                / fewer.per_room.max(1);
            eprintln!(
                "bench: workerd took {} of {} sockets; measuring again with {}",
                full.sockets,
                full.wanted,
                fewer.total()
            );
            (summary, stats) = crate::sockets::run(server, &fewer)
                .await
                .map_err(|e| e.context(format!("the server's log ends:\n{}", server.log_tail())))?;
            stats.wanted = full.wanted;
            stats.first_failure = Some(format!(
                "it took {} sockets, then {}",
                full.sockets,
                full.first_failure.unwrap_or_default()
            ));
        }
        if stats.sockets < stats.wanted && (runtime == Runtime::Wdo || summary.ok == 0) {
            anyhow::bail!(
                "scenario 5: {} took {} of {} sockets ({}); its log ends:\n{}",
                runtime.name(),
                stats.sockets,
                stats.wanted,
                stats.first_failure.as_deref().unwrap_or("?"),
                server.log_tail()
            );
        }
        results.push(Measurement {
            id: "5",
            runtime,
            summary,
            server_cpu: stats.round_cpu,
            server_rss: stats.rss_hibernated,
            events_per_commit: None,
            events_per_sync: None,
            mean_sync: None,
            sockets: Some(stats),
        });
    }
    if wants(Scenario::LongQuery) && runtime == Runtime::Wdo {
        results.push(long_query(server, sizes, perf("7").as_deref()).await?);
    }
    Ok(results)
}

/// Scenario 7: four objects each run a statement that only the CPU limit stops, each on its
/// own connection, while 4 connections read another object: the reads must not wait for
/// the statements (host work off the async runtime's workers).
async fn long_query(
    server: &Server,
    sizes: &Sizes,
    perf: Option<&Path>,
) -> anyhow::Result<Measurement> {
    let path = "/counter/s7/get";
    get_json(server.addr, path)
        .await
        .context("scenario 7: first get")?;
    let endless = r#"{"query": "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c"}"#;
    let wait = sizes.long_query + Duration::from_secs(30);
    // Twice as many statements as this machine has cores, started apart so that they land
    // on every worker of the runtime (without host work off the workers, they stall them).
    let mut queries = Vec::new();
    for i in 0..4 {
        let addr = server.addr;
        queries.push(tokio::spawn(async move {
            let started = std::time::Instant::now();
            let status =
                crate::load::post_status(addr, &format!("/probe/slow-{i}/sql"), endless, wait)
                    .await?;
            anyhow::Ok((status, started.elapsed()))
        }));
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    // The statements are running before the measurement starts, and still are when it ends.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let load = Load {
        addr: server.addr,
        method: Method::GET,
        objects: Objects::One(path.into()),
        connections: 4,
        requests: sizes.long_query_requests,
        max_duration: sizes.long_query.saturating_sub(Duration::from_secs(2)),
    };
    let measurement = measure(server, "7", load, perf).await?;
    for query in queries {
        // The CPU limit ends each statement: the event fails (500) and rolls back.
        let (status, took) = query.await??;
        eprintln!("scenario 7: a long statement answered {status} after {took:.1?}");
        anyhow::ensure!(
            took >= sizes.long_query.mul_f64(0.9),
            "scenario 7: a long statement ended after {took:?}, before the CPU limit of {:?}",
            sizes.long_query
        );
        anyhow::ensure!(
            status == 500,
            "scenario 7: the long statement answered {status}, not 500 (stopped at the CPU limit)"
        );
    }
    Ok(measurement)
}

pub(crate) async fn measure(
    server: &Server,
    id: &'static str,
    load: Load,
    perf: Option<&Path>,
) -> anyhow::Result<Measurement> {
    let commits_before = commit_stats(server).await;
    let cpu_before = server.cpu_time();
    let profiler = match (perf, server.pid()) {
        (Some(path), Some(pid)) => Some(Profiler::start(path, pid)?),
        _ => None,
    };
    let summary = load.run().await;
    if let Some(profiler) = profiler {
        profiler.stop();
    }
    let summary = summary?;
    summary
        .check(&format!("scenario {id} ({})", server.runtime().name()))
        .map_err(|e| e.context(format!("the server's log ends:\n{}", server.log_tail())))?;
    let server_cpu = match (cpu_before, server.cpu_time()) {
        (Some(before), Some(after)) => Some(after.saturating_sub(before)),
        _ => None,
    };
    let commits_after = commit_stats(server).await;
    let per = |pick: fn(&CommitStats) -> f64| match (commits_before, commits_after) {
        (Some(a), Some(b)) if pick(&b) > pick(&a) => {
            Some((b.events - a.events) / (pick(&b) - pick(&a)))
        }
        _ => None,
    };
    let events_per_commit = per(|s| s.commits);
    let events_per_sync = per(|s| s.syncs);
    let mean_sync = match (commits_before, commits_after) {
        (Some(a), Some(b)) if b.syncs > a.syncs => Some(std::time::Duration::from_secs_f64(
            (b.sync_seconds - a.sync_seconds) / (b.syncs - a.syncs),
        )),
        _ => None,
    };
    Ok(Measurement {
        id,
        runtime: server.runtime(),
        summary,
        server_cpu,
        server_rss: server.rss_bytes(),
        events_per_commit,
        events_per_sync,
        mean_sync,
        sockets: None,
    })
}

/// wdo's running totals of events committed, commits and commit-log fsyncs, from its `/metrics`.
#[derive(Debug, Clone, Copy)]
struct CommitStats {
    events: f64,
    commits: f64,
    syncs: f64,
    sync_seconds: f64,
}

async fn commit_stats(server: &Server) -> Option<CommitStats> {
    let text = server.metrics_text().await?;
    let total = |name: &str| -> f64 {
        text.lines()
            .filter(|l| l.starts_with(name))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    };
    Some(CommitStats {
        events: total("wdo_events_per_commit_sum"),
        commits: total("wdo_events_per_commit_count"),
        syncs: total("wdo_log_fsync_duration_seconds_count"),
        sync_seconds: total("wdo_log_fsync_duration_seconds_sum"),
    })
}

/// `perf record` attached to the server for the length of one run.
struct Profiler {
    child: Child,
    path: PathBuf,
}

impl Profiler {
    fn start(path: &Path, pid: u32) -> anyhow::Result<Profiler> {
        let child = Command::new("perf")
            .args(["record", "-F", "499", "--call-graph", "dwarf,32768", "-o"])
            .arg(path)
            .args(["-p", &pid.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("cannot run perf (is linux-perf installed?)")?;
        // perf needs a moment to attach to every thread.
        std::thread::sleep(Duration::from_millis(500));
        Ok(Profiler {
            child,
            path: path.to_owned(),
        })
    }

    fn stop(mut self) {
        // SAFETY: plain kill(2) on our own child's pid; SIGINT makes perf write its file.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGINT) };
        let _ = self.child.wait();
        eprintln!("bench: profile written to {}", self.path.display());
    }
}
