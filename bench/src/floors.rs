//! Floors: what this machine does with only the parts of a request that wdo cannot leave
//! out, measured the same way as the scenarios. They bound the targets that are missed:
//!
//! - **HTTP floor**: a minimal hyper server (the same hyper and tokio as wdo, multi-threaded)
//!   that answers every request with a fixed `{"value":1}`, driven by the load generator
//!   of scenario 1 (16 keep-alive connections). No object, no storage, no wasm. It also
//!   reports the load generator's own CPU per request, which shares the 2 cores.
//! - **group-commit floor** (`commit_floor.rs`): the same, but each request appends a page
//!   to a log file and is answered after a group fsync covers it, one fsync in flight: the
//!   closed loop of scenario 1 without SQLite, wasm or an actor.
//! - **storage floor**: in this process, the storage work of one scenario-2 request with
//!   the host's own [`ObjectStorage`], on 16 threads over 10,000 stored objects: open the
//!   object's database, read and write its counter in a batch, commit, append its frames to
//!   a host-wide commit log and wait for the log's group fsync (as the output gate does),
//!   close. No HTTP, no wasm.
//! - **broadcast floor** (`broadcast_floor.rs`): scenario 5's broadcast rounds to 1,000
//!   sockets from a minimal tokio-tungstenite server with no object behind it.

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;

use hyper::Method;
use rand::Rng;
use wdo::commit_log::{Body, CommitLog, LogOptions, ObjectKey, Record};
use wdo::config::Durability;
use wdo::storage::{Limits, ObjectStorage};

use crate::commit_floor::COMMIT_FLOOR_SERVER_ARG;
use crate::load::{get_json, Load, Objects};
use crate::servers::{process_cpu_time, read_line_within};
use crate::stats::{ms, rate, table, Summary};

/// The argument that makes `wdo-bench` run the HTTP floor's server instead (a child process,
/// so that its CPU is measured apart from the load generator's).
pub const FLOOR_SERVER_ARG: &str = "http-floor-server";

/// How big the floor runs are.
#[derive(Debug, Clone, Copy)]
pub struct FloorSizes {
    pub http_requests: u64,
    pub objects: u64,
    pub threads: usize,
    pub broadcast_sockets: usize,
    pub broadcast_rounds: usize,
    pub max_duration: Duration,
}

impl FloorSizes {
    pub fn full(max_duration: Duration) -> FloorSizes {
        FloorSizes {
            http_requests: 200_000,
            objects: 10_000,
            threads: 16,
            broadcast_sockets: 1_000,
            broadcast_rounds: 50,
            max_duration,
        }
    }

    pub fn smoke() -> FloorSizes {
        FloorSizes {
            http_requests: 200,
            objects: 20,
            threads: 4,
            broadcast_sockets: 20,
            broadcast_rounds: 3,
            max_duration: Duration::from_secs(10),
        }
    }
}

/// Runs both floors and renders them as a table.
pub async fn run(sizes: FloorSizes, bench_binary: &Path) -> anyhow::Result<String> {
    let http = http_floor(sizes, bench_binary, &[FLOOR_SERVER_ARG], false)
        .await
        .context("HTTP floor")?;
    let log_dir = tempfile::Builder::new()
        .prefix("wdo-bench-commit-floor-")
        .tempdir()?;
    let commit = http_floor(
        sizes,
        bench_binary,
        &[COMMIT_FLOOR_SERVER_ARG.as_ref(), log_dir.path().as_os_str()],
        true,
    )
    .await
    .context("group-commit floor")?;
    let storage = tokio::task::spawn_blocking(move || storage_floor(sizes))
        .await
        .context("storage floor panicked")?
        .context("storage floor")?;
    let broadcast = crate::broadcast_floor::run(sizes.broadcast_sockets, sizes.broadcast_rounds)
        .await
        .context("broadcast floor")?;
    let mut rows = Vec::new();
    for (what, run) in [
        ("HTTP only (fixed answer), 16 connections", &http),
        (
            "HTTP + group-commit fsync of a 4 KiB write per request, 16 connections",
            &commit,
        ),
    ] {
        rows.push(vec![
            what.to_string(),
            rate(run.summary.throughput()),
            ms(run.summary.p50()),
            ms(run.summary.p99()),
            per_op(run.server_cpu, run.summary.ok),
            per_op(run.client_cpu, run.summary.ok),
            run.fsyncs
                .map_or("-".into(), |f| format!("{:.1}", f.per_fsync)),
            run.fsyncs.map_or("-".into(), |f| ms(f.mean)),
        ]);
    }
    for run in &storage {
        rows.push(vec![
            run.what.clone(),
            rate(run.summary.throughput()),
            ms(run.summary.p50()),
            ms(run.summary.p99()),
            per_op(run.cpu, run.summary.ok),
            "-".to_string(),
            run.per_fsync.to_string(),
            "-".to_string(),
        ]);
    }
    rows.push(vec![
        format!(
            "WebSocket broadcast to {} sockets, no object (rounds)",
            sizes.broadcast_sockets
        ),
        rate(broadcast.throughput()),
        ms(broadcast.p50()),
        ms(broadcast.p99()),
        "-".to_string(),
        "-".to_string(),
        "-".to_string(),
        "-".to_string(),
    ]);
    Ok(table(
        &[
            "floor",
            "ops/s",
            "p50",
            "p99",
            "server CPU/op",
            "load generator CPU/op",
            "requests per fsync",
            "mean fsync",
        ],
        &rows,
    ))
}

