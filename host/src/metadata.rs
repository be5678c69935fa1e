//! `<data-dir>/<namespace>/metadata.sqlite`: the namespace's id key and its id → name map
//! (and, with alarms, their index).

use std::path::Path;
use std::sync::Mutex;

use rusqlite::{params, Connection, OptionalExtension};

use crate::alarms::AlarmEntry;
use crate::ids::{IdKey, ObjectId};

pub struct Metadata {
    conn: Mutex<Connection>,
    /// The namespace's directory, which holds `metadata.sqlite`.
    dir: std::path::PathBuf,
}

impl Metadata {
    pub fn open(dir: &Path) -> rusqlite::Result<Metadata> {
        crate::storage::configure_sqlite();
        let conn = Connection::open(dir.join("metadata.sqlite"))?;
        // The map can be rebuilt from the object files' names only with effort, but losing
        // its last entries on power loss is harmless: they are written again on activation.
        conn.execute_batch(
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=5000;
             CREATE TABLE IF NOT EXISTS _wdo_namespace (key TEXT PRIMARY KEY NOT NULL, value BLOB NOT NULL);
             CREATE TABLE IF NOT EXISTS _wdo_objects (
                 id TEXT PRIMARY KEY NOT NULL, name TEXT, created_ms INTEGER NOT NULL);
             CREATE TABLE IF NOT EXISTS _wdo_alarms (
                 id TEXT PRIMARY KEY NOT NULL, name TEXT, scheduled_ms INTEGER NOT NULL,
                 due_ms INTEGER NOT NULL, retry_count INTEGER NOT NULL);",
        )?;
        Ok(Metadata {
            conn: Mutex::new(conn),
            dir: dir.to_owned(),
        })
    }

