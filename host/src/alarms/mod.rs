//! Alarms: one per object, stored in the object's database (`storage/alarm.rs`), indexed
//! per namespace in `metadata.sqlite`, and fired by one host-wide [`Scheduler`].
//!
//! Owns: the scheduler (a timer over every object's next alarm), the injectable [`Clock`],
//! and the retry policy ([`retry_delay`], [`MAX_RETRIES`]). The alarm *event* (running the
//! handler in a turn, then keeping the index and the scheduler in step with the committed
//! row) belongs to the objects layer (`objects/alarm_turn.rs`).
//!
//! The index row of an alarm an object is about to commit is written (with fsync) before
//! the object's commit, so a crash can make an alarm fire spuriously (the object then finds
//! no due alarm and does nothing) but never lose one.
//!
//! May import: `ids`. Must never import `objects`, `guest`, `http` or `host`: due alarms
//! leave through the delivery function passed to [`Scheduler::run`].

mod clock;
mod scheduler;

use std::time::Duration;

pub use clock::{Clock, SystemClock};
pub use scheduler::{Due, Scheduler};

/// After this many failed retries (7 attempts in all) an alarm is dropped.
pub const MAX_RETRIES: u32 = 6;

/// When an alarm is due, as the scheduler and the index keep it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AlarmEntry {
    /// The time the object set, Unix ms.
    pub scheduled_ms: u64,
    /// When to run it next: `scheduled_ms`, or later while retrying.
    pub due_ms: u64,
    /// Failures so far.
    pub retry_count: u32,
}

impl AlarmEntry {
    pub fn new(scheduled_ms: u64) -> AlarmEntry {
        AlarmEntry {
            scheduled_ms,
            due_ms: scheduled_ms,
            retry_count: 0,
        }
    }
}

/// The wait before retry number `retry` (1-based): `base * 2^(retry-1)`, the exponent capped
/// at 9 as workerd does, plus `jitter` (0..1) times 25 %.
pub fn retry_delay(base: Duration, retry: u32, jitter: f64) -> Duration {
    let exponent = retry.saturating_sub(1).min(9);
    let delay = base * (1u32 << exponent);
    delay + delay.mul_f64(0.25 * jitter.clamp(0.0, 1.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off_exponentially_from_the_base_with_at_most_a_quarter_of_jitter() {
        let base = Duration::from_secs(2);
        assert_eq!(retry_delay(base, 1, 0.0), Duration::from_secs(2));
        assert_eq!(retry_delay(base, 2, 0.0), Duration::from_secs(4));
        assert_eq!(retry_delay(base, 3, 0.0), Duration::from_secs(8));
        assert_eq!(retry_delay(base, 6, 0.0), Duration::from_secs(64));
        assert_eq!(retry_delay(base, 1, 1.0), Duration::from_millis(2500));
        assert_eq!(retry_delay(base, 3, 0.5), Duration::from_secs(9));
        assert_eq!(
            retry_delay(base, 20, 0.0),
            Duration::from_secs(1024),
            "capped"
        );
    }
}
