//! The printed result: one Markdown table per run with both runtimes side by side, the
//! ratio, and the targets judged (full runs only).

use std::fmt::Write;
use std::path::PathBuf;

use std::time::Duration;

use crate::scenarios::{Measurement, Scenario, Sizes};
use crate::servers::Runtime;
use crate::sockets::SocketStats;
use crate::stats::{ms, rate, table};

pub struct Report {
    pub machine: String,
    /// Load average when the run ended (the machine may be shared).
    pub load_after: String,
    pub wdo_binary: PathBuf,
    pub workerd_version: Option<String>,
    pub smoke: bool,
    pub scenarios: Vec<Scenario>,
    pub sizes: Sizes,
    pub measurements: Vec<Measurement>,
    /// The floors' table (`floors.rs`), if they were measured.
    pub floors: Option<String>,
}

const ROWS: [(&str, &str); 14] = [
    ("1", "1. one object, increment"),
    ("2-create", "2. (creating the 10,000 objects)"),
    ("2", "2. 10,000 random objects, increment"),
    ("3", "3. cold activation, first get (1 conn)"),
    ("4", "4. sequential get, 1 conn"),
    ("6.1", "6. as 1, durability relaxed"),
    ("6.2-create", "6. (creating, relaxed)"),
    ("6.2", "6. as 2, durability relaxed"),
    ("7", "7. get (4 conns) beside four 30 s SQL statements"),
    ("8.1", "8. add, direct URL"),
    ("8.2", "8. add, through the worker (stub.fetch)"),
    ("8.3", "8. add, through the worker (RPC)"),
    ("8.4", "8. add, direct URL again"),
    ("9", "9. RPC echo between two live objects (per call)"),
];

impl Report {
    pub fn find(&self, runtime: Runtime, id: &str) -> Option<&Measurement> {
        self.measurements
            .iter()
            .find(|m| m.runtime == runtime && m.id == id)
    }

    pub fn render(&self) -> String {
        let compare = self.workerd_version.is_some();
        let mut header = vec!["scenario", "wdo req/s", "wdo p50", "wdo p99", "wdo CPU/req"];
        if compare {
            header.extend([
                "workerd req/s",
                "workerd p50",
                "workerd p99",
                "workerd CPU/req",
                "wdo vs workerd",
            ]);
        }
        if !self.smoke {
            header.push("target");
        }
        let mut rows = Vec::new();
        for (id, label) in ROWS {
            let wdo = self.find(Runtime::Wdo, id);
            let workerd = self.find(Runtime::Workerd, id);
            if wdo.is_none() && workerd.is_none() {
                continue;
            }
            let mut row = vec![label.to_string()];
            row.extend(if id == "9" {
                call_cells(wdo)
            } else {
                cells(wdo)
            });
            if compare {
                row.extend(cells(workerd));
                row.push(match (wdo, workerd) {
                    (Some(a), Some(b)) if id == "3" => ratio(
                        b.summary.p50().as_secs_f64(),
                        a.summary.p50().as_secs_f64(),
                        "faster p50",
                    ),
                    (Some(a), Some(b)) => {
                        ratio(a.summary.throughput(), b.summary.throughput(), "req/s")
                    }
                    _ => "n/a (no such setting)".into(),
                });
            }
            if !self.smoke {
                row.push(match wdo {
                    Some(m) if id == "8.2" || id == "8.3" => self.worker_target(m),
                    _ => target(id, wdo),
                });
            }
            rows.push(row);
        }
        if self.scenarios.contains(&Scenario::WebSockets) {
            rows.extend(self.socket_rows(compare, header.len()));
        }
        let mut out = String::new();
        let _ = writeln!(out, "machine: {}", self.machine);
        let _ = writeln!(out, "load average at the end: {}", self.load_after);
        let _ = writeln!(out, "wdo: {}", self.wdo_binary.display());
        if let Some(v) = &self.workerd_version {
            let _ = writeln!(
                out,
                "workerd: {v} (npm workerd@{})",
                crate::setup::WORKERD_VERSION
            );
        }
        let s = &self.sizes;
        let _ =
            writeln!(
            out,
            "sizes: {} conns; 1: {} requests after {} warm-up; 2: {} requests over {} objects; \
             3: {} objects; 4: {} requests; 5: {} sockets ({} rooms of {} and one of {}), {} \
             broadcast rounds; 8: {} requests per run; 9: {} calls, {} per request; each run \
             at most {:?}\n",
            s.connections, s.hot_requests, s.hot_warmup, s.many_requests, s.objects,
            s.cold_objects, s.round_trips, s.sockets.total(), s.sockets.rooms,
            s.sockets.per_room, s.sockets.broadcast_sockets, s.sockets.rounds,
            s.worker_requests, s.rpc_calls, s.rpc_calls_per_request, s.max_duration
        );
        out.push_str(&table(&header, &rows));
        for m in &self.measurements {
            if let Some(e) = m.sockets.as_ref().and_then(|s| s.first_failure.as_ref()) {
                let _ = writeln!(
                    out,
                    "\n{} scenario 5: joining stopped at the first failure: {e}",
                    m.runtime.name()
                );
            }
        }
        let mut detail = Vec::new();
        for m in &self.measurements {
            detail.push(vec![
                format!("{} {}", m.runtime.name(), m.id),
                m.summary.ok.to_string(),
                format!("{:.2} s", m.summary.elapsed.as_secs_f64()),
                m.server_cpu
                    .map_or("?".into(), |c| format!("{:.2} s", c.as_secs_f64())),
                m.server_rss
                    .map_or("?".into(), |r| format!("{:.0} MB", r as f64 / 1e6)),
                m.events_per_commit
                    .map_or(String::new(), |e| format!("{e:.1}")),
                m.events_per_sync
                    .map_or(String::new(), |e| format!("{e:.1}")),
                m.mean_sync.map_or(String::new(), ms),
            ]);
        }
        out.push('\n');
        out.push_str(&table(
            &[
                "run",
                "requests",
                "time",
                "server CPU",
                "server RSS after",
                "events per commit",
                "events per fsync",
                "mean fsync",
            ],
            &detail,
        ));
        if let Some(floors) = &self.floors {
            out.push_str("\nfloors: the same machine without objects (bench/src/floors.rs)\n");
            out.push_str(floors);
        }
        out
    }

