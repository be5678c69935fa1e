//! Operator requests on one object (the admin API's): read or change its database, its
//! alarm, copy it out or replace it. They reach the object as [`Event::Admin`] and run in its
//! serial order like any event, between batches and after everything committed before them
//! is durable, so they never see a half-written state nor race the guest. They open the
//! object's storage but create no instance; one that changed the data discards the instance,
//! whose memory may reflect the old data.

use std::path::PathBuf;

use serde_json::{json, Value};
use tokio::sync::oneshot;

use super::actor::{Actor, Live};
use super::event::Event;
use super::namespace::Namespace;
use super::output_gate::Settled;
use crate::alarms::AlarmEntry;
use crate::commit_log::{Body, Record};
use crate::ids::ObjectId;
use crate::storage::{
    replace_database, AdminRows, ListOptions, ObjectStorage, SqlValue, StorageError,
};

/// What an operator asks of one object.
#[derive(Debug)]
pub enum AdminRequest {
    /// Key-value entries in key order, after `start_after`, with `prefix`.
    KvList {
        prefix: Option<String>,
        start_after: Option<String>,
        limit: u32,
    },
    KvGet {
        key: String,
    },
    KvPut {
        key: String,
        value: Vec<u8>,
    },
    KvDelete {
        key: String,
    },
    Tables,
    Rows {
        table: String,
        offset: u64,
        limit: usize,
    },
    /// One SQL statement; a write only with `write`. `who` is for the log.
    Sql {
        sql: String,
        write: bool,
        max_rows: usize,
        who: String,
    },
    GetAlarm,
    SetAlarm {
        scheduled_ms: u64,
    },
    DeleteAlarm,
    /// Runs the alarm handler now if the object has an alarm.
    RunAlarm,
    /// A consistent copy of the database into `to` (which must not exist).
    Export {
        to: PathBuf,
    },
    /// Replaces the database by `from`, a file checked by `storage::prepare_import`.
    Import {
        from: PathBuf,
    },
    /// Replaces the database by an empty one and removes the alarm.
    DeleteData,
}

/// Why an admin request failed.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("{0}")]
    BadInput(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Failed(String),
    /// The object could not open its database again and stops; its next event opens it.
    #[error("{0}")]
    Stopped(String),
}

/// The most bytes of entries (keys, values and per-entry overhead) one admin KV page holds.
const KV_PAGE_BYTES: usize = 16 << 20;
impl From<StorageError> for AdminError {
    fn from(e: StorageError) -> Self {
        match e {
            StorageError::InvalidArgument(m) => AdminError::BadInput(m),
            e => AdminError::Failed(e.to_string()),
        }
    }
}

pub type AdminReply = oneshot::Sender<Result<Value, AdminError>>;

impl Event {
    /// An admin request and the channel its answer goes to.
    pub fn admin(request: AdminRequest) -> (Event, oneshot::Receiver<Result<Value, AdminError>>) {
        let (reply, answer) = oneshot::channel();
        (Event::Admin { request, reply }, answer)
    }
}

impl Namespace {
    /// The object's database file.
    pub fn object_path(&self, id: &ObjectId) -> PathBuf {
        self.dir.join(format!("{id}.sqlite"))
    }
}

impl Actor {
    /// Runs one admin request in the object's serial order (see the module doc). False if
    /// the object must stop.
    pub(super) async fn admin(
        &self,
        live: &mut Live,
        request: AdminRequest,
        reply: AdminReply,
    ) -> bool {
        if !self.wait_durable(live).await {
            let _ = reply.send(Err(AdminError::Failed(
                "the object's last writes could not be made durable".into(),
            )));
            return false;
        }
        let answer = self.admin_request(live, request).await;
        let healthy = !matches!(answer, Err(AdminError::Stopped(_)));
        let _ = reply.send(answer);
        healthy
    }

