//! Guest mode: the state a connection is in while it runs a guest's SQL, and only then.
//!
//! The authorizer and the progress handler are installed once, when the database is opened
//! (installing an authorizer expires every prepared statement, the host's cached ones
//! included), and act only while guest mode is on. The host's own statements (the key-value
//! table, savepoints) therefore run unrestricted, and are never re-prepared under the
//! guest's rules. Guest mode also tightens SQLite's limits (statement length, parameters,
//! value and row size) and sets a deadline after which running SQL is interrupted.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use rusqlite::hooks::{AuthAction, AuthContext, Authorization};
use rusqlite::limits::Limit;
use rusqlite::Connection;

use super::authorizer::{authorize, Decision};
use super::Limits;

/// How many SQLite virtual-machine instructions run between two deadline checks.
const PROGRESS_INTERVAL: i32 = 10_000;

/// Shared by the connection's authorizer and progress handler, and the storage.
#[derive(Default)]
pub(super) struct SqlGuard {
    active: AtomicBool,
    /// The first refusal since guest mode was entered: SQLite itself only says "not authorized".
    refusal: Mutex<Option<String>>,
    /// An ALTER TABLE was authorized: a rename may have taken a reserved name.
    altered: AtomicBool,
    deadline: Mutex<Option<Instant>>,
    timed_out: AtomicBool,
    /// The guest ran `PRAGMA defer_foreign_keys = ...`: the turn must reset it.
    defer_fk_set: AtomicBool,
}

impl SqlGuard {
    /// Installs the authorizer and the progress handler on `conn`, both idle until
    /// [`enter`](Self::enter) is called.
    pub fn install(conn: &Connection) -> Arc<SqlGuard> {
        let guard = Arc::new(SqlGuard::default());
        let authorizer = guard.clone();
        conn.authorizer(Some(move |context: AuthContext<'_>| {
            authorizer.authorize(&context)
        }));
        let progress = guard.clone();
        conn.progress_handler(PROGRESS_INTERVAL, Some(move || progress.past_deadline()));
        guard
    }

    /// Turns guest mode on until the returned value is dropped.
    pub fn enter<'a>(
        &'a self,
        conn: &'a Connection,
        limits: &Limits,
        deadline: Option<Instant>,
    ) -> rusqlite::Result<GuestMode<'a>> {
        let wanted = [
            (Limit::SQLITE_LIMIT_LENGTH, limits.max_sql_value_bytes),
            (Limit::SQLITE_LIMIT_SQL_LENGTH, limits.max_sql_bytes),
            (Limit::SQLITE_LIMIT_VARIABLE_NUMBER, limits.max_sql_params),
        ];
        let mut saved = Vec::with_capacity(wanted.len());
        for (limit, value) in wanted {
            let value = i32::try_from(value).unwrap_or(i32::MAX);
            saved.push((limit, conn.set_limit(limit, value)?));
        }
        *self.refusal.lock().expect("guard lock") = None;
        *self.deadline.lock().expect("guard lock") = deadline;
        self.altered.store(false, Ordering::Relaxed);
        self.timed_out.store(false, Ordering::Relaxed);
        self.active.store(true, Ordering::Relaxed);
        Ok(GuestMode {
            guard: self,
            conn,
            saved,
        })
    }

    /// Why the last refused action was refused, once.
    pub fn take_refusal(&self) -> Option<String> {
        self.refusal.lock().expect("guard lock").take()
    }

    /// Whether an ALTER TABLE was authorized since the last call.
    pub fn take_altered(&self) -> bool {
        self.altered.swap(false, Ordering::Relaxed)
    }

    /// Whether the guest set `defer_foreign_keys` since the last call. Resetting it only
    /// then matters: setting a flag PRAGMA expires every prepared statement, so doing it
    /// after every turn would re-prepare all of the host's statements on every event.
    pub fn take_defer_fk_set(&self) -> bool {
        self.defer_fk_set.swap(false, Ordering::Relaxed)
    }

    /// Whether running SQL was interrupted because the deadline passed.
    pub fn timed_out(&self) -> bool {
        self.timed_out.load(Ordering::Relaxed)
    }

    fn authorize(&self, context: &AuthContext<'_>) -> Authorization {
        if !self.active.load(Ordering::Relaxed) {
            return Authorization::Allow;
        }
        match context.action {
            AuthAction::AlterTable { .. } => self.altered.store(true, Ordering::Relaxed),
            AuthAction::Pragma {
                pragma_name,
                pragma_value: Some(_),
            } if pragma_name.eq_ignore_ascii_case("defer_foreign_keys") => {
                self.defer_fk_set.store(true, Ordering::Relaxed)
            }
            _ => {}
        }
        match authorize(context) {
            Decision::Allow => Authorization::Allow,
            Decision::Ignore => Authorization::Ignore,
            Decision::Deny(message) => {
                self.refusal
                    .lock()
                    .expect("guard lock")
                    .get_or_insert(message);
                Authorization::Deny
            }
        }
    }

    /// The progress handler: `true` interrupts the running statement.
    fn past_deadline(&self) -> bool {
        if !self.active.load(Ordering::Relaxed) {
            return false;
        }
        let deadline = *self.deadline.lock().expect("guard lock");
        if deadline.is_some_and(|deadline| Instant::now() >= deadline) {
            self.timed_out.store(true, Ordering::Relaxed);
            return true;
        }
        false
    }
}

/// Guest mode, on while this lives; dropping it restores the host's limits.
pub(super) struct GuestMode<'a> {
    guard: &'a SqlGuard,
    conn: &'a Connection,
    saved: Vec<(Limit, i32)>,
}

impl Drop for GuestMode<'_> {
    fn drop(&mut self) {
        self.guard.active.store(false, Ordering::Relaxed);
        *self.guard.deadline.lock().expect("guard lock") = None;
        for (limit, value) in self.saved.drain(..) {
            let _ = self.conn.set_limit(limit, value);
        }
    }
}