    /// Scenario 5: the broadcast latency and the memory of the hibernated sockets.
    fn socket_rows(&self, compare: bool, width: usize) -> Vec<Vec<String>> {
        let wdo = self.find(Runtime::Wdo, "5");
        let workerd = self.find(Runtime::Workerd, "5");
        let sockets = self.sizes.sockets.total();
        let broadcast_to = self.sizes.sockets.broadcast_sockets;
        let latency = |m: Option<&Measurement>| match m {
            Some(m) => vec![
                format!(
                    "first {}",
                    ms(m.sockets.as_ref().map_or(Duration::ZERO, |s| s.first_round))
                ),
                ms(m.summary.p50()),
                ms(m.summary.p99()),
                m.cpu_per_request()
                    .map_or("?".into(), |c| format!("{} per round", ms(c))),
            ],
            None => vec!["n/a".into(); 4],
        };
        let memory = |m: Option<&Measurement>| match m.and_then(|m| m.sockets.as_ref()) {
            Some(s) => vec![
                mb(s.rss_hibernated),
                format!("before: {}", mb(s.rss_before)),
                per_socket(s),
                if s.sockets < s.wanted {
                    format!("only {} of {} sockets open", s.sockets, s.wanted)
                } else {
                    s.server_fds.map_or(String::new(), |n| format!("{n} fds"))
                },
            ],
            None => vec!["n/a".into(); 4],
        };
        let mut broadcast = vec![format!(
            "5. broadcast to {broadcast_to} sockets (all received)"
        )];
        broadcast.extend(latency(wdo));
        let mut rss = vec![format!("5. {sockets} hibernated sockets: server RSS")];
        rss.extend(memory(wdo));
        if compare {
            broadcast.extend(latency(workerd));
            broadcast.push(match (wdo, workerd) {
                (Some(a), Some(b)) => ratio(
                    b.summary.p50().as_secs_f64(),
                    a.summary.p50().as_secs_f64(),
                    "faster p50",
                ),
                _ => "n/a".into(),
            });
            rss.extend(memory(workerd));
            let bytes = |m: Option<&Measurement>| {
                m.and_then(|m| m.sockets.as_ref())
                    .and_then(|s| s.rss_hibernated)
            };
            rss.push(match (bytes(wdo), bytes(workerd)) {
                (Some(a), Some(b)) => ratio(b as f64, a as f64, "less memory"),
                _ => "n/a".into(),
            });
        }
        if !self.smoke {
            broadcast.push(target("5", wdo));
            rss.push(target("5-rss", wdo));
        }
        for row in [&mut broadcast, &mut rss] {
            row.resize(width, String::new());
        }
        vec![broadcast, rss]
    }

