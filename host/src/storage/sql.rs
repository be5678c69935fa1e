//! Guest SQL on the object's database: `exec` (statement lists, bound parameters, rows read
//! and written), the database's size, and dropping the guest's schema for `delete-all`.
//!
//! Each `exec` runs inside a savepoint of its own, nested in the turn and in the guest's
//! explicit transactions: if any of its statements fails, none of its writes remain. The
//! guest's statements run in guest mode (`guest_mode.rs`), under the authorizer's rules
//! (`authorizer.rs`) and SQLite's limits for guests.

use std::time::Instant;

use rusqlite::types::{ToSql, ToSqlOutput, ValueRef};
use rusqlite::{fallible_iterator::FallibleIterator, Batch, ErrorCode, StatementStatus};

use super::authorizer::RESERVED_PREFIX;
use super::{ObjectStorage, StorageError};

/// A parameter or a column value: one of SQLite's storage classes.
#[derive(Debug, Clone, PartialEq)]
pub enum SqlValue {
    Null,
    Integer(i64),
    Real(f64),
    Text(String),
    Blob(Vec<u8>),
}

/// What `exec` produced: the last statement's rows, and counts over all statements.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SqlOutput {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<SqlValue>>,
    /// An estimate: per statement, the rows it returned or, if it scanned a whole table,
    /// the rows it scanned, whichever is more.
    pub rows_read: u64,
    /// Rows inserted, updated or deleted, by triggers and foreign key actions too.
    pub rows_written: u64,
}

/// Why a guest's SQL failed. Everything but `TimedOut` and `Storage` is the guest's doing.
#[derive(Debug, thiserror::Error)]
pub enum SqlError {
    /// SQLite rejected or failed a statement (syntax, unknown table, mismatch, ...).
    #[error("{0}")]
    Query(String),
    #[error("{0}")]
    Constraint(String),
    /// The authorizer refused a statement; the message says what and why.
    #[error("{0}")]
    NotAuthorized(String),
    #[error("{0}")]
    InvalidArgument(String),
    #[error("{0}")]
    LimitExceeded(String),
    #[error("{0}")]
    TransactionClosed(String),
    /// The database reached its maximum size (or the disk is full): the turn must fail.
    #[error("{0}")]
    DatabaseFull(String),
    /// The event's CPU time ran out while SQL ran.
    #[error("the event exceeded its CPU time limit while running SQL")]
    TimedOut,
    /// The storage engine failed, or SQLite rolled the whole transaction back.
    #[error(transparent)]
    Storage(StorageError),
}

impl SqlError {
    /// Whether the turn must fail: the guest cannot carry on after this.
    pub fn fails_turn(&self) -> bool {
        matches!(
            self,
            SqlError::DatabaseFull(_) | SqlError::TimedOut | SqlError::Storage(_)
        )
    }
}

impl From<StorageError> for SqlError {
    fn from(error: StorageError) -> Self {
        match error {
            StorageError::TransactionClosed(message) => SqlError::TransactionClosed(message),
            StorageError::InvalidArgument(message) => SqlError::InvalidArgument(message),
            StorageError::LimitExceeded(message) => SqlError::LimitExceeded(message),
            StorageError::TimedOut(_) => SqlError::TimedOut,
            other => SqlError::Storage(other),
        }
    }
}

impl From<rusqlite::Error> for SqlError {
    fn from(error: rusqlite::Error) -> Self {
        SqlError::Storage(StorageError::Sqlite(error))
    }
}

impl ToSql for SqlValue {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::Borrowed(match self {
            SqlValue::Null => ValueRef::Null,
            SqlValue::Integer(n) => ValueRef::Integer(*n),
            SqlValue::Real(x) => ValueRef::Real(*x),
            SqlValue::Text(text) => ValueRef::Text(text.as_bytes()),
            SqlValue::Blob(bytes) => ValueRef::Blob(bytes),
        }))
    }
}

impl SqlValue {
    fn from_ref(value: ValueRef<'_>) -> SqlValue {
        match value {
            ValueRef::Null => SqlValue::Null,
            ValueRef::Integer(n) => SqlValue::Integer(n),
            ValueRef::Real(x) => SqlValue::Real(x),
            // SQLite can hold text that is not UTF-8 (CAST of a blob); it is not worth a failure.
            ValueRef::Text(bytes) => SqlValue::Text(String::from_utf8_lossy(bytes).into_owned()),
            ValueRef::Blob(bytes) => SqlValue::Blob(bytes.to_vec()),
        }
    }
}

