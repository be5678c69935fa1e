//! wdo-bench: the benchmark harness of issue 7. It starts the real `wdo` binary (and, with
//! `--compare-workerd`, Cloudflare's `workerd` serving the same counter written in JS) on
//! loopback with a temporary data directory, drives them with its own closed-loop HTTP/1.1
//! load generator, prints throughput and p50/p99 latency per scenario, and stops them.
//!
//! Layout:
//! - [`load`]: the load generator (hyper client, keep-alive connections, bounded runs);
//! - [`scenarios`]: the scenarios of the issue, identical for both runtimes;
//! - [`apps`]: scenarios 8 and 9, a worker and RPC between objects;
//! - [`sockets`]: scenario 5, WebSockets with hibernation (tokio-tungstenite clients);
//! - [`servers`]: the servers as child processes (start, restart, stop, CPU and RSS, wdo's
//!   `/metrics`);
//! - [`floors`], [`commit_floor`], `broadcast_floor`, [`floor_server`]: the same machine
//!   without objects (an HTTP-only server, storage alone, a group-commit server, a minimal
//!   broadcast), the bounds each scenario is measured against;
//! - [`cluster_bench`]: three nodes on etcd and NATS JetStream (`wdo-bench cluster`);
//! - [`setup`]: building `wdo` and the counter component, installing workerd from npm;
//! - [`report`] and [`stats`]: percentiles and the tables printed.
//!
//! ```text
//! cargo run --release -p wdo-bench -- all --compare-workerd   # the numbers in BENCHMARKS.md
//! cargo run --release -p wdo-bench -- 1 2 --perf-dir /tmp/p   # two scenarios, profiled
//! cargo run --release -p wdo-bench -- smoke                   # a few hundred requests
//! ```

pub mod apps;
mod broadcast_floor;
pub mod cluster_bench;
pub mod commit_floor;
pub mod floor_server;
pub mod floors;
pub mod load;
pub mod report;
pub mod restore_bench;
pub mod scenarios;
pub mod servers;
pub mod setup;
pub mod sockets;
pub mod stats;

use std::path::PathBuf;

use anyhow::Context;

use crate::report::Report;
use crate::scenarios::{Measurement, Scenario, Sizes};
use crate::servers::{Launch, Server};

/// What to run, and against what.
#[derive(Debug, Clone)]
pub struct Options {
    pub scenarios: Vec<Scenario>,
    pub sizes: Sizes,
    /// Smoke mode: small sizes, and no targets judged.
    pub smoke: bool,
    pub compare_workerd: bool,
    /// The `wdo` binary; by default the release build, built if missing or stale.
    pub wdo: Option<PathBuf>,
    /// The workerd binary; by default installed from npm into the cache directory.
    pub workerd: Option<PathBuf>,
    /// The counter component; by default built from `examples/counter`.
    pub component: Option<PathBuf>,
    /// Record a `perf` profile of the server during each measured run, into this directory.
    pub perf_dir: Option<PathBuf>,
    /// Also measure the floors (`floors.rs`) at these sizes.
    pub floors: Option<floors::FloorSizes>,
    /// The `wdo-bench` binary, which serves the HTTP floor; by default this program.
    pub bench_binary: Option<PathBuf>,
}

impl Options {
    /// The smoke mode that `cargo test` runs: every scenario, a few hundred requests.
    pub fn smoke() -> Options {
        Options {
            scenarios: Scenario::ALL.to_vec(),
            sizes: Sizes::smoke(),
            smoke: true,
            compare_workerd: false,
            wdo: None,
            workerd: None,
            component: None,
            perf_dir: None,
            floors: Some(floors::FloorSizes::smoke()),
            bench_binary: None,
        }
    }
}

/// Runs the scenarios against wdo, then (if asked) against workerd, one server at a time.
pub async fn run(options: &Options) -> anyhow::Result<Report> {
    let machine = setup::machine();
    setup::allow_many_sockets();
    let wdo = setup::wdo_binary(options.wdo.as_deref())?;
    let component = setup::counter_component(options.component.as_deref())?;
    let chat = setup::example_component("chat")?;
    let (probe, worker) = setup::test_components()?;
    if let Some(dir) = &options.perf_dir {
        std::fs::create_dir_all(dir)?;
    }
    let mut measurements = Vec::new();
    let launch = Launch::Wdo {
        binary: wdo.clone(),
        component,
        chat,
        probe,
        probe_cpu_limit: options.sizes.long_query,
        worker,
        cache_dir: setup::cache_dir().join("cwasm"),
    };
    if !options.scenarios.is_empty() {
        eprintln!("bench: wdo {}", wdo.display());
        measurements.extend(run_server(launch, options).await.context("wdo")?);
    }
    let mut workerd_version = None;
    if options.compare_workerd && !options.scenarios.is_empty() {
        let binary = setup::workerd_binary(options.workerd.as_deref())?;
        workerd_version = setup::version_of(&binary);
        eprintln!("bench: workerd {}", binary.display());
        let launch = Launch::Workerd {
            binary,
            config: setup::workerd_config()?,
        };
        measurements.extend(run_server(launch, options).await.context("workerd")?);
    }
    let floors = match options.floors {
        Some(sizes) => {
            eprintln!("bench: floors");
            let binary = match &options.bench_binary {
                Some(path) => path.clone(),
                None => std::env::current_exe()?,
            };
            Some(floors::run(sizes, &binary).await.context("floors")?)
        }
        None => None,
    };
    Ok(Report {
        machine,
        floors,
        load_after: setup::load_average(),
        wdo_binary: wdo,
        workerd_version,
        smoke: options.smoke,
        scenarios: options.scenarios.clone(),
        sizes: options.sizes.clone(),
        measurements,
    })
}

/// Starts one server, runs the chosen scenarios against it, and stops it.
async fn run_server(launch: Launch, options: &Options) -> anyhow::Result<Vec<Measurement>> {
    let mut server = Server::start(launch)?;
    let measured = scenarios::run(
        &mut server,
        &options.scenarios,
        &options.sizes,
        options.perf_dir.as_deref(),
    )
    .await;
    server.stop();
    measured
}
