//! `<data-dir>/<namespace>/metadata.sqlite`: the namespace's id key and its id → name map
//! (and, with alarms, their index).

use std::path::Path;
use std::sync::Mutex;

use rusqlite::{params, Connection, OptionalExtension};

use crate::ids::{IdKey, ObjectId};

pub struct Metadata {
    conn: Mutex<Connection>,
}

impl Metadata {
    pub fn open(dir: &Path) -> rusqlite::Result<Metadata> {
        let conn = Connection::open(dir.join("metadata.sqlite"))?;
        // The map can be rebuilt from the object files' names only with effort, but losing
        // its last entries on power loss is harmless: they are written again on activation.
        conn.execute_batch(
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=5000;
             CREATE TABLE IF NOT EXISTS _wdo_namespace (key TEXT PRIMARY KEY NOT NULL, value BLOB NOT NULL);
             CREATE TABLE IF NOT EXISTS _wdo_objects (
                 id TEXT PRIMARY KEY NOT NULL, name TEXT, created_ms INTEGER NOT NULL);",
        )?;
        Ok(Metadata {
            conn: Mutex::new(conn),
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
        let key = IdKey::generate();
        conn.execute(
            "INSERT OR REPLACE INTO _wdo_namespace (key, value) VALUES ('id-key', ?1)",
            [key.as_bytes().as_slice()],
        )?;
        Ok(key)
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
