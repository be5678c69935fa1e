//! What an operator may do to an object's database, as opposed to its guest: browse any
//! table, run a statement (read-only unless asked), copy the database out as one consistent
//! file, and put a checked file in its place. The objects layer calls these inside the
//! object's serial order, between batches; nothing here runs in guest mode.

use std::path::Path;

use rusqlite::limits::Limit;
use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags};

use super::{alarm, ObjectStorage, Result, SqlValue, StorageError, SCHEMA};

/// One table of the database, as the inspector lists them.
#[derive(Debug, Clone)]
pub struct TableInfo {
    pub name: String,
    pub rows: u64,
    /// A host table (`_wdo_kv`, `_wdo_alarm`) rather than one of the guest's.
    pub internal: bool,
}

/// Rows of a statement or a table, cut at a maximum.
#[derive(Debug, Clone, Default)]
pub struct AdminRows {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<SqlValue>>,
    /// More rows were there than returned.
    pub truncated: bool,
    /// Rows changed by a write.
    pub changes: u64,
}

impl ObjectStorage {
    /// Every table but SQLite's own, by name.
    pub fn admin_tables(&self) -> Result<Vec<TableInfo>> {
        let names: Vec<String> = self
            .conn
            .prepare(
                "SELECT name FROM sqlite_schema WHERE type = 'table'
                 AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name",
            )?
            .query_map([], |row| row.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        names
            .into_iter()
            .map(|name| {
                let rows: i64 = self.conn.query_row(
                    &format!("SELECT count(*) FROM {}", quote(&name)),
                    [],
                    |r| r.get(0),
                )?;
                Ok(TableInfo {
                    internal: name.starts_with("_wdo_"),
                    name,
                    rows: rows as u64,
                })
            })
            .collect()
    }

    /// `limit` rows of `table` from `offset`, in rowid (or primary key) order.
    pub fn admin_rows(&self, table: &str, offset: u64, limit: usize) -> Result<AdminRows> {
        let exists: bool = self.conn.query_row(
            "SELECT count(*) > 0 FROM sqlite_schema WHERE type = 'table' AND name = ?1",
            [table],
            |row| row.get(0),
        )?;
        if !exists {
            return Err(StorageError::InvalidArgument(format!(
                "no table {table:?} in this object's database"
            )));
        }
        let sql = format!("SELECT * FROM {} LIMIT ?1 OFFSET ?2", quote(table));
        let mut stmt = self.conn.prepare(&sql)?;
        collect(&mut stmt, [limit as i64 + 1, offset as i64], limit)
    }

    /// One statement, read-only unless `write`; at most `max_rows` rows come back. A write
    /// must run inside a batch (`begin_batch`), so that it commits with the output gate.
    pub fn admin_sql(&self, sql: &str, write: bool, max_rows: usize) -> Result<AdminRows> {
        let mut stmt = self.conn.prepare(sql).map_err(|e| match e {
            rusqlite::Error::MultipleStatement => {
                StorageError::InvalidArgument("run one statement at a time".into())
            }
            e => StorageError::InvalidArgument(format!("the statement does not compile: {e}")),
        })?;
        if !write && !stmt.readonly() {
            return Err(StorageError::InvalidArgument(
                "this statement writes; run it with write = true to allow that".into(),
            ));
        }
        let before = self.conn.total_changes();
        let mut rows = collect(&mut stmt, [], max_rows)?;
        rows.changes = self.conn.total_changes().saturating_sub(before);
        Ok(rows)
    }

    /// Writes a consistent copy of the database (what is committed now) to `to`, which must
    /// not exist. Outside a batch.
    pub fn export_to(&self, to: &Path) -> Result<()> {
        let target = to.to_str().ok_or_else(|| {
            StorageError::InvalidArgument(format!("not a UTF-8 path: {}", to.display()))
        })?;
        // VACUUM INTO attaches its target; guests may attach nothing, so the limit is lifted
        // for this one statement only.
        self.conn.set_limit(Limit::SQLITE_LIMIT_ATTACHED, 1)?;
        let done = self.conn.execute("VACUUM INTO ?1", [target]);
        self.conn.set_limit(Limit::SQLITE_LIMIT_ATTACHED, 0)?;
        done?;
        Ok(())
    }

    /// Moves every committed page of the WAL into the database file and empties the WAL, so
    /// that the file alone holds the data. Outside a batch.
    pub fn checkpoint_truncate(&self) -> Result<()> {
        self.conn.execute_batch("PRAGMA synchronous=FULL")?;
        let done = self
            .conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()));
        let sync = if self.capture.is_some() {
            "OFF"
        } else {
            "NORMAL"
        };
        self.conn
            .execute_batch(&format!("PRAGMA synchronous={sync}"))?;
        Ok(done?)
    }
}

