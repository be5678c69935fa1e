//! An object's private store: one SQLite file with the key-value table `_wdo_kv` and the
//! guest's own SQL tables.
//!
//! Owns: an object's database file and its WAL fsync, the key-value API, guest SQL and what
//! it may do, the alarm row, and the transaction layering below. Knows SQLite and nothing of
//! wasm or tokio; the guest layer (`guest/storage.rs`, `guest/sql.rs`) adapts it to the WIT
//! `storage` and `sql` interfaces, and the objects layer's actor drives its batches.
//!
//! May import: `config`. Must never import `guest`, `objects`, `http`, `websocket` or
//! `host`.
//!
//! Transaction layering, outermost first:
//!
//! ```text
//! BEGIN                      one per batch of events (group commit), see `objects/actor.rs`
//!   SAVEPOINT turn           one per event: a trap rolls back only this event
//!     SAVEPOINT tx<N>        explicit, nestable transactions of the guest
//!       SAVEPOINT _wdo_sql   one per SQL call: a failed call leaves nothing behind
//! ```
//!
//! Layout: `kv.rs` and `list.rs` (key-value API), `sql.rs` (guest SQL), `authorizer.rs`
//! (what guest SQL may do), `guest_mode.rs` (when those rules and SQL limits apply),
//! `unsaved.rs` (an object without a file until it first writes), `close.rs` (closing),
//! `disk_full.rs` (telling a full disk from a storage failure).
//!
//! Some SQLite errors (a full database, an I/O error, an interrupted write, `OR ROLLBACK`)
//! roll back the whole transaction, and with it every event of the batch. The store notices
//! ("the transaction was lost"), refuses further calls, and fails the batch's commit, so no
//! event of the batch is acknowledged.

mod admin;
mod alarm;
mod authorizer;
mod checkpoint;
mod disk_full;
pub mod durable_fs;
mod fail_stop;
mod files;
mod guest_mode;
#[cfg(test)]
mod hostile_tests;
mod kv;
mod list;
#[cfg(test)]
mod log_tests;
#[cfg(test)]
mod model_tests;
mod sockets;
mod sql;
#[cfg(test)]
mod sql_tests;
mod sqlite_config;
#[cfg(test)]
mod tests;
mod unsaved;
#[cfg(test)]
mod unsaved_tests;
mod wal_capture;
mod wal_file;
#[cfg(test)]
mod wal_tests;

use std::path::Path;
use std::sync::Arc;

use rusqlite::config::DbConfig;
use rusqlite::limits::Limit;
use rusqlite::{ffi, Connection, OpenFlags};

use crate::commit_log::WalPosition;
use crate::config::Durability;
use guest_mode::SqlGuard;

pub use crate::commit_log::wal_path;
pub use admin::{prepare_import, replace_database, AdminRows, TableInfo};
pub use alarm::{alarm_in_file, EARLIEST_ALARM_MS};
pub use disk_full::is_disk_full;
pub use fail_stop::WalPoint;
pub use list::ListOptions;
pub use sockets::SocketRecord;
pub use sql::{SqlError, SqlOutput, SqlValue};
pub use sqlite_config::configure as configure_sqlite;

/// Limits of the key-value and SQL APIs, as Cloudflare's.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_key_bytes: usize,
    pub max_value_bytes: usize,
    pub max_batch_keys: usize,
    /// Longest SQL query text, in bytes.
    pub max_sql_bytes: usize,
    /// Most parameters bound to one SQL query.
    pub max_sql_params: usize,
    /// Largest string, BLOB or row that guest SQL may make.
    pub max_sql_value_bytes: usize,
    /// Largest result one SQL call may return, counted as the host holds it in memory.
    pub max_sql_result_bytes: usize,
    /// Largest answer of one `list` or `get-many` call, counted as the host holds it in
    /// memory (each entry's key and value, and 48 bytes for the pair).
    pub max_read_bytes: usize,
    /// The database file's maximum size (`max-database-size`).
    pub max_database_bytes: u64,
    /// Full durability: pages appended to the WAL after which it is checkpointed
    /// (`checkpoint-pages`; SQLite's own default is 1,000).
    pub checkpoint_pages: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_key_bytes: 2048,
            max_value_bytes: 2 << 20,
            max_batch_keys: 128,
            max_sql_bytes: 100_000,
            max_sql_params: 100,
            max_sql_value_bytes: 2 << 20,
            max_sql_result_bytes: 64 << 20,
            max_read_bytes: 64 << 20,
            max_database_bytes: 10 << 30,
            checkpoint_pages: 1000,
        }
    }
}

