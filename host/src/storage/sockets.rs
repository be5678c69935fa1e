//! Cluster mode: the object's sockets as it last committed them, `_wdo_sockets` (one row
//! per socket: its id, tags and attachment), written in the same transaction as the batch
//! that changed them, so that they travel with the object's replicated commits and a node
//! that takes the object over knows which sockets died with the old one
//! (`websocket/survivors.rs`). The table exists only in objects that ever recorded a socket.

use rusqlite::OptionalExtension;

use super::{ObjectStorage, Result};

/// A recorded socket: its id, tags and attachment.
pub type SocketRecord = (u64, Vec<String>, Option<Vec<u8>>);

const SOCKETS_SCHEMA: &str = "CREATE TABLE IF NOT EXISTS _wdo_sockets (
    id INTEGER PRIMARY KEY, tags TEXT NOT NULL, attachment BLOB);";

impl ObjectStorage {
    /// Replaces the recorded sockets with `sockets`, in the open batch.
    pub fn record_sockets(&mut self, sockets: &[SocketRecord]) -> Result<()> {
        if sockets.is_empty() && !self.has_socket_table()? {
            return Ok(());
        }
        self.conn.execute_batch(SOCKETS_SCHEMA)?;
        self.conn.execute("DELETE FROM _wdo_sockets", [])?;
        let mut insert = self.conn.prepare_cached(
            "INSERT INTO _wdo_sockets (id, tags, attachment) VALUES (?1, ?2, ?3)",
        )?;
        for (id, tags, attachment) in sockets {
            let tags = serde_json::to_string(tags).expect("strings serialize");
            insert.execute(rusqlite::params![*id as i64, tags, attachment])?;
        }
        Ok(())
    }

    /// The sockets the object last committed, oldest first.
    pub fn recorded_sockets(&self) -> Result<Vec<SocketRecord>> {
        if !self.has_socket_table()? {
            return Ok(Vec::new());
        }
        let mut select = self
            .conn
            .prepare_cached("SELECT id, tags, attachment FROM _wdo_sockets ORDER BY id")?;
        let rows = select.query_map([], |row| {
            let tags: String = row.get(1)?;
            Ok((row.get::<_, i64>(0)? as u64, tags, row.get(2)?))
        })?;
        let mut sockets = Vec::new();
        for row in rows {
            let (id, tags, attachment) = row?;
            // Written by this module only; a row it cannot read has no tags.
            let tags = serde_json::from_str(&tags).unwrap_or_default();
            sockets.push((id, tags, attachment));
        }
        Ok(sockets)
    }

    fn has_socket_table(&self) -> Result<bool> {
        let found = self
            .conn
            .prepare_cached("SELECT 1 FROM sqlite_schema WHERE name = '_wdo_sockets'")?
            .query_row([], |_| Ok(()))
            .optional()?;
        Ok(found.is_some())
    }
}

#[cfg(test)]
mod tests {
    use crate::storage::{Limits, ObjectStorage};

    #[test]
    fn recorded_sockets_are_replaced_as_a_whole_and_roll_back_with_their_batch() {
        let mut storage = ObjectStorage::open_in_memory(Limits::default()).unwrap();
        assert_eq!(storage.recorded_sockets().unwrap(), vec![]);
        storage.begin_batch().unwrap();
        storage.record_sockets(&[]).unwrap();
        assert!(
            !storage.batch_wrote(),
            "no table for an object with no sockets"
        );
        let a = (
            7,
            vec!["room".to_owned(), "x".to_owned()],
            Some(b"att".to_vec()),
        );
        let b = (9, vec![], None);
        storage.record_sockets(&[a.clone(), b.clone()]).unwrap();
        storage.commit_batch().unwrap();
        assert_eq!(storage.recorded_sockets().unwrap(), vec![a.clone(), b]);
        storage.begin_batch().unwrap();
        storage.record_sockets(&[a.clone()]).unwrap();
        storage.commit_batch().unwrap();
        assert_eq!(storage.recorded_sockets().unwrap(), vec![a.clone()]);
        storage.begin_batch().unwrap();
        storage.record_sockets(&[]).unwrap();
        storage.rollback_batch();
        assert_eq!(storage.recorded_sockets().unwrap(), vec![a]);
    }
}