    /// The namespace's id key, generated and stored on first use.
    pub fn id_key(&self) -> rusqlite::Result<IdKey> {
        let conn = self.conn.lock().expect("metadata lock");
        let stored: Option<Vec<u8>> = conn
            .query_row(
                "SELECT value FROM _wdo_namespace WHERE key = 'id-key'",
                [],
                |row| row.get(0),
            )
            .optional()?;
        if let Some(key) = stored.as_deref().and_then(IdKey::from_bytes) {
            return Ok(key);
        }
        // Every id derived from a name depends on this key: it is durable (the commit synced,
        // and the directory that holds the new file) before any object can use it.
        let key = IdKey::generate();
        conn.execute_batch("PRAGMA synchronous=FULL")?;
        let inserted = conn.execute(
            "INSERT OR REPLACE INTO _wdo_namespace (key, value) VALUES ('id-key', ?1)",
            [key.as_bytes().as_slice()],
        );
        conn.execute_batch("PRAGMA synchronous=NORMAL")?;
        inserted?;
        crate::storage::durable_fs::sync_dir(&self.dir).map_err(|e| {
            rusqlite::Error::SqliteFailure(
                rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_IOERR_DIR_FSYNC),
                Some(format!("cannot sync {}: {e}", self.dir.display())),
            )
        })?;
        Ok(key)
    }

    /// Replaces the namespace's id key (cluster mode: the key the cluster agreed on). Blocking.
    pub fn set_id_key(&self, key: &IdKey) -> rusqlite::Result<()> {
        let conn = self.conn.lock().expect("metadata lock");
        conn.execute_batch("PRAGMA synchronous=FULL")?;
        let replaced = conn.execute(
            "INSERT OR REPLACE INTO _wdo_namespace (key, value) VALUES ('id-key', ?1)",
            [key.as_bytes().as_slice()],
        );
        conn.execute_batch("PRAGMA synchronous=NORMAL")?;
        replaced.map(drop)
    }

    /// Remembers that an object exists (and its name). Blocking.
    pub fn record_object(&self, id: &ObjectId, name: Option<&str>) -> rusqlite::Result<()> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        let conn = self.conn.lock().expect("metadata lock");
        conn.prepare_cached(
            "INSERT INTO _wdo_objects (id, name, created_ms) VALUES (?1, ?2, ?3)
             ON CONFLICT(id) DO UPDATE SET name = coalesce(_wdo_objects.name, excluded.name)",
        )?
        .execute(params![id.to_string(), name, now])?;
        Ok(())
    }

    /// Records when an object's alarm is due. `durable` makes this commit fsync: an alarm
    /// that an object is about to commit must not be forgotten by a power loss.
    pub fn upsert_alarm(
        &self,
        id: &ObjectId,
        name: Option<&str>,
        entry: &AlarmEntry,
        durable: bool,
    ) -> rusqlite::Result<()> {
        let conn = self.conn.lock().expect("metadata lock");
        if durable {
            conn.execute_batch("PRAGMA synchronous=FULL")?;
        }
        let result = conn
            .prepare_cached(
                "INSERT INTO _wdo_alarms (id, name, scheduled_ms, due_ms, retry_count) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT(id) DO UPDATE SET name = coalesce(excluded.name, _wdo_alarms.name),
                     scheduled_ms = excluded.scheduled_ms, due_ms = excluded.due_ms, retry_count = excluded.retry_count",
            )
            .and_then(|mut stmt| {
                stmt.execute(params![id.to_string(), name, entry.scheduled_ms as i64, entry.due_ms as i64, entry.retry_count])
            });
        if durable {
            conn.execute_batch("PRAGMA synchronous=NORMAL")?;
        }
        result.map(|_| ())
    }

    pub fn delete_alarm(&self, id: &ObjectId) -> rusqlite::Result<()> {
        let conn = self.conn.lock().expect("metadata lock");
        conn.prepare_cached("DELETE FROM _wdo_alarms WHERE id = ?1")?
            .execute([id.to_string()])?;
        Ok(())
    }

    /// After a restore: the objects (id text, alarm) are the namespace's; each is known, and
    /// the alarm index is exactly their alarms (due when set, no retries). Blocking.
    pub fn rebuild(&self, objects: &[(String, Option<u64>)]) -> rusqlite::Result<()> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        let mut conn = self.conn.lock().expect("metadata lock");
        let tx = conn.transaction()?;
        tx.execute("DELETE FROM _wdo_alarms", [])?;
        for (id, alarm) in objects {
            tx.execute(
                "INSERT OR IGNORE INTO _wdo_objects (id, name, created_ms) VALUES (?1, NULL, ?2)",
                params![id, now],
            )?;
            if let Some(ms) = alarm {
                tx.execute(
                    "INSERT INTO _wdo_alarms (id, name, scheduled_ms, due_ms, retry_count)
                     SELECT ?1, name, ?2, ?2, 0 FROM _wdo_objects WHERE id = ?1",
                    params![id, *ms as i64],
                )?;
            }
        }
        tx.commit()
    }

    /// Every alarm of the namespace: (id, name, entry).
    pub fn alarms(&self) -> rusqlite::Result<Vec<(String, Option<String>, AlarmEntry)>> {
        let conn = self.conn.lock().expect("metadata lock");
        let mut stmt =
            conn.prepare("SELECT id, name, scheduled_ms, due_ms, retry_count FROM _wdo_alarms")?;
        let rows = stmt.query_map([], |row| {
            Ok((
                row.get(0)?,
                row.get(1)?,
                AlarmEntry {
                    scheduled_ms: row.get::<_, i64>(2)? as u64,
                    due_ms: row.get::<_, i64>(3)? as u64,
                    retry_count: row.get(4)?,
                },
            ))
        })?;
        rows.collect()
    }

    /// Up to `limit` known objects after the id `after`, in id order: (id, name, created ms).
    pub fn objects_page(
        &self,
        after: Option<&str>,
        name_contains: Option<&str>,
        limit: usize,
    ) -> rusqlite::Result<Vec<(String, Option<String>, i64)>> {
        let conn = self.conn.lock().expect("metadata lock");
        // `instr` rather than LIKE: a plain, case-sensitive substring, with no wildcard to
        // escape; an object known only by id has no name and never matches a filter.
        let mut stmt = conn.prepare_cached(
            "SELECT id, name, created_ms FROM _wdo_objects
             WHERE id > ?1 AND (?3 IS NULL OR instr(name, ?3) > 0) ORDER BY id LIMIT ?2",
        )?;
        let rows = stmt.query_map(
            params![after.unwrap_or(""), limit as i64, name_contains],
            |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
        )?;
        rows.collect()
    }

    /// Every known object: (id, name).
    pub fn objects(&self) -> rusqlite::Result<Vec<(String, Option<String>)>> {
        let conn = self.conn.lock().expect("metadata lock");
        let mut stmt = conn.prepare("SELECT id, name FROM _wdo_objects ORDER BY id")?;
        let rows = stmt.query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?;
        rows.collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_id_key_is_generated_once_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let first = Metadata::open(dir.path()).unwrap().id_key().unwrap();
        let again = Metadata::open(dir.path()).unwrap().id_key().unwrap();
        assert_eq!(first.as_bytes(), again.as_bytes());
    }

    #[test]
    fn the_alarm_index_is_upserted_listed_and_deleted() {
        let dir = tempfile::tempdir().unwrap();
        let meta = Metadata::open(dir.path()).unwrap();
        let id = meta.id_key().unwrap().id_from_name("q");
        let entry = AlarmEntry {
            scheduled_ms: 5,
            due_ms: 7,
            retry_count: 1,
        };
        meta.upsert_alarm(&id, Some("q"), &entry, true).unwrap();
        let later = AlarmEntry {
            scheduled_ms: 9,
            due_ms: 9,
            retry_count: 0,
        };
        meta.upsert_alarm(&id, None, &later, false).unwrap();
        assert_eq!(
            meta.alarms().unwrap(),
            vec![(id.to_string(), Some("q".to_string()), later)]
        );
        meta.delete_alarm(&id).unwrap();
        assert!(meta.alarms().unwrap().is_empty());
    }

    #[test]
    fn a_page_of_objects_can_be_filtered_by_a_part_of_their_names() {
        let dir = tempfile::tempdir().unwrap();
        let meta = Metadata::open(dir.path()).unwrap();
        let key = meta.id_key().unwrap();
        for name in ["room-a", "room-b", "Room-c", "lobby"] {
            meta.record_object(&key.id_from_name(name), Some(name))
                .unwrap();
        }
        meta.record_object(&key.new_unique_id(), None).unwrap();
        let names = |after: Option<&str>, filter: Option<&str>, limit: usize| {
            meta.objects_page(after, filter, limit)
                .unwrap()
                .into_iter()
                .map(|(id, name, _)| (id, name.unwrap_or_default()))
                .collect::<Vec<_>>()
        };
        let mut rooms: Vec<String> = names(None, Some("room"), 10)
            .into_iter()
            .map(|(_, name)| name)
            .collect();
        rooms.sort();
        assert_eq!(rooms, ["room-a", "room-b"]);
        assert_eq!(names(None, None, 10).len(), 5);
        assert!(names(None, Some("nothing"), 10).is_empty());
        // Paged by id under the filter: the second page starts after the first's last id.
        let first = names(None, Some("o"), 2);
        let second = names(Some(&first[1].0), Some("o"), 10);
        assert_eq!(first.len() + second.len(), 4);
        assert!(second.iter().all(|(id, _)| *id > first[1].0));
    }

    #[test]
    fn objects_are_recorded_with_their_names() {
        let dir = tempfile::tempdir().unwrap();
        let meta = Metadata::open(dir.path()).unwrap();
        let key = meta.id_key().unwrap();
        let id = key.id_from_name("room");
        meta.record_object(&id, Some("room")).unwrap();
        meta.record_object(&id, None).unwrap();
        assert_eq!(
            meta.objects().unwrap(),
            vec![(id.to_string(), Some("room".to_string()))]
        );
    }
}
