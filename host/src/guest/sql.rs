//! The host side of the WIT `sql` interface: converts values, results and errors between
//! WIT and [`crate::storage`], and counts the time SQL runs against the event's CPU limit.
//!
//! Every error the guest's SQL can cause comes back as a WIT error. Two kinds also fail the
//! turn, whatever the guest does next: a full database or a storage engine failure (the
//! turn is rolled back and answered 500), and running out of CPU time (a trap, as in wasm).

use std::time::{Duration, Instant};

use super::bindings::sql;
use super::blocking::may_block;
use super::ctx::ObjectCtx;
use super::engine::EPOCH_TICK;
use crate::storage::{SqlError, SqlOutput, SqlValue};

impl sql::Host for ObjectCtx {
    fn exec(
        &mut self,
        query: String,
        params: Vec<sql::Value>,
    ) -> wasmtime::Result<Result<sql::Cursor, sql::Error>> {
        let params: Vec<SqlValue> = params.into_iter().map(from_wit).collect();
        let started = Instant::now();
        let deadline = started.checked_add(self.cpu_time_left());
        let result = may_block(|| self.storage().sql_exec(&query, &params, deadline));
        self.charge_cpu_time(started.elapsed());
        match result {
            Ok(output) => Ok(Ok(to_wit(output))),
            Err(SqlError::TimedOut) => Err(wasmtime::Error::msg(
                "the event exceeded its CPU time limit (while running SQL)",
            )),
            Err(error) => Ok(Err(self.sql_error(error))),
        }
    }

    fn database_size(&mut self) -> wasmtime::Result<u64> {
        self.storage().database_size().map_err(|e| {
            wasmtime::Error::msg(format!("cannot read the object's database size: {e}"))
        })
    }
}

impl ObjectCtx {
    /// What is left of the event's CPU time (counted in epoch ticks).
    pub(super) fn cpu_time_left(&self) -> Duration {
        let ticks = self.ticks_allowed.saturating_sub(self.ticks_used);
        EPOCH_TICK.saturating_mul(u32::try_from(ticks).unwrap_or(u32::MAX))
    }

    /// Wasm time is counted by the epoch callback; time spent in SQL is added here.
    pub(super) fn charge_cpu_time(&mut self, spent: Duration) {
        let ticks = spent.as_nanos() / EPOCH_TICK.as_nanos();
        self.ticks_used = self
            .ticks_used
            .saturating_add(u64::try_from(ticks).unwrap_or(u64::MAX));
    }

    /// The WIT error for `error`, remembering failures that must fail the turn.
    fn sql_error(&mut self, error: SqlError) -> sql::Error {
        if error.fails_turn() {
            tracing::error!(namespace = %self.info.namespace, object = %self.info.id_text, "SQL failure: {error}");
            self.storage_full |= crate::storage::is_disk_full(&error);
            self.storage_failed = Some(error.to_string());
        }
        let code = match &error {
            SqlError::Query(_) => sql::ErrorCode::QueryFailed,
            SqlError::Constraint(_) => sql::ErrorCode::Constraint,
            SqlError::NotAuthorized(_) => sql::ErrorCode::NotAuthorized,
            SqlError::InvalidArgument(_) => sql::ErrorCode::InvalidArgument,
            SqlError::LimitExceeded(_) => sql::ErrorCode::LimitExceeded,
            SqlError::TransactionClosed(_) => sql::ErrorCode::TransactionClosed,
            SqlError::DatabaseFull(_) => sql::ErrorCode::DatabaseFull,
            SqlError::TimedOut | SqlError::Storage(_) => sql::ErrorCode::Internal,
        };
        sql::Error {
            code,
            message: error.to_string(),
        }
    }
}

fn from_wit(value: sql::Value) -> SqlValue {
    match value {
        sql::Value::Null => SqlValue::Null,
        sql::Value::Integer(n) => SqlValue::Integer(n),
        sql::Value::Real(x) => SqlValue::Real(x),
        sql::Value::Text(text) => SqlValue::Text(text),
        sql::Value::Blob(bytes) => SqlValue::Blob(bytes),
    }
}

fn to_wit(output: SqlOutput) -> sql::Cursor {
    let value = |value: SqlValue| match value {
        SqlValue::Null => sql::Value::Null,
        SqlValue::Integer(n) => sql::Value::Integer(n),
        SqlValue::Real(x) => sql::Value::Real(x),
        SqlValue::Text(text) => sql::Value::Text(text),
        SqlValue::Blob(bytes) => sql::Value::Blob(bytes),
    };
    sql::Cursor {
        columns: output.columns,
        rows: output
            .rows
            .into_iter()
            .map(|row| row.into_iter().map(value).collect())
            .collect(),
        rows_read: output.rows_read,
        rows_written: output.rows_written,
    }
}