/// What one row of a result takes in the host's memory besides its values: its vector.
const ROW_BYTES: usize = std::mem::size_of::<Vec<SqlValue>>();

/// What one value of a result takes in the host's memory: its slot in the row and the bytes
/// of its text or BLOB.
fn held_bytes(value: ValueRef<'_>) -> usize {
    std::mem::size_of::<SqlValue>()
        + match value {
            ValueRef::Text(bytes) | ValueRef::Blob(bytes) => bytes.len(),
            ValueRef::Null | ValueRef::Integer(_) | ValueRef::Real(_) => 0,
        }
}

/// The refusal of a result over `max_sql_result_bytes`.
pub(super) fn result_too_large(statement: usize, max: usize) -> String {
    format!(
        "the result of statement {statement} is over the limit of {max} bytes (counted as the \
         host holds it: {} bytes per row and {} per value, plus each text's and BLOB's \
         bytes); select fewer rows (LIMIT and OFFSET) or columns",
        ROW_BYTES,
        std::mem::size_of::<SqlValue>()
    )
}

impl ObjectStorage {
    /// Runs a guest's query: its statements in order, `params` bound to the last one.
    /// `deadline` interrupts it (as [`SqlError::TimedOut`]) when the event's time is up.
    pub fn sql_exec(
        &mut self,
        query: &str,
        params: &[SqlValue],
        deadline: Option<Instant>,
    ) -> Result<SqlOutput, SqlError> {
        self.check_open("run SQL")?;
        self.check_query_size(query, params)?;
        self.conn.execute_batch("SAVEPOINT _wdo_sql")?;
        match self.run_statements(query, params, deadline) {
            Ok(output) => {
                self.conn.execute_batch("RELEASE _wdo_sql")?;
                Ok(output)
            }
            Err(error) => {
                if self.transaction_lost() {
                    // `OR ROLLBACK`, `RAISE(ROLLBACK)`, or an I/O, full-disk or interrupt
                    // error made SQLite roll back everything: the turn cannot go on.
                    if error.fails_turn() {
                        return Err(error);
                    }
                    return Err(SqlError::Storage(StorageError::Aborted(format!(
                        "SQLite rolled back the whole transaction after: {error}"
                    ))));
                }
                if !self.conn.is_autocommit() {
                    self.conn
                        .execute_batch("ROLLBACK TO _wdo_sql; RELEASE _wdo_sql")?;
                }
                Err(error)
            }
        }
    }

    /// The database's size in bytes: pages times page size, uncommitted pages included.
    pub fn database_size(&self) -> Result<u64, StorageError> {
        let pages: u64 = self
            .conn
            .prepare_cached("PRAGMA page_count")?
            .query_row([], |row| row.get(0))?;
        let page_size: u64 = self
            .conn
            .prepare_cached("PRAGMA page_size")?
            .query_row([], |row| row.get(0))?;
        Ok(pages * page_size)
    }

    fn check_query_size(&self, query: &str, params: &[SqlValue]) -> Result<(), SqlError> {
        let max = self.limits.max_sql_bytes;
        if query.len() > max {
            return Err(SqlError::LimitExceeded(format!(
                "the SQL query is {} bytes long, over the limit of {max} bytes",
                query.len()
            )));
        }
        let max = self.limits.max_sql_params;
        if params.len() > max {
            return Err(SqlError::LimitExceeded(format!(
                "{} parameters were given, over the limit of {max}",
                params.len()
            )));
        }
        Ok(())
    }