fn per_op(cpu: Duration, ops: u64) -> String {
    format!("{:.0} us", cpu.as_secs_f64() * 1e6 / ops.max(1) as f64)
}

struct HttpFloor {
    summary: Summary,
    server_cpu: Duration,
    client_cpu: Duration,
    fsyncs: Option<Fsyncs>,
}

/// The group-commit floor's fsyncs during the measured run.
#[derive(Clone, Copy)]
struct Fsyncs {
    per_fsync: f64,
    mean: Duration,
}

/// Drives the floor server that `bench_binary` runs with `args` like scenario 1; `stats`:
/// it counts its fsyncs at `/stats` (`commit_floor.rs`).
async fn http_floor<S: AsRef<std::ffi::OsStr>>(
    sizes: FloorSizes,
    bench_binary: &Path,
    args: &[S],
    stats: bool,
) -> anyhow::Result<HttpFloor> {
    let mut child = Command::new(bench_binary)
        .args(args)
        .stdout(Stdio::piped())
        .stdin(Stdio::null())
        .spawn()
        .context("starting the HTTP floor server")?;
    let stdout = child.stdout.take().expect("piped stdout");
    let line = read_line_within(stdout, Duration::from_secs(10));
    let result = async {
        let addr: SocketAddr = line
            .as_deref()
            .and_then(|l| l.trim().strip_prefix("listening on "))
            .context("the HTTP floor server did not say where it listens")?
            .parse()?;
        let load = |requests| Load {
            addr,
            method: Method::GET,
            objects: Objects::One("/floor".into()),
            connections: 16,
            requests,
            max_duration: sizes.max_duration,
        };
        load(sizes.http_requests / 100 + 1).run().await?;
        let stats_before = if stats {
            Some(get_json(addr, "/stats").await?)
        } else {
            None
        };
        let server_before = process_cpu_time(child.id()).unwrap_or_default();
        let client_before = own_cpu_time();
        let summary = load(sizes.http_requests).run().await?;
        let server_cpu = process_cpu_time(child.id())
            .unwrap_or_default()
            .saturating_sub(server_before);
        let client_cpu = own_cpu_time().saturating_sub(client_before);
        summary.check("HTTP floor")?;
        let fsyncs = match stats_before {
            Some(before) => Some(fsyncs_between(&before, &get_json(addr, "/stats").await?)?),
            None => None,
        };
        anyhow::Ok(HttpFloor {
            summary,
            server_cpu,
            client_cpu,
            fsyncs,
        })
    }
    .await;
    let _ = child.kill();
    let _ = child.wait();
    result
}

fn fsyncs_between(before: &serde_json::Value, after: &serde_json::Value) -> anyhow::Result<Fsyncs> {
    let delta = |field: &str| -> anyhow::Result<f64> {
        let value = |v: &serde_json::Value| {
            v[field]
                .as_f64()
                .with_context(|| format!("the floor's /stats lacks {field}: {v}"))
        };
        Ok(value(after)? - value(before)?)
    };
    let fsyncs = delta("fsyncs")?.max(1.0);
    Ok(Fsyncs {
        per_fsync: delta("writes")? / fsyncs,
        mean: Duration::from_secs_f64(delta("fsync_seconds")? / fsyncs),
    })
}

/// CPU time this process has used (user + system, all threads).
fn own_cpu_time() -> Duration {
    process_cpu_time(std::process::id()).unwrap_or_default()
}

struct StorageFloor {
    what: String,
    /// Activations per log fsync with full durability, "-" with relaxed.
    per_fsync: String,
    summary: Summary,
    cpu: Duration,
}

