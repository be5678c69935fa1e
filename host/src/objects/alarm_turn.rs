//! Running an alarm event, keeping the alarm index (`metadata.sqlite`) and the scheduler in
//! step with the alarm row each object commits, and retrying or dropping failed alarms.

use rand::Rng;

use super::actor::{Actor, Live};
use super::event::AlarmOutcome;
use crate::alarms::{retry_delay, AlarmEntry, MAX_RETRIES};
use crate::guest::bindings::alarm_handler::AlarmInfo;
use crate::guest::AlarmResult;
use crate::metrics::ns;

impl Actor {
    /// An alarm in its own savepoint: `get-alarm` sees none while the handler runs.
    pub(super) async fn alarm_turn(&self, live: &mut Live, entry: AlarmEntry) -> AlarmOutcome {
        if self.begin_turn(live).is_err() {
            return AlarmOutcome::Failed {
                scheduled_ms: entry.scheduled_ms,
                retry_count: entry.retry_count,
            };
        }
        let now = self.registry.scheduler.clock.now_ms();
        let row = live.storage.lock().expect("storage lock").read_alarm();
        let scheduled_ms = match row {
            Ok(Some(t)) if t <= now => t,
            // Deleted, or moved later, since the scheduler took it.
            Ok(_) => {
                let _ = self.end_turn(live, Ok(()));
                return AlarmOutcome::Skipped;
            }
            Err(e) => {
                let _ = self.end_turn::<()>(live, Err(anyhow::Error::from(e)));
                return AlarmOutcome::Failed {
                    scheduled_ms: entry.scheduled_ms,
                    retry_count: entry.retry_count,
                };
            }
        };
        // A newer alarm than the one being retried starts its own count.
        let retry_count = if scheduled_ms == entry.scheduled_ms {
            entry.retry_count
        } else {
            0
        };
        let due = if scheduled_ms == entry.scheduled_ms {
            entry.due_ms
        } else {
            scheduled_ms
        };
        let label = ns(&self.namespace.name);
        let metrics = &self.registry.metrics;
        metrics
            .alarm_delay
            .get_or_create(&label)
            .observe(now.saturating_sub(due) as f64 / 1000.0);
        let cleared = live.storage.lock().expect("storage lock").clear_alarm();
        let info = AlarmInfo {
            retry_count,
            is_retry: retry_count > 0,
            scheduled_ms,
        };
        let result = match (cleared, self.instance(live).await) {
            (Err(e), _) => Err(anyhow::Error::from(e)),
            (_, Err(e)) => Err(e),
            (Ok(()), Ok(instance)) => match instance
                .alarm(info, self.chain_through(&Default::default()))
                .await
            {
                Ok(AlarmResult::Done) => Ok(()),
                Ok(AlarmResult::NoHandler) => {
                    tracing::warn!(namespace = %self.namespace.name, object = %self.info.id_text,
                        "Attempted to run a scheduled alarm without a handler: the object does not export wdo:object/alarm-handler; the alarm is dropped");
                    Ok(())
                }
                Ok(AlarmResult::Failed(message)) => Err(anyhow::anyhow!(
                    "the alarm handler returned an error: {message}"
                )),
                Err(e) => Err(e),
            },
        };
        let succeeded = self.end_turn(live, result).is_ok();
        let outcome = if succeeded { "success" } else { "failure" };
        metrics
            .alarms_fired
            .get_or_create(&crate::metrics::AlarmLabels {
                namespace: label.namespace.clone(),
                outcome,
            })
            .inc();
        if succeeded {
            AlarmOutcome::Ran {
                scheduled_ms,
                retry_count,
            }
        } else {
            AlarmOutcome::Failed {
                scheduled_ms,
                retry_count,
            }
        }
    }

    /// Before the commit: if the batch leaves a new alarm time, the index gets it first (with
    /// fsync), so a crash right after the commit cannot lose the alarm. Returns the alarm as
    /// the batch leaves it, or `None` if the batch cannot have changed it.
    ///
    /// An error (the alarm row cannot be read, or the index cannot be written durably) fails
    /// the batch: committing an alarm the index does not know would lose it at a restart.
    pub(super) async fn alarm_before_commit(
        &self,
        live: &mut Live,
        had_alarm_event: bool,
    ) -> Result<Option<Option<u64>>, String> {
        let row = {
            let mut storage = live.storage.lock().expect("storage lock");
            if !storage.take_alarm_touched() && !had_alarm_event {
                return Ok(None);
            }
            storage.read_alarm()
        };
        let row = row.map_err(|e| format!("cannot read the alarm: {e}"))?;
        if let Some(t) = row.filter(|_| row != live.known_alarm) {
            self.write_index(Some(AlarmEntry::new(t)), true).await?;
        }
        Ok(Some(row))
    }

    /// After a successful commit: the index and the scheduler get the alarm the object now
    /// has, or its retry after a failed handler, or lose it.
    pub(super) async fn alarm_after_commit(
        &self,
        live: &mut Live,
        row: Option<Option<u64>>,
        outcomes: &[AlarmOutcome],
    ) {
        let Some(row) = row else { return };
        let mut desired = row.map(AlarmEntry::new);
        if let Some(AlarmOutcome::Failed {
            scheduled_ms,
            retry_count,
        }) = outcomes.last().copied()
        {
            // The failed turn was rolled back, so the row still holds that alarm.
            if row == Some(scheduled_ms) {
                desired = self.retry_or_drop(live, scheduled_ms, retry_count).await;
            }
        }
        self.install(live, desired).await;
    }