    fn run_statements(
        &self,
        query: &str,
        params: &[SqlValue],
        deadline: Option<Instant>,
    ) -> Result<SqlOutput, SqlError> {
        let _guest = self.guard.enter(&self.conn, &self.limits, deadline)?;
        let changes_before = self.conn.total_changes();
        let mut output = SqlOutput::default();
        let mut statements = 0;
        let mut bound = false;
        let mut batch = Batch::new(&self.conn, query);
        while let Some(mut statement) = batch.next().map_err(|e| self.sql_error(e))? {
            if bound {
                return Err(SqlError::InvalidArgument(
                    "only the last statement of a query may have parameters".into(),
                ));
            }
            statements += 1;
            let expected = statement.parameter_count();
            if expected > 0 {
                if expected != params.len() {
                    return Err(SqlError::InvalidArgument(format!(
                        "statement {statements} of the query has {expected} parameters, but {} values were given",
                        params.len()
                    )));
                }
                for (index, value) in params.iter().enumerate() {
                    statement
                        .raw_bind_parameter(index + 1, value)
                        .map_err(|e| self.sql_error(e))?;
                }
                bound = true;
            }
            // A rename may take a reserved name, which the authorizer cannot see.
            let reserved_before = if self.guard.take_altered() {
                Some(self.reserved_names()?)
            } else {
                None
            };
            output.columns = statement
                .column_names()
                .into_iter()
                .map(String::from)
                .collect();
            output.rows.clear();
            // Charged as the result is held in the host's memory, each value before it is
            // copied: a result of many small values costs far more than its bytes.
            let mut result_bytes = 0;
            let max = self.limits.max_sql_result_bytes;
            let width = output.columns.len();
            let mut rows = statement.raw_query();
            while let Some(row) = rows.next().map_err(|e| self.sql_error(e))? {
                result_bytes += ROW_BYTES;
                let mut values = Vec::with_capacity(width);
                for i in 0..width {
                    let value = row.get_ref(i)?;
                    result_bytes += held_bytes(value);
                    if result_bytes > max {
                        return Err(SqlError::LimitExceeded(result_too_large(statements, max)));
                    }
                    values.push(SqlValue::from_ref(value));
                }
                output.rows.push(values);
            }
            drop(rows);
            let returned = output.rows.len() as u64;
            let scanned = match statement.get_status(StatementStatus::FullscanStep) {
                0 => 0,
                // The first row of a scan is reached without a step.
                steps => u64::try_from(steps).unwrap_or(0) + 1,
            };
            output.rows_read += returned.max(scanned);
            if let Some(before) = reserved_before {
                if self.reserved_names()? != before {
                    return Err(SqlError::NotAuthorized(format!(
                        "renaming a table to a name beginning with {RESERVED_PREFIX} is not \
                         allowed: those names belong to the host"
                    )));
                }
            }
        }
        if statements == 0 {
            return Err(SqlError::InvalidArgument(
                "the SQL query contains no statement".into(),
            ));
        }
        if !bound && !params.is_empty() {
            return Err(SqlError::InvalidArgument(format!(
                "{} parameter values were given, but the query's last statement has no parameters",
                params.len()
            )));
        }
        output.rows_written = self.conn.total_changes() - changes_before;
        Ok(output)
    }

    /// The names of the schema objects in the host's namespace.
    fn reserved_names(&self) -> Result<Vec<String>, SqlError> {
        let mut statement = self.conn.prepare_cached(
            "SELECT name FROM sqlite_schema WHERE name LIKE '\\_wdo\\_%' ESCAPE '\\' ORDER BY name",
        )?;
        let names = statement.query_map([], |row| row.get(0))?;
        Ok(names.collect::<rusqlite::Result<_>>()?)
    }

    /// Classifies a SQLite error of a guest statement, with the authorizer's reason for a
    /// refusal and the limit for an oversized value.
    fn sql_error(&self, error: rusqlite::Error) -> SqlError {
        if let Some(refusal) = self.guard.take_refusal() {
            return SqlError::NotAuthorized(refusal);
        }
        let rusqlite::Error::SqliteFailure(failure, message) = &error else {
            return SqlError::Query(error.to_string());
        };
        let message = message.clone().unwrap_or_else(|| failure.to_string());
        match failure.code {
            ErrorCode::ConstraintViolation => SqlError::Constraint(message),
            ErrorCode::TooBig => SqlError::LimitExceeded(format!(
                "{message}: a string, BLOB or row is over the limit of {} bytes",
                self.limits.max_sql_value_bytes
            )),
            ErrorCode::DiskFull => SqlError::DatabaseFull(format!(
                "the database is full: it reached its maximum size of {} bytes \
                 (max-database-size), or the disk is full ({message})",
                self.limits.max_database_bytes
            )),
            ErrorCode::OperationInterrupted if self.guard.timed_out() => SqlError::TimedOut,
            ErrorCode::AuthorizationForStatementDenied => SqlError::NotAuthorized(message),
            ErrorCode::SystemIoFailure
            | ErrorCode::DatabaseCorrupt
            | ErrorCode::NotADatabase
            | ErrorCode::OutOfMemory
            | ErrorCode::CannotOpen
            | ErrorCode::DatabaseBusy
            | ErrorCode::DatabaseLocked
            | ErrorCode::FileLockingProtocolFailed
            | ErrorCode::ReadOnly
            | ErrorCode::InternalMalfunction => SqlError::Storage(StorageError::Sqlite(error)),
            _ => SqlError::Query(message),
        }
    }