    /// Scenario 8: server CPU per request through the worker against the direct runs.
    fn worker_target(&self, m: &Measurement) -> String {
        let direct = [
            self.find(Runtime::Wdo, "8.1"),
            self.find(Runtime::Wdo, "8.4"),
        ];
        match crate::apps::worker_overhead(m, &direct) {
            Some((ratio, mean)) => format!(
                "{} ({:.2}x the direct {} us CPU/req; <= 1.30x)",
                if ratio <= 1.3 { "met" } else { "missed" },
                ratio,
                mean.as_micros()
            ),
            None => "? (no CPU time)".into(),
        }
    }

    /// Whether every measured target of the issue holds.
    pub fn targets_met(&self) -> bool {
        ["1", "2", "3", "5", "5-rss"]
            .iter()
            .all(|id| !target(id, self.find(Runtime::Wdo, id)).starts_with("missed"))
    }
}

fn mb(bytes: Option<u64>) -> String {
    bytes.map_or("?".into(), |b| format!("{:.0} MB", b as f64 / 1e6))
}

/// Memory per socket: the growth of RSS over the baseline, divided by the sockets.
fn per_socket(s: &SocketStats) -> String {
    match (s.rss_before, s.rss_hibernated) {
        (Some(before), Some(after)) if s.sockets > 0 => format!(
            "{:.1} KB/socket",
            after.saturating_sub(before) as f64 / s.sockets as f64 / 1e3
        ),
        _ => "?".into(),
    }
}

fn cells(m: Option<&Measurement>) -> Vec<String> {
    match m {
        Some(m) => vec![
            rate(m.summary.throughput()),
            ms(m.summary.p50()),
            ms(m.summary.p99()),
            m.cpu_per_request()
                .map_or("?".into(), |c| format!("{} us", c.as_micros())),
        ],
        None => vec!["n/a".into(); 4],
    }
}

/// Scenario 9's cells: calls per second, and the per-call latencies in microseconds.
fn call_cells(m: Option<&Measurement>) -> Vec<String> {
    match m {
        Some(m) => vec![
            format!("{} calls/s", rate(m.summary.throughput())),
            format!("{} us", m.summary.p50().as_micros()),
            format!("{} us", m.summary.p99().as_micros()),
            m.cpu_per_request()
                .map_or("?".into(), |c| format!("{} us", c.as_micros())),
        ],
        None => vec!["n/a".into(); 4],
    }
}

fn ratio(ours: f64, theirs: f64, unit: &str) -> String {
    if theirs <= 0.0 {
        return "n/a".into();
    }
    format!("{:.1}x {unit}", ours / theirs)
}

fn target(id: &str, m: Option<&Measurement>) -> String {
    let Some(m) = m else {
        return String::new();
    };
    let judge = |ok: bool, what: &str| format!("{} ({what})", if ok { "met" } else { "missed" });
    match id {
        "1" => judge(m.summary.throughput() >= 20_000.0, ">= 20,000 req/s"),
        "2" => judge(m.summary.throughput() >= 5_000.0, ">= 5,000 req/s"),
        "3" => judge(m.summary.p50().as_secs_f64() <= 0.001, "p50 <= 1 ms"),
        "5" => judge(m.summary.p50().as_secs_f64() <= 0.010, "p50 <= 10 ms"),
        "7" => judge(m.summary.p99().as_secs_f64() <= 0.050, "p99 <= 50 ms"),
        "9" => judge(m.summary.p50() < Duration::from_micros(100), "p50 < 100 us"),
        "5-rss" => match m.sockets.as_ref().and_then(|s| s.rss_hibernated) {
            Some(rss) => judge(rss <= 200_000_000, "<= 200 MB"),
            None => "? (no RSS)".into(),
        },
        _ => String::new(),
    }
}
