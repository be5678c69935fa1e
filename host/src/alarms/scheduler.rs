//! The host's one alarm scheduler: a timer that sleeps until the earliest due alarm and is
//! re-armed when an earlier one appears. Firing hands the alarm to a delivery function (the
//! registry, which activates the object if needed); the object reports back by scheduling
//! the alarm again (a retry, or a new alarm) or cancelling it.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::{AlarmEntry, Clock};
use crate::ids::Key;

/// When delivery fails (the object's inbox is full), try again this much later.
const REDELIVERY_MS: u64 = 1000;

pub struct Scheduler {
    state: Mutex<State>,
    rearm: Notify,
    pub clock: Arc<dyn Clock>,
}

#[derive(Default)]
struct State {
    queue: BTreeSet<(u64, Key)>,
    entries: HashMap<Key, Scheduled>,
    /// Alarms in `entries` per namespace index (the `wdo_alarms_scheduled` gauge).
    per_namespace: HashMap<usize, usize>,
}

impl State {
    fn insert(&mut self, key: Key, scheduled: Scheduled) {
        self.queue.insert((scheduled.entry.due_ms, key));
        if self.entries.insert(key, scheduled).is_none() {
            *self.per_namespace.entry(key.0).or_default() += 1;
        }
    }

    fn remove(&mut self, key: Key) -> Option<Scheduled> {
        let old = self.entries.remove(&key)?;
        self.queue.remove(&(old.entry.due_ms, key));
        if let Some(count) = self.per_namespace.get_mut(&key.0) {
            *count -= 1;
        }
        Some(old)
    }
}

#[derive(Clone)]
struct Scheduled {
    name: Option<String>,
    entry: AlarmEntry,
}

/// An alarm the scheduler hands over for delivery.
pub struct Due {
    pub key: Key,
    pub name: Option<String>,
    pub entry: AlarmEntry,
}

impl Scheduler {
    pub fn new(clock: Arc<dyn Clock>) -> Scheduler {
        Scheduler {
            state: Mutex::new(State::default()),
            rearm: Notify::new(),
            clock,
        }
    }

    /// Sets (replaces) the object's alarm.
    pub fn schedule(&self, key: Key, name: Option<String>, entry: AlarmEntry) {
        let mut state = self.state.lock().expect("scheduler lock");
        let earliest = state.queue.first().map(|(due, _)| *due);
        let name = match state.remove(key) {
            Some(old) => name.or(old.name),
            None => name,
        };
        state.insert(key, Scheduled { name, entry });
        drop(state);
        if earliest.is_none_or(|earliest| entry.due_ms < earliest) {
            self.rearm.notify_one();
        }
    }

    pub fn cancel(&self, key: Key) {
        self.state.lock().expect("scheduler lock").remove(key);
    }

    /// Alarms waiting, per namespace index.
    pub fn count(&self, namespace: usize) -> usize {
        let state = self.state.lock().expect("scheduler lock");
        state.per_namespace.get(&namespace).copied().unwrap_or(0)
    }

    pub fn get(&self, key: Key) -> Option<AlarmEntry> {
        let state = self.state.lock().expect("scheduler lock");
        state.entries.get(&key).map(|s| s.entry)
    }

    /// Takes the earliest alarm if it is due now, else says when the earliest is due.
    fn take_due(&self) -> Result<Due, Option<u64>> {
        let now = self.clock.now_ms();
        let mut state = self.state.lock().expect("scheduler lock");
        let Some(&(due, key)) = state.queue.first() else {
            return Err(None);
        };
        if due > now {
            return Err(Some(due));
        }
        let scheduled = state.remove(key).expect("queued alarms have entries");
        Ok(Due {
            key,
            name: scheduled.name,
            entry: scheduled.entry,
        })
    }