    /// After a failed commit nothing of the batch happened: alarms that ran are retried.
    pub(super) async fn alarm_after_failed_commit(
        &self,
        live: &mut Live,
        outcomes: &[AlarmOutcome],
    ) {
        let last = outcomes.iter().rev().find_map(|outcome| match *outcome {
            AlarmOutcome::Ran {
                scheduled_ms,
                retry_count,
            }
            | AlarmOutcome::Failed {
                scheduled_ms,
                retry_count,
            } => Some((scheduled_ms, retry_count)),
            AlarmOutcome::Skipped => None,
        });
        if let Some((scheduled_ms, retry_count)) =
            last.filter(|(t, _)| live.known_alarm == Some(*t))
        {
            let desired = self.retry_or_drop(live, scheduled_ms, retry_count).await;
            self.install(live, desired).await;
        }
    }

    /// The next try of a failed alarm, or `None` after it was dropped for failing too often.
    async fn retry_or_drop(
        &self,
        live: &mut Live,
        scheduled_ms: u64,
        retry_count: u32,
    ) -> Option<AlarmEntry> {
        let next = retry_count + 1;
        if next <= MAX_RETRIES {
            let delay = retry_delay(
                self.registry.config.alarm_retry_base,
                next,
                rand::rng().random(),
            );
            let now = self.registry.scheduler.clock.now_ms();
            return Some(AlarmEntry {
                scheduled_ms,
                due_ms: now + delay.as_millis() as u64,
                retry_count: next,
            });
        }
        tracing::warn!(namespace = %self.namespace.name, object = %self.info.id_text, scheduled_ms,
            "alarm dropped after failing {} times ({} retries)", next, MAX_RETRIES);
        self.registry
            .metrics
            .alarms_dropped
            .get_or_create(&ns(&self.namespace.name))
            .inc();
        let storage = live.storage.clone();
        let sink = self.sink(live);
        let cleared = tokio::task::spawn_blocking(move || {
            let mut storage = storage.lock().expect("storage lock");
            let result = storage
                .begin_batch()
                .and_then(|()| storage.clear_alarm())
                .and_then(|()| storage.commit_batch());
            // Full durability commits without a sync: make the deletion durable here.
            let synced = match &result {
                Ok(()) => super::output_gate::log_blocking(&sink, &mut storage),
                Err(_) => Ok(()),
            };
            if result.is_err() {
                storage.rollback_batch();
            }
            storage.take_alarm_touched();
            (result.map_err(|e| e.to_string()), synced)
        })
        .await;
        match cleared {
            Ok((_, Err(e))) => {
                live.failed = Some(format!(
                    "its writes could not be made durable (deleting a dropped alarm): {e}"
                ))
            }
            Ok((Err(e), Ok(()))) => {
                tracing::error!(namespace = %self.namespace.name, object = %self.info.id_text, "cannot delete the dropped alarm: {e}")
            }
            Err(e) => {
                tracing::error!(namespace = %self.namespace.name, object = %self.info.id_text, "deleting the dropped alarm panicked: {e}")
            }
            Ok((Ok(()), Ok(()))) => {}
        }
        None
    }

    /// Makes the index and the scheduler hold `desired`.
    pub(super) async fn install(&self, live: &mut Live, desired: Option<AlarmEntry>) {
        // After the commit: a failure is logged (a stale index entry only makes an alarm
        // fire spuriously, and the object then finds none due).
        let _ = self.write_index(desired, false).await;
        let scheduler = &self.registry.scheduler;
        match desired {
            Some(entry) => scheduler.schedule(self.key, self.info.name.clone(), entry),
            None => scheduler.cancel(self.key),
        }
        live.known_alarm = desired.map(|e| e.scheduled_ms);
        let count = scheduler.count(self.key.0) as i64;
        self.registry
            .metrics
            .alarms_scheduled
            .get_or_create(&ns(&self.namespace.name))
            .set(count);
    }

    async fn write_index(&self, entry: Option<AlarmEntry>, durable: bool) -> Result<(), String> {
        if let Some(cluster) = self.registry.cluster() {
            // Cluster mode: the index is etcd's, so that another node fires the alarm if this
            // one dies.
            let name = self.info.name.as_deref();
            let due = entry.map(|e| e.due_ms);
            let id = self.info.id.as_bytes();
            return cluster
                .set_alarm(&self.namespace.name, id, name, due)
                .await
                .map_err(|e| {
                    tracing::error!(namespace = %self.namespace.name, object = %self.info.id_text, "cannot record the alarm in etcd: {e:#}");
                    e.to_string()
                });
        }
        let namespace = self.namespace.clone();
        let (id, name) = (self.info.id, self.info.name.clone());
        let written = tokio::task::spawn_blocking(move || match entry {
            Some(entry) => namespace
                .metadata
                .upsert_alarm(&id, name.as_deref(), &entry, durable),
            None => namespace.metadata.delete_alarm(&id),
        })
        .await;
        match written {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(e.to_string()),
            Err(e) => Err(e.to_string()),
        }
        .map_err(|e| {
            tracing::error!(namespace = %self.namespace.name, object = %self.info.id_text, "cannot update the alarm index: {e}");
            e
        })
    }
}
