//! `wdo-bench`: runs the benchmark scenarios (see the `wdo_bench` library) and prints the
//! table that BENCHMARKS.md quotes.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use wdo_bench::commit_floor::{self, COMMIT_FLOOR_SERVER_ARG};
use wdo_bench::floors::{self, FloorSizes};
use wdo_bench::scenarios::{Scenario, Sizes};
use wdo_bench::Options;

#[derive(Parser)]
#[command(name = "wdo-bench", about = "Benchmarks wdo (and workerd) on loopback")]
struct Cli {
    /// `all` (every scenario and the floors), `smoke` (a few hundred requests), scenario
    /// numbers 1-9, or `floors` (the machine without objects: bench/src/floors.rs).
    #[arg(default_value = "all")]
    what: Vec<String>,
    /// Also run the same scenarios against workerd, installed from npm on first use.
    #[arg(long)]
    compare_workerd: bool,
    /// The wdo binary (default: the release build, built if missing or stale).
    #[arg(long)]
    wdo: Option<PathBuf>,
    /// The workerd binary (default: npm package `workerd` in ~/.cache/wdo-bench/workerd).
    #[arg(long)]
    workerd: Option<PathBuf>,
    /// The counter component (default: built from examples/counter).
    #[arg(long)]
    component: Option<PathBuf>,
    /// Record a perf profile of the server during each measured run into this directory.
    #[arg(long)]
    perf_dir: Option<PathBuf>,
    /// Time limit of each measured run, e.g. 10s.
    #[arg(long, value_parser = parse_duration)]
    max_duration: Option<Duration>,
    /// Requests of scenario 1 (and 6.1).
    #[arg(long)]
    hot_requests: Option<u64>,
    /// Requests of scenario 2 (and 6.2).
    #[arg(long)]
    many_requests: Option<u64>,
    /// Requests of each run of scenario 8.
    #[arg(long)]
    worker_requests: Option<u64>,
    /// RPC calls of scenario 9.
    #[arg(long)]
    rpc_calls: Option<u64>,
    /// Broadcast rounds of scenario 5.
    #[arg(long)]
    broadcast_rounds: Option<usize>,
}

fn parse_duration(text: &str) -> Result<Duration, String> {
    let seconds = text.strip_suffix('s').unwrap_or(text);
    seconds
        .parse::<f64>()
        .map(Duration::from_secs_f64)
        .map_err(|_| format!("expected seconds such as 10s, got {text:?}"))
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some(floors::FLOOR_SERVER_ARG) => return wdo_bench::floor_server::serve_http_floor(),
        Some("restore") => {
            let objects = match args.get(2) {
                Some(n) => n.parse().context("usage: wdo-bench restore [OBJECTS]")?,
                None => 10_000,
            };
            return wdo_bench::restore_bench::run(objects);
        }
        Some("cluster") => return wdo_bench::cluster_bench::run(&args[2..]),
        Some(COMMIT_FLOOR_SERVER_ARG) => {
            let dir = args
                .get(2)
                .context("usage: wdo-bench commit-floor-server DIR")?;
            return commit_floor::serve(std::path::Path::new(dir));
        }
        _ => {}
    }
    let cli = Cli::parse();
    let mut with_floors = false;
    let smoke = cli.what.iter().any(|w| w == "smoke");
    let mut options = if smoke {
        Options::smoke()
    } else {
        let mut scenarios = Vec::new();
        for what in &cli.what {
            if what == "all" {
                scenarios.extend(Scenario::ALL);
                with_floors = true;
            } else if what == "floors" {
                with_floors = true;
            } else {
                let n: u8 = what.parse().map_err(|_| {
                    anyhow::anyhow!("unknown scenario {what:?}: use all, smoke, floors or 1-9")
                })?;
                scenarios.push(
                    Scenario::from_number(n)
                        .ok_or_else(|| anyhow::anyhow!("no scenario {n}: use 1-9"))?,
                );
            }
        }
        scenarios.sort();
        scenarios.dedup();
        Options {
            scenarios,
            sizes: Sizes::full(),
            floors: None,
            ..Options::smoke()
        }
    };
    options.smoke = smoke;
    options.compare_workerd = cli.compare_workerd;
    options.wdo = cli.wdo;
    options.workerd = cli.workerd;
    options.component = cli.component;
    options.perf_dir = cli.perf_dir;
    if let Some(d) = cli.max_duration {
        options.sizes.max_duration = d;
    }
    if with_floors {
        options.floors = Some(FloorSizes::full(options.sizes.max_duration));
    }
    if let Some(n) = cli.hot_requests {
        options.sizes.hot_requests = n;
    }
    if let Some(n) = cli.many_requests {
        options.sizes.many_requests = n;
    }
    if let Some(n) = cli.worker_requests {
        options.sizes.worker_requests = n;
    }
    if let Some(n) = cli.rpc_calls {
        options.sizes.rpc_calls = n;
    }
    if let Some(n) = cli.broadcast_rounds {
        options.sizes.sockets.rounds = n;
    }
    // One thread for the load generator: it leaves the rest of the machine to the server.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let report = runtime.block_on(wdo_bench::run(&options))?;
    println!("{}", report.render());
    Ok(())
}