/// What a guest did wrong, or what went wrong underneath. The guest sees the message.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("{0}")]
    InvalidArgument(String),
    #[error("{0}")]
    LimitExceeded(String),
    #[error("{0}")]
    TransactionClosed(String),
    #[error("storage failure: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// The turn cannot go on: SQLite rolled its transaction back, or it left deferred
    /// foreign key constraints violated.
    #[error("{0}")]
    Aborted(String),
    /// The event's CPU time ran out during the call; its writes are rolled back.
    #[error("{0}")]
    TimedOut(String),
}

pub type Result<T, E = StorageError> = std::result::Result<T, E>;

/// One explicit transaction of the guest.
#[derive(Debug)]
struct Frame {
    id: u64,
    rolled_back: bool,
}

pub struct ObjectStorage {
    conn: Connection,
    limits: Limits,
    frames: Vec<Frame>,
    next_frame: u64,
    in_turn: bool,
    /// Set whenever the alarm row may have changed; see `take_alarm_touched`.
    alarm_touched: bool,
    /// Between `begin_batch` and the batch's commit or rollback.
    batch_open: bool,
    guard: Arc<SqlGuard>,
    /// `durability = "full"`: commits do not sync; what they append to the WAL goes to the
    /// host's commit log (`wal_capture.rs`).
    capture: Option<wal_capture::WalCapture>,
    /// SQLite's count of pages written when the WAL was last checkpointed.
    pages_at_checkpoint: i32,
    /// `durability = "full"`: what of the WAL is known durable (`fail_stop.rs`). After the
    /// connection: the connection's WAL hook points into it.
    durable: Option<fail_stop::DurableWal>,
    /// Closing must not checkpoint: the WAL holds frames that are not durable.
    poisoned: bool,
    /// Set while the object has no file yet (`unsaved.rs`).
    unsaved: Option<unsaved::Unsaved>,
}

/// A WAL larger than this is truncated when it restarts after a checkpoint (~2x the WAL
/// that the default `checkpoint_pages` of 4 KiB make).
const WAL_SIZE_LIMIT: u64 = 8 << 20;

/// Deepest nesting of explicit transactions, as Cloudflare's blockConcurrencyWhile.
const MAX_NESTING: usize = 64;

const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS _wdo_kv (key BLOB PRIMARY KEY NOT NULL, value BLOB NOT NULL) WITHOUT ROWID;";

impl ObjectStorage {
    /// Opens (creating if needed) an object's database in WAL mode.
    ///
    /// Tuned for one connection per file, which the host guarantees (the data directory is
    /// locked by one process, and an object has one actor):
    /// - the `unix-none` VFS takes no file locks (see below);
    /// - `locking_mode=EXCLUSIVE` keeps the WAL index in the heap: no `-shm` file to create,
    ///   map and delete (and WAL needs it without shared memory, which `unix-none` lacks);
    /// - the WAL file persists when the connection closes instead of being deleted, so the
    ///   next activation does not create a file (and sync its directory), and it is
    ///   checkpointed on close only when large (SQLite's auto-checkpoint still bounds it);
    /// - a new file is set up without a rollback-journal file, and the schema is written with
    ///   `synchronous=OFF`: the first durable commit's fsync of the WAL covers those frames
    ///   too, and a schema lost to a power cut before any durable commit is created again.
    pub fn open(path: &Path, durability: Durability, limits: Limits) -> Result<ObjectStorage> {
        Self::open_at(path, durability, limits, None)
    }