    /// Fires alarms until `shutdown`. `deliver` returns false if the object cannot take the
    /// alarm now; it is then tried again a little later.
    pub async fn run(self: Arc<Self>, deliver: impl Fn(Due) -> bool, shutdown: CancellationToken) {
        loop {
            let next = match self.take_due() {
                Ok(due) => {
                    let (key, name, mut entry) = (due.key, due.name.clone(), due.entry);
                    if !deliver(due) {
                        entry.due_ms = self.clock.now_ms() + REDELIVERY_MS;
                        self.schedule(key, name, entry);
                    }
                    continue;
                }
                Err(next) => next,
            };
            let clock = self.clock.clone();
            let sleep = async move {
                match next {
                    Some(deadline) => clock.sleep_until(deadline).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = sleep => {}
                _ = self.rearm.notified() => {}
                _ = shutdown.cancelled() => return,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tokio::sync::mpsc;

    use super::*;
    use crate::alarms::clock::manual::ManualClock;
    use crate::ids::IdKey;

    fn key(name: &str) -> Key {
        (0, IdKey::from_bytes(&[7; 32]).unwrap().id_from_name(name))
    }

    struct Harness {
        clock: Arc<ManualClock>,
        scheduler: Arc<Scheduler>,
        fired: mpsc::UnboundedReceiver<(Key, AlarmEntry)>,
        _stop: tokio_util::sync::DropGuard,
    }

    fn start() -> Harness {
        let clock = Arc::new(ManualClock::new(1_000_000));
        let scheduler = Arc::new(Scheduler::new(clock.clone()));
        let (tx, fired) = mpsc::unbounded_channel();
        let stop = CancellationToken::new();
        tokio::spawn(scheduler.clone().run(
            move |due: Due| tx.send((due.key, due.entry)).is_ok(),
            stop.clone(),
        ));
        Harness {
            clock,
            scheduler,
            fired,
            _stop: stop.drop_guard(),
        }
    }

    async fn quiet(fired: &mut mpsc::UnboundedReceiver<(Key, AlarmEntry)>) -> bool {
        tokio::time::timeout(Duration::from_millis(50), fired.recv())
            .await
            .is_err()
    }

    #[tokio::test]
    async fn an_alarm_never_fires_before_its_time() {
        let mut h = start();
        h.scheduler
            .schedule(key("a"), None, AlarmEntry::new(1_000_500));
        assert!(quiet(&mut h.fired).await);
        h.clock.advance_to(1_000_499);
        assert!(quiet(&mut h.fired).await, "1 ms early is early");
        h.clock.advance_to(1_000_500);
        let (fired, entry) = h.fired.recv().await.unwrap();
        assert_eq!(fired, key("a"));
        assert_eq!(entry.scheduled_ms, 1_000_500);
        assert_eq!(h.scheduler.count(0), 0, "a fired alarm leaves the queue");
    }

    #[tokio::test]
    async fn an_earlier_alarm_rearms_the_timer_and_order_is_by_due_time() {
        let mut h = start();
        h.scheduler
            .schedule(key("late"), None, AlarmEntry::new(1_009_000));
        assert!(quiet(&mut h.fired).await);
        h.scheduler
            .schedule(key("early"), None, AlarmEntry::new(1_001_000));
        h.clock.advance_to(1_001_000);
        assert_eq!(h.fired.recv().await.unwrap().0, key("early"));
        assert!(quiet(&mut h.fired).await);
        h.clock.advance_to(1_010_000);
        assert_eq!(h.fired.recv().await.unwrap().0, key("late"));
    }

    #[tokio::test]
    async fn rescheduling_replaces_and_cancelling_removes() {
        let mut h = start();
        h.scheduler
            .schedule(key("a"), None, AlarmEntry::new(1_001_000));
        h.scheduler
            .schedule(key("a"), None, AlarmEntry::new(1_002_000));
        h.scheduler
            .schedule(key("b"), None, AlarmEntry::new(1_001_500));
        h.scheduler.cancel(key("b"));
        assert_eq!(h.scheduler.count(0), 1);
        h.clock.advance_to(1_001_999);
        assert!(
            quiet(&mut h.fired).await,
            "the first time was replaced, b cancelled"
        );
        h.clock.advance_to(1_002_000);
        let (fired, entry) = h.fired.recv().await.unwrap();
        assert_eq!((fired, entry.scheduled_ms), (key("a"), 1_002_000));
        assert!(quiet(&mut h.fired).await, "fired once");
    }

    #[tokio::test]
    async fn counts_are_kept_per_namespace_through_replace_cancel_and_fire() {
        let mut h = start();
        let other = |name: &str| (1, key(name).1);
        h.scheduler
            .schedule(key("a"), None, AlarmEntry::new(1_001_000));
        h.scheduler
            .schedule(key("a"), None, AlarmEntry::new(1_002_000));
        h.scheduler
            .schedule(key("b"), None, AlarmEntry::new(1_003_000));
        h.scheduler
            .schedule(other("a"), None, AlarmEntry::new(1_004_000));
        assert_eq!((h.scheduler.count(0), h.scheduler.count(1)), (2, 1));
        h.scheduler.cancel(key("b"));
        h.scheduler.cancel(key("b"));
        assert_eq!((h.scheduler.count(0), h.scheduler.count(1)), (1, 1));
        h.clock.advance_to(1_004_000);
        h.fired.recv().await.unwrap();
        h.fired.recv().await.unwrap();
        assert_eq!((h.scheduler.count(0), h.scheduler.count(1)), (0, 0));
        assert_eq!(h.scheduler.count(7), 0);
    }

    #[tokio::test]
    async fn overdue_alarms_fire_at_once() {
        let mut h = start();
        h.scheduler.schedule(key("old"), None, AlarmEntry::new(5));
        assert_eq!(h.fired.recv().await.unwrap().0, key("old"));
    }
}
