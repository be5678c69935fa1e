//! The applications scenarios (wdo only: they need the test worker and RPC between objects).
//!
//! | id  | what |
//! |-----|------|
//! | 8.1 | 16 connections, `POST /probe/s8-direct/add` (a durable increment) on one object: the direct URL |
//! | 8.2 | the same through the test worker: `POST /w/forward/s8-forward/add`, which the worker sends on with `stub.fetch` |
//! | 8.3 | the same through the test worker by RPC: `POST /w/call?name=s8-rpc&method=add&args=["count",1]` |
//! | 8.4 | 8.1 again on its own object, after 8.2 and 8.3: how much the machine drifted meanwhile |
//! | 9   | inside the host: one probe object calls `echo` on another, live, probe object many times in a row (`/call-many`); each call is timed in the caller around `stub.call` |
//!
//! Each increment is durable before its answer. After each run of 8 the object's count must
//! equal its acknowledged increments.

use std::time::{Duration, Instant};

use anyhow::Context;
use hyper::Method;

use crate::load::{get_json, Load, Objects};
use crate::scenarios::{measure, Measurement, Sizes};
use crate::servers::{Runtime, Server};
use crate::stats::Summary;

/// `["count",1]`, percent-encoded for a query string.
const ADD_ONE: &str = "%5B%22count%22%2C1%5D";

/// Scenario 8: the same durable increment directly and through the worker.
/// With `perf`, each run's server profile is recorded at `perf(id)`.
pub async fn worker(
    server: &Server,
    sizes: &Sizes,
    perf: impl Fn(&str) -> Option<std::path::PathBuf>,
) -> anyhow::Result<Vec<Measurement>> {
    let mut results = Vec::new();
    let runs: [(&'static str, &str, String); 4] = [
        ("8.1", "s8-direct", "/probe/s8-direct/add".into()),
        ("8.2", "s8-forward", "/w/forward/s8-forward/add".into()),
        (
            "8.3",
            "s8-rpc",
            format!("/w/call?name=s8-rpc&method=add&args={ADD_ONE}"),
        ),
        (
            "8.4",
            "s8-direct-again",
            "/probe/s8-direct-again/add".into(),
        ),
    ];
    // The host first writes as much as one run does, on an object of its own, so that the
    // first run does not pay alone for a fresh host's start (the commit log's first segments
    // are new files until a trimmed one is recycled; ~1.1x the CPU per request).
    Load {
        addr: server.addr,
        method: Method::POST,
        objects: Objects::One("/probe/s8-host-warm-up/add".into()),
        connections: sizes.connections,
        requests: sizes.worker_requests,
        max_duration: sizes.max_duration,
    }
    .run()
    .await?
    .check("scenario 8: the host's warm-up")?;
    for (id, object, path) in runs {
        let load = |requests| Load {
            addr: server.addr,
            method: Method::POST,
            objects: Objects::One(path.clone()),
            connections: sizes.connections,
            requests,
            max_duration: sizes.max_duration,
        };
        load(sizes.hot_warmup)
            .run()
            .await?
            .check(&format!("scenario {id}: warm-up"))?;
        let m = measure(server, id, load(sizes.worker_requests), perf(id).as_deref()).await?;
        // Every answered increment must be in the count, whichever way it came.
        let count = get_json(server.addr, &format!("/probe/{object}/get?key=count")).await?
            ["value"]
            .as_u64()
            .with_context(|| format!("scenario {id}: the count is not a number"))?;
        let expected = sizes.hot_warmup + m.summary.ok;
        anyhow::ensure!(
            count == expected,
            "scenario {id}: the count is {count}, expected {expected}"
        );
        results.push(m);
    }
    Ok(results)
}

/// Scenario 9: RPC round trips between two objects of one host, timed by the caller.
pub async fn rpc_round_trip(server: &Server, sizes: &Sizes) -> anyhow::Result<Measurement> {
    let per_request = sizes.rpc_calls_per_request.max(1);
    let path = format!("/probe/s9-caller/call-many?name=s9-callee&method=echo&n={per_request}");
    // Both objects live before the measurement (the path also wakes the callee first).
    get_json(server.addr, "/probe/s9-caller/call-many?name=s9-callee&n=1")
        .await
        .context("scenario 9: first call")?;
    let cpu_before = server.cpu_time();
    let started = Instant::now();
    let mut micros = Vec::new();
    while (micros.len() as u64) < sizes.rpc_calls && started.elapsed() < sizes.max_duration {
        let answer = get_json(server.addr, &path)
            .await
            .map_err(|e| e.context(format!("the server's log ends:\n{}", server.log_tail())))?;
        let nanos = answer["nanos"]
            .as_array()
            .context("scenario 9: no \"nanos\" in the answer")?;
        anyhow::ensure!(
            nanos.len() as u64 == per_request,
            "scenario 9: {} durations for {per_request} calls",
            nanos.len()
        );
        for n in nanos {
            let n = n
                .as_u64()
                .context("scenario 9: a duration is not a number")?;
            micros.push(n.div_ceil(1_000).min(u64::from(u32::MAX)) as u32);
        }
    }
    let elapsed = started.elapsed();
    let server_cpu = match (cpu_before, server.cpu_time()) {
        (Some(before), Some(after)) => Some(after.saturating_sub(before)),
        _ => None,
    };
    Ok(Measurement {
        id: "9",
        runtime: Runtime::Wdo,
        summary: Summary::new(micros, 0, None, elapsed),
        server_cpu,
        server_rss: server.rss_bytes(),
        events_per_commit: None,
        events_per_sync: None,
        mean_sync: None,
        sockets: None,
    })
}

/// Scenario 8's judgement: a run through the worker against the mean server CPU per request
/// of the two direct runs (8.1 before, 8.4 after). Target: at most 30 % more.
pub fn worker_overhead(
    through: &Measurement,
    direct: &[Option<&Measurement>],
) -> Option<(f64, Duration)> {
    let direct: Vec<Duration> = direct
        .iter()
        .filter_map(|m| m.and_then(Measurement::cpu_per_request))
        .collect();
    if direct.is_empty() {
        return None;
    }
    let mean = direct.iter().sum::<Duration>() / direct.len() as u32;
    let ours = through.cpu_per_request()?;
    (!mean.is_zero()).then(|| (ours.as_secs_f64() / mean.as_secs_f64(), mean))
}
