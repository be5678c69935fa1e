//! Summaries of a run (throughput, exact latency percentiles) and the tables printed from
//! them.

use std::fmt::Write;
use std::time::Duration;

/// The outcome of one load run.
#[derive(Debug, Clone)]
pub struct Summary {
    /// Requests answered 200.
    pub ok: u64,
    /// Requests that failed (status, connection), with the first reason.
    pub failures: u64,
    pub first_failure: Option<String>,
    pub elapsed: Duration,
    sorted_us: Vec<u32>,
}

impl Summary {
    pub fn new(
        mut latencies_us: Vec<u32>,
        failures: u64,
        first_failure: Option<String>,
        elapsed: Duration,
    ) -> Summary {
        latencies_us.sort_unstable();
        Summary {
            ok: latencies_us.len() as u64,
            failures,
            first_failure,
            elapsed,
            sorted_us: latencies_us,
        }
    }

    /// Successful requests per second over the whole run.
    pub fn throughput(&self) -> f64 {
        self.ok as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// The latency at quantile `q` (0..=1), nearest rank.
    pub fn percentile(&self, q: f64) -> Duration {
        if self.sorted_us.is_empty() {
            return Duration::ZERO;
        }
        let rank =
            ((q * self.sorted_us.len() as f64).ceil() as usize).clamp(1, self.sorted_us.len());
        Duration::from_micros(self.sorted_us[rank - 1] as u64)
    }

    pub fn p50(&self) -> Duration {
        self.percentile(0.50)
    }

    pub fn p99(&self) -> Duration {
        self.percentile(0.99)
    }

    /// Fails if any request failed, quoting the first failure.
    pub fn check(&self, what: &str) -> anyhow::Result<()> {
        if self.failures > 0 {
            anyhow::bail!(
                "{what}: {} of {} requests failed; first: {}",
                self.failures,
                self.failures + self.ok,
                self.first_failure.as_deref().unwrap_or("?")
            );
        }
        Ok(())
    }
}

/// Milliseconds with enough digits for sub-millisecond latencies.
pub fn ms(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1000.0;
    if ms < 10.0 {
        format!("{ms:.2} ms")
    } else {
        format!("{ms:.1} ms")
    }
}

/// A request rate, rounded to what a reader compares.
pub fn rate(per_second: f64) -> String {
    if per_second >= 100.0 {
        format!("{:.0}", per_second)
    } else {
        format!("{per_second:.1}")
    }
}

/// A Markdown table (it reads as well in a terminal as in BENCHMARKS.md).
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            widths[i] = widths[i].max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let line = |out: &mut String, cells: Vec<&str>| {
        out.push('|');
        for (i, cell) in cells.iter().enumerate() {
            let pad = widths[i] - cell.chars().count();
            let _ = write!(out, " {cell}{} |", " ".repeat(pad));
        }
        out.push('\n');
    };
    line(&mut out, header.to_vec());
    out.push('|');
    for w in &widths {
        let _ = write!(out, "{}|", "-".repeat(w + 2));
    }
    out.push('\n');
    for row in rows {
        line(&mut out, row.iter().map(String::as_str).collect());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank_over_every_sample() {
        let s = Summary::new((1..=100).rev().collect(), 0, None, Duration::from_secs(2));
        assert_eq!(s.p50(), Duration::from_micros(50));
        assert_eq!(s.p99(), Duration::from_micros(99));
        assert_eq!(s.percentile(1.0), Duration::from_micros(100));
        assert_eq!(s.throughput(), 50.0);
    }

    #[test]
    fn failures_fail_the_check_with_the_first_reason() {
        let s = Summary::new(
            vec![1],
            2,
            Some("status 503".into()),
            Duration::from_secs(1),
        );
        let err = s.check("scenario 1").unwrap_err().to_string();
        assert!(err.contains("2 of 3") && err.contains("503"), "{err}");
    }
}