    /// [`open`](Self::open), told where the WAL stood when the object last closed (`known`,
    /// if the host remembers; full durability only), which spares reading the WAL to find it.
    pub fn open_at(
        path: &Path,
        durability: Durability,
        limits: Limits,
        known: Option<WalPosition>,
    ) -> Result<ObjectStorage> {
        configure_sqlite();
        let is_new = std::fs::metadata(path).map_or(true, |m| m.len() == 0);
        // "unix-none": no POSIX advisory locks. The data directory's lock and the one actor
        // per object already exclude every other writer, and the default VFS keeps every
        // open file in one global list that each open scans: with thousands of live
        // objects that scan was a tenth of an activation's CPU.
        let conn = Connection::open_with_flags_and_vfs(path, OpenFlags::default(), c"unix-none")?;
        // Full durability commits without syncing, the commit log makes commits durable, and
        // the host runs the checkpoints (synced); relaxed leaves syncing to checkpoints
        // (NORMAL).
        let sync = match durability {
            Durability::Full => "OFF; PRAGMA wal_autocheckpoint=0",
            Durability::Relaxed => "NORMAL",
        };
        conn.execute_batch("PRAGMA locking_mode=EXCLUSIVE;")?;
        if is_new {
            // Switching an empty file to WAL writes its header in a transaction; with an
            // in-memory rollback journal that transaction creates (and deletes) no file. The
            // header must be durable before any WAL frame is, or SQLite would discard the WAL
            // of a file it finds empty: relaxed durability syncs it here (synchronous is FULL
            // by default); with full durability the commit log carries the new file with the
            // first frames (`wal_capture.rs`), and recovery writes it if it was lost.
            if durability == Durability::Full {
                conn.execute_batch("PRAGMA synchronous=OFF;")?;
            }
            conn.execute_batch("PRAGMA journal_mode=MEMORY;")?;
        }
        // The WAL restarts from its beginning after a checkpoint. Not truncating it then
        // (SQLite truncates only beyond `journal_size_limit`) lets later commits overwrite
        // frames in place: the fsync then writes no new blocks, block bitmaps or file size,
        // which halved its time on this machine's disk (bench scenario 1). Closing truncates a
        // WAL over 256 KiB (see `Drop`), so idle objects keep small ones.
        conn.execute_batch(&format!(
            "PRAGMA journal_mode=WAL; PRAGMA journal_size_limit={WAL_SIZE_LIMIT};
             PRAGMA busy_timeout=5000; PRAGMA synchronous=OFF;"
        ))?;
        files::persist_wal(&conn)?;
        // Closing checkpoints only a large WAL (see `Drop`): a small one is cheaper to read
        // back at the next activation than to checkpoint (two fsyncs) at every eviction.
        conn.set_db_config(DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, true)?;
        let mut storage = Self::with_connection(conn, limits)?;
        storage
            .conn
            .execute_batch(&format!("PRAGMA synchronous={sync};"))?;
        if durability == Durability::Full {
            storage.capture = Some(wal_capture::WalCapture::new(path, is_new, known).map_err(
                |e| io_failure(&format!("cannot read the WAL of {}", path.display()), &e),
            )?);
            storage.durable = Some(fail_stop::DurableWal::track(path, is_new, &storage.conn));
        }
        Ok(storage)
    }

    /// A private in-memory store, for tests.
    pub fn open_in_memory(limits: Limits) -> Result<ObjectStorage> {
        configure_sqlite();
        Self::with_connection(Connection::open_in_memory()?, limits)
    }

    fn with_connection(conn: Connection, limits: Limits) -> Result<ObjectStorage> {
        conn.execute_batch(SCHEMA)?;
        conn.execute_batch(alarm::ALARM_SCHEMA)?;
        // No SQL may corrupt the file (writable_schema, shadow tables of virtual tables, ...).
        conn.set_db_config(DbConfig::SQLITE_DBCONFIG_DEFENSIVE, true)?;
        conn.set_limit(Limit::SQLITE_LIMIT_ATTACHED, 0)?;
        conn.set_limit(Limit::SQLITE_LIMIT_WORKER_THREADS, 0)?;
        let page_size: u64 = conn.query_row("PRAGMA page_size", [], |row| row.get(0))?;
        let max_pages = (limits.max_database_bytes / page_size).clamp(1, u64::from(u32::MAX - 1));
        conn.query_row(&format!("PRAGMA max_page_count = {max_pages}"), [], |_| {
            Ok(())
        })?;
        let guard = SqlGuard::install(&conn);
        // The turn statements and the key-value ones, with room for the guest's.
        conn.set_prepared_statement_cache_capacity(64);
        Ok(ObjectStorage {
            conn,
            limits,
            frames: Vec::new(),
            next_frame: 1,
            in_turn: false,
            alarm_touched: false,
            batch_open: false,
            guard,
            capture: None,
            pages_at_checkpoint: 0,
            durable: None,
            poisoned: false,
            unsaved: None,
        })
    }