/// Checks that `path` holds a SQLite database this host can serve as an object's, and makes
/// it compatible: it must pass `integrity_check`; the key-value and alarm tables are created
/// if missing, and must have the host's columns if present. The file is left in rollback
/// journal mode with no side files.
pub fn prepare_import(path: &Path) -> std::result::Result<(), String> {
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_WRITE)
        .map_err(|e| format!("cannot open the file as a SQLite database: {e}"))?;
    let check: String = conn
        .query_row("PRAGMA integrity_check(1)", [], |row| row.get(0))
        .map_err(|e| format!("not a SQLite database: {e}"))?;
    if check != "ok" {
        return Err(format!("the database fails integrity_check: {check}"));
    }
    conn.execute_batch(SCHEMA)
        .and_then(|()| conn.execute_batch(alarm::ALARM_SCHEMA))
        .map_err(|e| format!("cannot add the host's tables: {e}"))?;
    for (table, columns) in [
        ("_wdo_kv", "key, value"),
        ("_wdo_alarm", "id, scheduled_ms"),
    ] {
        conn.prepare(&format!("SELECT {columns} FROM {table} LIMIT 0"))
            .map_err(|e| {
                format!("table {table} does not have the host's columns ({columns}): {e}")
            })?;
    }
    conn.query_row("PRAGMA journal_mode=DELETE", [], |_| Ok(()))
        .map_err(|e| format!("cannot leave WAL mode: {e}"))?;
    conn.close().map_err(|(_, e)| e.to_string())?;
    std::fs::File::open(path)
        .and_then(|f| f.sync_all())
        .map_err(|e| format!("cannot sync the file: {e}"))
}

/// Puts `source` (a file checked by [`prepare_import`]), or nothing, in the place of the
/// database at `db`, whose connection must be closed. The old WAL goes first: left beside
/// the new file, SQLite would replay it into it.
pub fn replace_database(db: &Path, source: Option<&Path>) -> std::io::Result<()> {
    remove_if_exists(&super::wal_path(db))?;
    remove_if_exists(&db.with_extension("sqlite-shm"))?;
    match source {
        Some(source) => std::fs::rename(source, db)?,
        None => remove_if_exists(db)?,
    }
    if let Some(dir) = db.parent() {
        super::durable_fs::sync_dir(dir)?;
    }
    Ok(())
}

fn remove_if_exists(path: &Path) -> std::io::Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// `"name"`, with inner quotes doubled.
fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

