//! Key-value operations on `_wdo_kv`. Keys are stored as BLOBs of their UTF-8 bytes, so
//! SQLite's memcmp order is UTF-8 byte order (which is Unicode code point order).

use std::time::Instant;

use rusqlite::{params, OptionalExtension};

use super::list::{entry_bytes, ENTRY_BYTES};
use super::{ObjectStorage, Result, StorageError};

impl ObjectStorage {
    pub fn get(&mut self, key: &str) -> Result<Option<Vec<u8>>> {
        self.check_open("get")?;
        self.check_key(key)?;
        self.get_one(key)
    }

    fn get_one(&self, key: &str) -> Result<Option<Vec<u8>>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT value FROM _wdo_kv WHERE key = ?1")?;
        Ok(stmt
            .query_row([key.as_bytes()], |row| row.get(0))
            .optional()?)
    }

    /// Present keys only, sorted by key bytes, each once.
    pub fn get_many(&mut self, keys: &[String]) -> Result<Vec<(String, Vec<u8>)>> {
        self.check_open("get")?;
        self.check_batch(keys.len())?;
        for key in keys {
            self.check_key(key)?;
        }
        let mut sorted: Vec<&String> = keys.iter().collect();
        sorted.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
        sorted.dedup();
        let mut out = Vec::with_capacity(sorted.len());
        let mut bytes = 0;
        let max = self.limits.max_read_bytes;
        for key in sorted {
            if let Some(value) = self.get_one(key)? {
                bytes += entry_bytes(key.as_bytes(), &value);
                if bytes > max {
                    return Err(StorageError::LimitExceeded(format!(
                        "the values of these keys are over the limit of {max} bytes for one \
                         call (keys and values, and {ENTRY_BYTES} bytes per entry); get fewer \
                         keys at once"
                    )));
                }
                out.push((key.clone(), value));
            }
        }
        Ok(out)
    }

    pub fn put(&mut self, key: &str, value: &[u8]) -> Result<()> {
        self.check_open("put")?;
        self.check_entry(key, value)?;
        self.put_one(key, value)
    }

    fn put_one(&self, key: &str, value: &[u8]) -> Result<()> {
        let mut stmt = self.conn.prepare_cached(
            "INSERT INTO _wdo_kv (key, value) VALUES (?1, ?2)
             ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        )?;
        stmt.execute(params![key.as_bytes(), value])?;
        Ok(())
    }

    /// All or nothing: every entry is checked before anything is written.
    pub fn put_many(&mut self, entries: &[(String, Vec<u8>)]) -> Result<()> {
        self.check_open("put")?;
        self.check_batch(entries.len())?;
        for (key, value) in entries {
            self.check_entry(key, value)?;
        }
        self.atomically(|s| {
            for (key, value) in entries {
                s.put_one(key, value)?;
            }
            Ok(())
        })
    }

    pub fn delete(&mut self, key: &str) -> Result<bool> {
        self.check_open("delete")?;
        self.check_key(key)?;
        self.delete_one(key)
    }

    fn delete_one(&self, key: &str) -> Result<bool> {
        let mut stmt = self
            .conn
            .prepare_cached("DELETE FROM _wdo_kv WHERE key = ?1")?;
        Ok(stmt.execute([key.as_bytes()])? > 0)
    }

    /// How many of the keys existed (a key named twice counts once).
    pub fn delete_many(&mut self, keys: &[String]) -> Result<u32> {
        self.check_open("delete")?;
        self.check_batch(keys.len())?;
        for key in keys {
            self.check_key(key)?;
        }
        self.atomically(|s| {
            let mut count = 0;
            for key in keys {
                count += u32::from(s.delete_one(key)?);
            }
            Ok(count)
        })
    }

    /// Deletes every key, every table, view and trigger of the guest's SQL and the alarm
    /// (as Cloudflare's SQLite-backed `deleteAll`), atomically. Refused inside an explicit
    /// transaction. The guest's schema is dropped first, under the guest's rules and
    /// `deadline` (see `drop_guest_schema`); the host's rows are cleared after it, so that
    /// nothing the drop did can remain in them.
    pub fn delete_all(&mut self, deadline: Option<Instant>) -> Result<()> {
        self.check_open("delete all")?;
        if self.in_transaction() {
            return Err(StorageError::InvalidArgument(
                "Cannot call delete-all within a transaction".into(),
            ));
        }
        self.atomically(|s| {
            s.drop_guest_schema(deadline)?;
            s.conn.execute("DELETE FROM _wdo_kv", [])?;
            s.clear_alarm()
        })
    }

    /// Runs `f` so that either all of its writes happen or none.
    fn atomically<T>(&mut self, f: impl FnOnce(&mut Self) -> Result<T>) -> Result<T> {
        self.conn.execute_batch("SAVEPOINT _wdo_batch")?;
        match f(self) {
            Ok(value) => {
                self.conn.execute_batch("RELEASE _wdo_batch")?;
                Ok(value)
            }
            Err(e) => {
                let _ = self
                    .conn
                    .execute_batch("ROLLBACK TO _wdo_batch; RELEASE _wdo_batch");
                Err(e)
            }
        }
    }

    pub(super) fn check_key(&self, key: &str) -> Result<()> {
        let max = self.limits.max_key_bytes;
        if key.len() > max {
            return Err(StorageError::LimitExceeded(format!(
                "Keys cannot be larger than {max} bytes. A key of size {} was provided.",
                key.len()
            )));
        }
        Ok(())
    }

    fn check_entry(&self, key: &str, value: &[u8]) -> Result<()> {
        self.check_key(key)?;
        let max = self.limits.max_value_bytes;
        if value.len() > max {
            return Err(StorageError::LimitExceeded(format!(
                "Values cannot be larger than {max} bytes. A value of size {} was provided for key {key:?}.",
                value.len()
            )));
        }
        Ok(())
    }

    fn check_batch(&self, count: usize) -> Result<()> {
        let max = self.limits.max_batch_keys;
        if count > max {
            return Err(StorageError::LimitExceeded(format!(
                "Maximum number of keys in one call is {max}. {count} keys were provided."
            )));
        }
        Ok(())
    }
}