    // ---- batches and turns (used by the actor) ----

    /// Opens the transaction that a batch of events shares.
    pub fn begin_batch(&mut self) -> Result<()> {
        self.run_cached("BEGIN")?;
        self.batch_open = true;
        Ok(())
    }

    /// Commits the batch. With relaxed durability an automatic checkpoint may sync here (so
    /// call it from a blocking thread); with full durability it only appends to the WAL, and
    /// the commit is durable once the frames [`take_logged_frames`](Self::take_logged_frames)
    /// then returns are durable in the commit log. The first batch that
    /// writes to an object without a file creates the file (`unsaved.rs`; blocking too).
    pub fn commit_batch(&mut self) -> Result<()> {
        if self.transaction_lost() {
            self.batch_open = false;
            return Err(lost_transaction());
        }
        let wrote = self.batch_wrote();
        self.run_cached("COMMIT")?;
        self.batch_open = false;
        if wrote {
            self.persist()?;
            if let Some(durable) = &mut self.durable {
                durable.committed();
            }
        }
        Ok(())
    }

    /// Whether the open batch has written anything. A batch that has not commits without
    /// touching the disk, so it need not go to a blocking thread.
    pub fn batch_wrote(&self) -> bool {
        !matches!(
            self.conn.transaction_state(Some(rusqlite::MAIN_DB)),
            Ok(rusqlite::TransactionState::None | rusqlite::TransactionState::Read)
        )
    }

    /// Whether commits leave durability to the commit log (`durability = "full"`).
    pub fn syncs_apart(&self) -> bool {
        self.capture.is_some()
    }

    /// One statement of the per-event bookkeeping, prepared once per connection.
    fn run_cached(&self, sql: &str) -> Result<()> {
        self.conn.prepare_cached(sql)?.execute([])?;
        Ok(())
    }

    /// Abandons the batch (after a failed commit, say).
    pub fn rollback_batch(&mut self) {
        if !self.conn.is_autocommit() {
            let _ = self.conn.execute_batch("ROLLBACK");
        }
        self.frames.clear();
        self.in_turn = false;
        self.batch_open = false;
    }

    pub fn begin_turn(&mut self) -> Result<()> {
        if self.transaction_lost() {
            return Err(lost_transaction());
        }
        self.run_cached("SAVEPOINT turn")?;
        self.frames.clear();
        self.in_turn = true;
        Ok(())
    }

    /// Ends a turn: keeps its writes if `keep`, else rolls them back. Explicit transactions
    /// the guest left open are rolled back either way: only a commit keeps their writes.
    ///
    /// A turn that leaves deferred foreign key constraints violated is rolled back and
    /// fails here, rather than failing the whole batch's commit.
    pub fn end_turn(&mut self, keep: bool) -> Result<()> {
        if !self.in_turn {
            return Ok(());
        }
        if self.transaction_lost() {
            self.in_turn = false;
            self.frames.clear();
            return Err(lost_transaction());
        }
        self.in_turn = false;
        if let Some(first) = self.frames.first() {
            let name = savepoint(first.id);
            if keep {
                self.conn
                    .execute_batch(&format!("ROLLBACK TO {name}; RELEASE {name}"))?;
            }
            self.frames.clear();
        }
        let violated = keep && self.deferred_foreign_key_violations();
        if keep && !violated {
            self.run_cached("RELEASE turn")?;
        } else {
            self.conn.execute_batch("ROLLBACK TO turn; RELEASE turn")?;
        }
        // SQLite resets this at COMMIT only, and the next event may share the transaction.
        if self.guard.take_defer_fk_set() {
            self.conn.execute_batch("PRAGMA defer_foreign_keys = OFF")?;
        }
        if violated {
            return Err(StorageError::Aborted(
                "the event left FOREIGN KEY constraints violated (their checks were deferred \
                 to the end of the event); its writes were rolled back"
                    .into(),
            ));
        }
        Ok(())
    }

    /// Whether SQLite rolled back the batch's (or the turn's) transaction on its own, after
    /// an error such as a full database: then every write of the batch is gone.
    fn transaction_lost(&self) -> bool {
        (self.batch_open || self.in_turn) && self.conn.is_autocommit()
    }