fn collect<P: rusqlite::Params>(
    stmt: &mut rusqlite::Statement<'_>,
    params: P,
    max_rows: usize,
) -> Result<AdminRows> {
    let columns: Vec<String> = stmt.column_names().iter().map(|c| c.to_string()).collect();
    let width = columns.len();
    let mut out = AdminRows {
        columns,
        ..AdminRows::default()
    };
    let mut rows = stmt.query(params)?;
    while let Some(row) = rows.next()? {
        if out.rows.len() == max_rows {
            out.truncated = true;
            break;
        }
        let values = (0..width)
            .map(|i| {
                Ok(match row.get_ref(i)? {
                    ValueRef::Null => SqlValue::Null,
                    ValueRef::Integer(v) => SqlValue::Integer(v),
                    ValueRef::Real(v) => SqlValue::Real(v),
                    ValueRef::Text(v) => SqlValue::Text(String::from_utf8_lossy(v).into_owned()),
                    ValueRef::Blob(v) => SqlValue::Blob(v.to_vec()),
                })
            })
            .collect::<rusqlite::Result<_>>()?;
        out.rows.push(values);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Durability;
    use crate::storage::Limits;

    #[test]
    fn a_read_only_run_refuses_a_write_and_a_write_run_counts_its_changes() {
        let mut storage = ObjectStorage::open_in_memory(Limits::default()).unwrap();
        let refused = storage
            .admin_sql("CREATE TABLE t (x)", false, 10)
            .unwrap_err();
        assert!(refused.to_string().contains("write = true"), "{refused}");
        storage.begin_batch().unwrap();
        storage.admin_sql("CREATE TABLE t (x)", true, 10).unwrap();
        let wrote = storage
            .admin_sql("INSERT INTO t VALUES (1), (2), (3)", true, 10)
            .unwrap();
        storage.commit_batch().unwrap();
        assert_eq!(wrote.changes, 3);
        let read = storage
            .admin_sql("SELECT x FROM t ORDER BY x", false, 2)
            .unwrap();
        assert_eq!(read.columns, vec!["x"]);
        assert_eq!(
            read.rows,
            vec![vec![SqlValue::Integer(1)], vec![SqlValue::Integer(2)]]
        );
        assert!(read.truncated);
        let page = storage.admin_rows("t", 2, 5).unwrap();
        assert_eq!(page.rows, vec![vec![SqlValue::Integer(3)]]);
        assert!(!page.truncated);
        assert!(storage.admin_rows("nope\"", 0, 5).is_err());
        let tables = storage.admin_tables().unwrap();
        let t = tables.iter().find(|t| t.name == "t").unwrap();
        assert_eq!((t.rows, t.internal), (3, false));
        assert!(tables.iter().any(|t| t.name == "_wdo_kv" && t.internal));
        assert!(storage.admin_sql("SELECT 1; SELECT 2", false, 1).is_err());
    }

    #[test]
    fn an_export_imports_back_and_garbage_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("a.sqlite");
        let mut storage = ObjectStorage::open(&db, Durability::Full, Limits::default()).unwrap();
        storage.begin_batch().unwrap();
        storage.put("k", b"v").unwrap();
        storage.commit_batch().unwrap();
        let copy = dir.path().join("copy.sqlite");
        storage.export_to(&copy).unwrap();
        drop(storage);
        prepare_import(&copy).unwrap();
        replace_database(&db, Some(&copy)).unwrap();
        let mut storage = ObjectStorage::open(&db, Durability::Full, Limits::default()).unwrap();
        assert_eq!(storage.get("k").unwrap(), Some(b"v".to_vec()));

        let garbage = dir.path().join("garbage");
        std::fs::write(&garbage, vec![7u8; 8192]).unwrap();
        let refused = prepare_import(&garbage).unwrap_err();
        assert!(refused.contains("not a SQLite database"), "{refused}");

        let foreign = dir.path().join("foreign.sqlite");
        Connection::open(&foreign)
            .unwrap()
            .execute_batch("CREATE TABLE notes (body TEXT); INSERT INTO notes VALUES ('x');")
            .unwrap();
        prepare_import(&foreign).unwrap();
        let conn = Connection::open(&foreign).unwrap();
        let kv: i64 = conn
            .query_row("SELECT count(*) FROM _wdo_kv", [], |r| r.get(0))
            .unwrap();
        assert_eq!(kv, 0, "made compatible: the key-value table was added");

        let wrong = dir.path().join("wrong.sqlite");
        Connection::open(&wrong)
            .unwrap()
            .execute_batch("CREATE TABLE _wdo_kv (a, b);")
            .unwrap();
        let refused = prepare_import(&wrong).unwrap_err();
        assert!(refused.contains("host's columns"), "{refused}");
    }
}
