//! The object's alarm row, `_wdo_alarm`: written in the same transaction as the turn's
//! other writes, so a rolled-back turn leaves no alarm change.

use rusqlite::OptionalExtension;

use super::{ObjectStorage, Result, StorageError};

/// 2000-01-01T00:00:00Z in Unix milliseconds: anything earlier is surely a unit mistake.
pub const EARLIEST_ALARM_MS: u64 = 946_684_800_000;

pub(super) const ALARM_SCHEMA: &str = "CREATE TABLE IF NOT EXISTS _wdo_alarm (
    id INTEGER PRIMARY KEY CHECK (id = 1), scheduled_ms INTEGER NOT NULL);";

/// The alarm row of the object database at `db`, read from the file (for a restore, with
/// no host running).
pub fn alarm_in_file(db: &std::path::Path) -> rusqlite::Result<Option<u64>> {
    let conn = rusqlite::Connection::open_with_flags(
        db,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    let ms: Option<i64> = conn
        .query_row(
            "SELECT scheduled_ms FROM _wdo_alarm WHERE id = 1",
            [],
            |row| row.get(0),
        )
        .optional()?;
    Ok(ms.map(|ms| ms as u64))
}

impl ObjectStorage {
    pub fn get_alarm(&mut self) -> Result<Option<u64>> {
        self.check_open("get the alarm")?;
        self.read_alarm()
    }

    /// The alarm row, whatever the state of the guest's transactions (for the host).
    pub fn read_alarm(&self) -> Result<Option<u64>> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT scheduled_ms FROM _wdo_alarm WHERE id = 1")?;
        let ms: Option<i64> = stmt.query_row([], |row| row.get(0)).optional()?;
        Ok(ms.map(|ms| ms as u64))
    }

    pub fn set_alarm(&mut self, scheduled_ms: u64) -> Result<()> {
        self.check_open("set the alarm")?;
        if scheduled_ms < EARLIEST_ALARM_MS {
            return Err(StorageError::InvalidArgument(format!(
                "set-alarm takes Unix milliseconds; {scheduled_ms} is before the year 2000"
            )));
        }
        let ms = i64::try_from(scheduled_ms).map_err(|_| {
            StorageError::InvalidArgument(format!("alarm time {scheduled_ms} is out of range"))
        })?;
        self.conn
            .prepare_cached(
                "INSERT INTO _wdo_alarm (id, scheduled_ms) VALUES (1, ?1)
                 ON CONFLICT(id) DO UPDATE SET scheduled_ms = excluded.scheduled_ms",
            )?
            .execute([ms])?;
        self.alarm_touched = true;
        Ok(())
    }

    pub fn delete_alarm(&mut self) -> Result<()> {
        self.check_open("delete the alarm")?;
        self.clear_alarm()
    }

    /// Removes the alarm row (for the host: before running the handler, or when dropping it).
    pub fn clear_alarm(&mut self) -> Result<()> {
        self.conn
            .prepare_cached("DELETE FROM _wdo_alarm WHERE id = 1")?
            .execute([])?;
        self.alarm_touched = true;
        Ok(())
    }

    /// Whether a turn since the last call may have changed the alarm; resets the flag.
    pub fn take_alarm_touched(&mut self) -> bool {
        std::mem::take(&mut self.alarm_touched)
    }
}