    /// Whether deferred foreign key constraints are violated at this point.
    fn deferred_foreign_key_violations(&self) -> bool {
        let (mut current, mut highwater) = (0, 0);
        // SAFETY: the handle is this open connection's, used on its own thread, and the
        // status call only reads a counter.
        let rc = unsafe {
            ffi::sqlite3_db_status(
                self.conn.handle(),
                ffi::SQLITE_DBSTATUS_DEFERRED_FKS,
                &mut current,
                &mut highwater,
                0,
            )
        };
        rc == ffi::SQLITE_OK && current > 0
    }

    // ---- explicit transactions (the guest's) ----

    /// Begins a transaction nested in the innermost open one; returns its handle.
    pub fn txn_begin(&mut self) -> Result<u64> {
        self.check_open("begin a transaction")?;
        if self.frames.len() >= MAX_NESTING {
            return Err(StorageError::LimitExceeded(format!(
                "transactions are nested too deeply (at most {MAX_NESTING})"
            )));
        }
        let id = self.next_frame;
        self.next_frame += 1;
        self.conn
            .execute_batch(&format!("SAVEPOINT {}", savepoint(id)))?;
        self.frames.push(Frame {
            id,
            rolled_back: false,
        });
        Ok(id)
    }

    pub fn txn_commit(&mut self, id: u64) -> Result<()> {
        let index = self.innermost(id, "commit")?;
        self.frames.remove(index);
        self.conn
            .execute_batch(&format!("RELEASE {}", savepoint(id)))?;
        Ok(())
    }

    pub fn txn_rollback(&mut self, id: u64) -> Result<()> {
        let index = self.innermost(id, "roll back")?;
        let name = savepoint(id);
        self.conn
            .execute_batch(&format!("ROLLBACK TO {name}; RELEASE {name}"))?;
        // The frame stays until the guest drops it, so that later calls fail.
        self.frames[index].rolled_back = true;
        Ok(())
    }

    /// The guest dropped a transaction handle: roll back what was not committed.
    /// Dropping an outer transaction also ends the ones nested in it.
    pub fn txn_drop(&mut self, id: u64) -> Result<()> {
        let Some(index) = self.frames.iter().position(|f| f.id == id) else {
            return Ok(());
        };
        let first_open = self.frames[index..].iter().find(|f| !f.rolled_back);
        if let Some(frame) = first_open {
            let name = savepoint(frame.id);
            self.conn
                .execute_batch(&format!("ROLLBACK TO {name}; RELEASE {name}"))?;
        }
        self.frames.truncate(index);
        Ok(())
    }

    pub fn in_transaction(&self) -> bool {
        !self.frames.is_empty()
    }

    fn innermost(&self, id: u64, action: &str) -> Result<usize> {
        let Some(index) = self.frames.iter().position(|f| f.id == id) else {
            return Err(StorageError::TransactionClosed(format!(
                "Cannot {action}: the transaction has already ended"
            )));
        };
        if self.frames[index].rolled_back {
            return Err(StorageError::TransactionClosed(format!(
                "Cannot {action} on rolled back transaction"
            )));
        }
        if index + 1 != self.frames.len() {
            return Err(StorageError::InvalidArgument(format!(
                "Cannot {action} a transaction while a transaction nested in it is still open"
            )));
        }
        Ok(index)
    }

    /// Fails once the innermost transaction was rolled back, until the guest drops it, and
    /// once SQLite lost the turn's transaction.
    fn check_open(&self, op: &str) -> Result<()> {
        if self.transaction_lost() {
            return Err(StorageError::Aborted(format!(
                "Cannot {op}: SQLite rolled back the event's transaction after an error; the event will fail"
            )));
        }
        if self.frames.iter().any(|f| f.rolled_back) {
            return Err(StorageError::TransactionClosed(format!(
                "Cannot {op} on rolled back transaction"
            )));
        }
        Ok(())
    }

    #[cfg(test)]
    fn connection(&self) -> &Connection {
        &self.conn
    }
}

fn savepoint(id: u64) -> String {
    format!("tx{id}")
}

fn io_failure(what: &str, error: &std::io::Error) -> StorageError {
    StorageError::Sqlite(rusqlite::Error::SqliteFailure(
        ffi::Error::new(ffi::SQLITE_IOERR),
        Some(format!("{what}: {error}")),
    ))
}

fn lost_transaction() -> StorageError {
    StorageError::Aborted(
        "SQLite rolled back the transaction after an error (such as a full database); \
         every event sharing it is lost"
            .into(),
    )
}