    async fn admin_request(
        &self,
        live: &mut Live,
        request: AdminRequest,
    ) -> Result<Value, AdminError> {
        match request {
            AdminRequest::KvList {
                prefix,
                start_after,
                limit,
            } => {
                let options = ListOptions {
                    prefix,
                    start_after,
                    limit: Some(limit + 1),
                    ..ListOptions::default()
                };
                // A page stops early at 16 MiB of entries (its JSON is at most about twice
                // that), with a cursor, rather than failing on large values.
                let (mut entries, stopped) =
                    self.read(live, |s| s.list_page(&options, KV_PAGE_BYTES))?;
                let more = stopped || entries.len() > limit as usize;
                entries.truncate(limit as usize);
                let cursor = more
                    .then(|| entries.last().map(|(k, _)| k.clone()))
                    .flatten();
                let entries: Vec<Value> = entries
                    .into_iter()
                    .map(|(key, value)| {
                        let mut entry = bytes_json(&value);
                        entry["key"] = json!(key);
                        entry
                    })
                    .collect();
                Ok(json!({ "entries": entries, "cursor": cursor }))
            }
            AdminRequest::KvGet { key } => match self.read(live, |s| s.get(&key))? {
                Some(value) => {
                    let mut entry = bytes_json(&value);
                    entry["key"] = json!(key);
                    Ok(entry)
                }
                None => Err(AdminError::NotFound(format!(
                    "no key {key:?} in this object"
                ))),
            },
            AdminRequest::KvPut { key, value } => {
                self.write(live, |s| s.put(&key, &value)).await?;
                Ok(json!({ "key": key, "size": value.len() }))
            }
            AdminRequest::KvDelete { key } => {
                let deleted = self.write(live, |s| s.delete(&key)).await?;
                Ok(json!({ "key": key, "deleted": deleted }))
            }
            AdminRequest::Tables => {
                let tables = self.read(live, |s| s.admin_tables())?;
                let tables: Vec<Value> = tables
                    .into_iter()
                    .map(|t| json!({"name": t.name, "rows": t.rows, "internal": t.internal}))
                    .collect();
                Ok(json!({ "tables": tables }))
            }
            AdminRequest::Rows {
                table,
                offset,
                limit,
            } => {
                let rows = self.read(live, |s| s.admin_rows(&table, offset, limit))?;
                let next = rows.truncated.then_some(offset + limit as u64);
                let mut out = rows_json(rows);
                out["nextOffset"] = json!(next);
                Ok(out)
            }
            AdminRequest::Sql {
                sql,
                write,
                max_rows,
                who,
            } => {
                tracing::info!(namespace = %self.namespace.name, object = %self.info.id_text, who, write, "admin SQL: {sql}");
                let rows = if write {
                    self.write(live, |s| s.admin_sql(&sql, true, max_rows))
                        .await?
                } else {
                    self.read(live, |s| s.admin_sql(&sql, false, max_rows))?
                };
                Ok(rows_json(rows))
            }
            AdminRequest::GetAlarm => {
                let alarm = self.read(live, |s| s.read_alarm())?;
                Ok(json!({ "scheduledMs": alarm }))
            }
            AdminRequest::SetAlarm { scheduled_ms } => {
                self.write(live, |s| s.set_alarm(scheduled_ms)).await?;
                Ok(json!({ "scheduledMs": scheduled_ms }))
            }
            AdminRequest::DeleteAlarm => {
                let had = self.read(live, |s| s.read_alarm())?;
                self.write(live, |s| s.delete_alarm()).await?;
                Ok(json!({ "deleted": had.is_some() }))
            }
            AdminRequest::RunAlarm => self.run_alarm_now(live).await,
            AdminRequest::Export { to } => {
                let storage = live.storage.clone();
                let target = to.clone();
                let exported = tokio::task::spawn_blocking(move || {
                    storage.lock().expect("storage lock").export_to(&target)
                })
                .await
                .map_err(|e| AdminError::Failed(e.to_string()))?;
                exported?;
                Ok(json!({ "path": to }))
            }
            AdminRequest::Import { from } => {
                self.swap_database(live, Some(from)).await?;
                Ok(json!({ "imported": true }))
            }
            AdminRequest::DeleteData => {
                self.swap_database(live, None).await?;
                Ok(json!({ "deleted": true }))
            }
        }
    }

    fn read<T>(
        &self,
        live: &mut Live,
        f: impl FnOnce(&mut ObjectStorage) -> Result<T, StorageError>,
    ) -> Result<T, AdminError> {
        let mut storage = live.storage.lock().expect("storage lock");
        Ok(f(&mut storage)?)
    }

    /// Runs `f` in a transaction of its own, committed through the output gate like a
    /// batch (the alarm index follows the alarm row), and waits until it is durable.
    async fn write<T>(
        &self,
        live: &mut Live,
        f: impl FnOnce(&mut ObjectStorage) -> Result<T, StorageError>,
    ) -> Result<T, AdminError> {
        let value = {
            let mut storage = live.storage.lock().expect("storage lock");
            storage.begin_batch()?;
            match f(&mut storage) {
                Ok(value) => value,
                Err(e) => {
                    storage.rollback_batch();
                    return Err(e.into());
                }
            }
        };
        live.instance = None;
        let new_alarm = match self.alarm_before_commit(live, true).await {
            Ok(new_alarm) => new_alarm,
            Err(e) => {
                live.storage.lock().expect("storage lock").rollback_batch();
                return Err(AdminError::Failed(format!(
                    "the alarm index could not be written, nothing was changed: {e}"
                )));
            }
        };
        let (wrote, committed) = {
            let mut storage = live.storage.lock().expect("storage lock");
            let wrote = storage.batch_wrote();
            let committed = storage.commit_batch();
            if committed.is_err() {
                storage.rollback_batch();
            }
            (wrote, committed)
        };
        committed?;
        let settled = Settled {
            new_alarm,
            ..Settled::default()
        };
        self.settle(live, wrote, settled).await;
        if !self.wait_durable(live).await {
            return Err(AdminError::Failed(
                "the write was committed but its fsync failed".into(),
            ));
        }
        Ok(value)
    }