/// Scenario 2's storage work without HTTP or wasm, full durability and relaxed.
fn storage_floor(sizes: FloorSizes) -> anyhow::Result<Vec<StorageFloor>> {
    let dir = tempfile::Builder::new()
        .prefix("wdo-bench-floor-")
        .tempdir()?;
    let path = |i: u64| dir.path().join(format!("{i}.sqlite"));
    let metrics = std::sync::Arc::new(wdo::metrics::Metrics::default());
    let log_dir = dir.path().join("log");
    std::fs::create_dir(&log_dir)?;
    let log = CommitLog::open(
        &log_dir,
        1,
        LogOptions::new(64 << 20, dir.path()),
        metrics.clone(),
    )?;
    // The objects exist first, as in scenario 2 (created without waiting for fsyncs).
    on_threads(
        sizes.threads,
        sizes.objects,
        Duration::from_secs(600),
        |_, i| activate(&path(i), i, Durability::Relaxed, &log),
    )?;
    let mut runs = Vec::new();
    for (durability, name) in [(Durability::Full, "full"), (Durability::Relaxed, "relaxed")] {
        let before = own_cpu_time();
        let fsyncs_before = log_fsyncs(&metrics);
        // One connection per database file, as the host guarantees: thread `t` of `n` takes
        // the objects `i` with `i % n == t`, at random among them.
        let threads = sizes.threads as u64;
        let per_thread = sizes.objects / threads;
        let summary = on_threads(sizes.threads, u64::MAX, sizes.max_duration, |t, _| {
            let i = rand::rng().random_range(0..per_thread) * threads + t as u64;
            activate(&path(i), i, durability, &log)
        })?;
        let fsyncs = log_fsyncs(&metrics) - fsyncs_before;
        runs.push(StorageFloor {
            per_fsync: if durability == Durability::Full && fsyncs > 0 {
                format!("{:.1}", summary.ok as f64 / fsyncs as f64)
            } else {
                "-".into()
            },
            what: format!(
                "storage of an activation, {name} durability, {} threads over {} objects",
                sizes.threads, sizes.objects
            ),
            cpu: own_cpu_time().saturating_sub(before),
            summary,
        });
    }
    Ok(runs)
}

/// The commit log's fsyncs so far.
fn log_fsyncs(metrics: &wdo::metrics::Metrics) -> u64 {
    metrics
        .encode()
        .lines()
        .find_map(|l| l.strip_prefix("wdo_log_fsync_duration_seconds_count "))
        .and_then(|v| v.trim().parse::<f64>().ok())
        .unwrap_or(0.0) as u64
}

/// The commit log's name of object `i` of the floors: namespace `floor`, its number as id.
pub(crate) fn object_key(i: u64) -> ObjectKey {
    let mut id = [0u8; 32];
    id[..8].copy_from_slice(&i.to_le_bytes());
    ObjectKey {
        namespace: "floor".into(),
        id,
    }
}

/// One request of scenario 2, storage only: open, read and write the counter, commit,
/// make it durable (full durability: through the commit log, as the output gate), close.
pub(crate) fn activate(
    path: &Path,
    i: u64,
    durability: Durability,
    log: &CommitLog,
) -> anyhow::Result<()> {
    let mut storage = ObjectStorage::open(path, durability, Limits::default())?;
    storage.read_alarm()?;
    storage.begin_batch()?;
    storage.begin_turn()?;
    let count = match storage.get("count")? {
        Some(bytes) => serde_json::from_slice::<u64>(&bytes)?,
        None => 0,
    };
    storage.put("count", serde_json::to_vec(&(count + 1))?.as_slice())?;
    storage.end_turn(true)?;
    storage.commit_batch()?;
    if let Some(frames) = storage.take_logged_frames()? {
        let record = Record {
            object: object_key(i),
            body: Body::Frames(frames),
        };
        let (result, _) = log
            .append(record)
            .blocking_recv()
            .map_err(|_| anyhow::anyhow!("the commit log stopped"))?;
        result?;
    }
    drop(storage);
    Ok(())
}

/// Runs `op(thread, sequence)` on `threads` threads until `count` ops (`sequence` counts
/// them across threads) or `max_duration`; the first error ends the run.
fn on_threads(
    threads: usize,
    count: u64,
    max_duration: Duration,
    op: impl Fn(usize, u64) -> anyhow::Result<()> + Sync,
) -> anyhow::Result<Summary> {
    let next = AtomicU64::new(0);
    let failed = AtomicBool::new(false);
    let started = Instant::now();
    let deadline = started + max_duration;
    let latencies = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|thread| {
                let (next, failed, op) = (&next, &failed, &op);
                scope.spawn(move || -> anyhow::Result<Vec<u32>> {
                    let mut latencies = Vec::new();
                    while Instant::now() < deadline && !failed.load(Ordering::Relaxed) {
                        let sequence = next.fetch_add(1, Ordering::Relaxed);
                        if sequence >= count {
                            break;
                        }
                        let one = Instant::now();
                        if let Err(e) = op(thread, sequence) {
                            failed.store(true, Ordering::Relaxed);
                            return Err(e);
                        }
                        latencies.push(one.elapsed().as_micros().min(u32::MAX as u128) as u32);
                    }
                    Ok(latencies)
                })
            })
            .collect();
        let mut all = Vec::new();
        for worker in workers {
            all.extend(worker.join().expect("floor thread panicked")?);
        }
        anyhow::Ok(all)
    })?;
    Ok(Summary::new(latencies, 0, None, started.elapsed()))
}
