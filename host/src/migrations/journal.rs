//! `<data-dir>/migrations.sqlite`: the migrations applied to this data directory, in order,
//! and the plan of the ones being applied (each step with its done flag), so that a start
//! interrupted half-way can be finished by the next one. Every commit is fsynced
//! (`synchronous=FULL`): a migration moves data, and forgetting that it did would apply it
//! twice.

use std::path::Path;

use rusqlite::{params, Connection};

use super::plan::Step;

pub const FILE_NAME: &str = "migrations.sqlite";

pub struct Journal {
    conn: Connection,
}

/// A migration as recorded: its tag and its content (the config entry as JSON).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    pub tag: String,
    pub content: String,
}

/// A plan written before its steps ran: the migrations it applies and its steps, with
/// whether each is done.
pub struct Plan {
    pub migrations: Vec<Recorded>,
    pub steps: Vec<(Step, bool)>,
}

impl Journal {
    /// Whether the data directory has a journal (a host that never had migrations has none).
    pub fn exists(data_dir: &Path) -> bool {
        data_dir.join(FILE_NAME).exists()
    }

    pub fn open(data_dir: &Path) -> rusqlite::Result<Journal> {
        let conn = Connection::open(data_dir.join(FILE_NAME))?;
        conn.execute_batch(
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA busy_timeout=5000;
             CREATE TABLE IF NOT EXISTS applied (
                 seq INTEGER PRIMARY KEY, tag TEXT NOT NULL UNIQUE, content TEXT NOT NULL,
                 applied_ms INTEGER NOT NULL);
             CREATE TABLE IF NOT EXISTS plan (
                 seq INTEGER PRIMARY KEY, tag TEXT NOT NULL, content TEXT NOT NULL);
             CREATE TABLE IF NOT EXISTS plan_steps (
                 seq INTEGER PRIMARY KEY, step TEXT NOT NULL, done INTEGER NOT NULL);",
        )?;
        Ok(Journal { conn })
    }

    pub fn applied(&self) -> rusqlite::Result<Vec<Recorded>> {
        self.recorded("SELECT tag, content FROM applied ORDER BY seq")
    }

    fn recorded(&self, sql: &str) -> rusqlite::Result<Vec<Recorded>> {
        let mut stmt = self.conn.prepare(sql)?;
        let rows = stmt.query_map([], |row| {
            Ok(Recorded {
                tag: row.get(0)?,
                content: row.get(1)?,
            })
        })?;
        rows.collect()
    }

    /// The plan of an interrupted start, if there is one.
    pub fn plan(&self) -> rusqlite::Result<Option<Plan>> {
        let migrations = self.recorded("SELECT tag, content FROM plan ORDER BY seq")?;
        if migrations.is_empty() {
            return Ok(None);
        }
        let mut stmt = self
            .conn
            .prepare("SELECT step, done FROM plan_steps ORDER BY seq")?;
        let steps = stmt
            .query_map([], |row| {
                let text: String = row.get(0)?;
                let step = serde_json::from_str(&text).map_err(|e| {
                    rusqlite::Error::FromSqlConversionFailure(
                        0,
                        rusqlite::types::Type::Text,
                        Box::new(e),
                    )
                })?;
                Ok((step, row.get(1)?))
            })?
            .collect::<rusqlite::Result<_>>()?;
        Ok(Some(Plan { migrations, steps }))
    }

    /// Writes the plan, durably, before any of its steps runs.
    pub fn write_plan(&mut self, migrations: &[Recorded], steps: &[Step]) -> rusqlite::Result<()> {
        let tx = self.conn.transaction()?;
        tx.execute("DELETE FROM plan", [])?;
        tx.execute("DELETE FROM plan_steps", [])?;
        for (seq, m) in migrations.iter().enumerate() {
            tx.execute(
                "INSERT INTO plan (seq, tag, content) VALUES (?1, ?2, ?3)",
                params![seq as i64, m.tag, m.content],
            )?;
        }
        for (seq, step) in steps.iter().enumerate() {
            let text = serde_json::to_string(step).expect("a step serializes");
            tx.execute(
                "INSERT INTO plan_steps (seq, step, done) VALUES (?1, ?2, 0)",
                params![seq as i64, text],
            )?;
        }
        tx.commit()
    }

    pub fn mark_done(&self, step: usize) -> rusqlite::Result<()> {
        self.conn.execute(
            "UPDATE plan_steps SET done = 1 WHERE seq = ?1",
            [step as i64],
        )?;
        Ok(())
    }

    /// Records the plan's migrations as applied and forgets the plan, in one commit.
    pub fn finish_plan(&mut self) -> rusqlite::Result<()> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        let tx = self.conn.transaction()?;
        let next: i64 = tx.query_row(
            "SELECT coalesce(max(seq), -1) + 1 FROM applied",
            [],
            |row| row.get(0),
        )?;
        tx.execute(
            "INSERT INTO applied (seq, tag, content, applied_ms)
             SELECT ?1 + seq, tag, content, ?2 FROM plan",
            params![next, now],
        )?;
        tx.execute("DELETE FROM plan", [])?;
        tx.execute("DELETE FROM plan_steps", [])?;
        tx.commit()
    }
}