    /// Drops every trigger, view and table of the guest's (not the host's), for
    /// `delete-all`, under the guest's rules and `deadline`, as the guest's own SQL would.
    /// Triggers go first: dropping a table first deletes its rows, and a foreign key cascade
    /// from there would fire the guest's triggers on other tables. Foreign keys are deferred
    /// meanwhile, so that tables can go in any order.
    pub(super) fn drop_guest_schema(
        &mut self,
        deadline: Option<Instant>,
    ) -> Result<(), StorageError> {
        let deferred: bool = self
            .conn
            .query_row("PRAGMA defer_foreign_keys", [], |row| row.get(0))?;
        self.conn.execute_batch("PRAGMA defer_foreign_keys = ON")?;
        let dropped = self.drop_guest_objects(deadline);
        let restore = if deferred { "ON" } else { "OFF" };
        self.conn
            .execute_batch(&format!("PRAGMA defer_foreign_keys = {restore}"))?;
        dropped
    }

    fn drop_guest_objects(&self, deadline: Option<Instant>) -> Result<(), StorageError> {
        // Triggers, then views, then virtual tables (which drop their shadow tables), then
        // tables; indexes go with their tables.
        // A table that another still references goes after it: dropping a parent first
        // checks the child's foreign key, which fails if that key is malformed ("foreign key
        // mismatch") even though everything is going.
        let next = "SELECT type, name FROM sqlite_schema AS s
             WHERE type IN ('trigger', 'view', 'table')
               AND name NOT LIKE '\\_wdo\\_%' ESCAPE '\\' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'
             ORDER BY type <> 'trigger', type = 'table',
                      coalesce(sql, '') NOT LIKE 'CREATE VIRTUAL%',
                      EXISTS (SELECT 1 FROM sqlite_schema AS c, pragma_foreign_key_list(c.name) AS f
                              WHERE c.type = 'table' AND c.name <> s.name
                                AND f.\"table\" = s.name COLLATE NOCASE),
                      name
             LIMIT 1";
        let _guest = self.guard.enter(&self.conn, &self.limits, deadline)?;
        loop {
            let object: Option<(String, String)> = {
                use rusqlite::OptionalExtension;
                self.conn
                    .query_row(next, [], |row| Ok((row.get(0)?, row.get(1)?)))
                    .optional()
                    .map_err(|e| self.drop_error(e, "list"))?
            };
            let Some((kind, name)) = object else {
                return Ok(());
            };
            let kind = match kind.as_str() {
                "trigger" => "TRIGGER",
                "view" => "VIEW",
                _ => "TABLE",
            };
            let quoted = name.replace('"', "\"\"");
            self.conn
                .execute_batch(&format!("DROP {kind} \"{quoted}\""))
                .map_err(|e| self.drop_error(e, &format!("drop {kind} {name:?}")))?;
        }
    }

    /// The error of a statement of `delete-all` that failed in guest mode.
    fn drop_error(&self, error: rusqlite::Error, what: &str) -> StorageError {
        if let Some(refusal) = self.guard.take_refusal() {
            return StorageError::InvalidArgument(format!("delete-all cannot {what}: {refusal}"));
        }
        if self.guard.timed_out() {
            return StorageError::TimedOut(format!(
                "the event exceeded its CPU time limit while delete-all ran ({what})"
            ));
        }
        StorageError::Sqlite(error)
    }
}
