//! Time for the alarm scheduler, injectable so tests need not sleep for real.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

#[async_trait::async_trait]
pub trait Clock: Send + Sync + 'static {
    /// Unix milliseconds.
    fn now_ms(&self) -> u64;
    /// Resolves once `now_ms() >= deadline`.
    async fn sleep_until(&self, deadline_ms: u64);
}

pub struct SystemClock;

#[async_trait::async_trait]
impl Clock for SystemClock {
    fn now_ms(&self) -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64)
    }

    async fn sleep_until(&self, deadline_ms: u64) {
        // Wall-clock time can jump; re-check after each sleep so an alarm never fires early.
        loop {
            let now = self.now_ms();
            if now >= deadline_ms {
                return;
            }
            tokio::time::sleep(Duration::from_millis(deadline_ms - now)).await;
        }
    }
}

#[cfg(test)]
pub mod manual {
    use std::sync::atomic::{AtomicU64, Ordering};

    use tokio::sync::Notify;

    /// A clock that moves only when told to.
    pub struct ManualClock {
        now: AtomicU64,
        moved: Notify,
    }

    impl ManualClock {
        pub fn new(start_ms: u64) -> ManualClock {
            ManualClock {
                now: AtomicU64::new(start_ms),
                moved: Notify::new(),
            }
        }

        pub fn advance_to(&self, ms: u64) {
            self.now.store(ms, Ordering::SeqCst);
            self.moved.notify_waiters();
        }
    }

    #[async_trait::async_trait]
    impl super::Clock for ManualClock {
        fn now_ms(&self) -> u64 {
            self.now.load(Ordering::SeqCst)
        }

        async fn sleep_until(&self, deadline_ms: u64) {
            loop {
                let moved = self.moved.notified();
                if self.now_ms() >= deadline_ms {
                    return;
                }
                moved.await;
            }
        }
    }
}