    /// Makes the alarm due now and runs it as the scheduler would.
    async fn run_alarm_now(&self, live: &mut Live) -> Result<Value, AdminError> {
        let Some(scheduled_ms) = self.read(live, |s| s.read_alarm())? else {
            return Ok(json!({ "ran": false, "reason": "the object has no alarm" }));
        };
        let now = self.registry.scheduler.clock.now_ms();
        if scheduled_ms > now {
            self.write(live, |s| s.set_alarm(now)).await?;
        }
        let entry = AlarmEntry::new(scheduled_ms.min(now));
        let mut batch = vec![Event::Alarm { entry }];
        if !self.run_batch(live, &mut batch, false).await || !self.wait_durable(live).await {
            return Err(AdminError::Failed(
                "the alarm ran but its writes could not be made durable".into(),
            ));
        }
        let after = self.read(live, |s| s.read_alarm())?;
        Ok(json!({ "ran": true, "scheduledMs": scheduled_ms, "alarmAfter": after }))
    }

    /// Closes the database, puts `source` (or nothing: an empty database) in its place,
    /// opens it again and makes the alarm index follow the new alarm row.
    async fn swap_database(
        &self,
        live: &mut Live,
        source: Option<PathBuf>,
    ) -> Result<(), AdminError> {
        live.instance = None;
        let storage = live.storage.clone();
        let path = self.storage_path();
        let durability = self.namespace.config.durability;
        let limits = self.namespace.limits;
        let failed =
            |what: &str, e: &dyn std::fmt::Display| AdminError::Failed(format!("{what}: {e}"));
        let logged = live.storage.lock().expect("storage lock").syncs_apart();
        if source.is_some() || logged {
            // Nothing of the old data is needed, but a failed swap must leave it whole: the
            // database file alone then holds it, synced.
            let storage = live.storage.clone();
            tokio::task::spawn_blocking(move || {
                storage.lock().expect("storage lock").checkpoint_truncate()
            })
            .await
            .map_err(|e| failed("cannot checkpoint", &e))?
            .map_err(|e| failed("cannot checkpoint", &e))?;
        }
        if logged {
            // The object's frames in the commit log are void from here: recovery must not put
            // them back beside the new file (or the empty place).
            let ticket = self.registry.log.append(Record {
                object: self.log_key(),
                body: Body::Reset,
            });
            let (result, _) = ticket.await.unwrap_or_else(|_| {
                (
                    Err(std::io::Error::other("the commit log stopped")),
                    Default::default(),
                )
            });
            result.map_err(|e| failed("cannot record the replacement in the commit log", &e))?;
        }
        let swapped = tokio::task::spawn_blocking(move || -> Result<Option<u64>, AdminError> {
            let mut storage = storage.lock().expect("storage lock");
            let failed =
                |what: &str, e: &dyn std::fmt::Display| AdminError::Failed(format!("{what}: {e}"));
            let placeholder =
                ObjectStorage::open_in_memory(limits).map_err(|e| failed("cannot close", &e))?;
            drop(std::mem::replace(&mut *storage, placeholder));
            let replaced = replace_database(&path, source.as_deref());
            // Whatever happened, the object gets a database back: the new one or the old one.
            match ObjectStorage::open(&path, durability, limits) {
                Ok(reopened) => *storage = reopened,
                Err(e) => {
                    return Err(AdminError::Stopped(format!(
                        "cannot open the database again, the object stops: {e}"
                    )))
                }
            }
            replaced.map_err(|e| failed("cannot replace the database file", &e))?;
            storage
                .read_alarm()
                .map_err(|e| failed("cannot read the alarm", &e))
        })
        .await
        .map_err(|e| AdminError::Failed(e.to_string()))??;
        self.install(live, swapped.map(AlarmEntry::new)).await;
        Ok(())
    }
}

/// A value as JSON: text if it is UTF-8, hex otherwise.
fn bytes_json(value: &[u8]) -> Value {
    match std::str::from_utf8(value) {
        Ok(text) => json!({ "value": text, "size": value.len() }),
        Err(_) => json!({ "valueHex": hex::encode(value), "size": value.len() }),
    }
}

fn rows_json(rows: AdminRows) -> Value {
    let values: Vec<Vec<Value>> = rows
        .rows
        .into_iter()
        .map(|row| row.into_iter().map(sql_json).collect())
        .collect();
    json!({
        "columns": rows.columns,
        "rows": values,
        "truncated": rows.truncated,
        "changes": rows.changes,
    })
}

fn sql_json(value: SqlValue) -> Value {
    match value {
        SqlValue::Null => Value::Null,
        SqlValue::Integer(v) => json!(v),
        SqlValue::Real(v) => json!(v),
        SqlValue::Text(v) => json!(v),
        SqlValue::Blob(v) => json!({ "blobHex": hex::encode(v) }),
    }
}
