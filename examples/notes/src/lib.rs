//! `notes`: SQL. Notes live in the object's own table
//! `notes(id INTEGER PRIMARY KEY, text TEXT NOT NULL, created INTEGER NOT NULL)`, created
//! when the object starts if it is missing.
//!
//! - `POST /` `{"text": X}` → 201 `{"id": I}`.
//! - `GET /?q=W` → `{"notes": [{"id", "text", "created"}...]}`: the notes whose text
//!   contains W (a bound parameter, never SQL built from strings), by id; without q, all.
//! - `DELETE /{id}` → `{"deleted": 0|1}`.
//! - `GET /stats` → `{"count": C, "databaseSize": bytes}`.
//!
//! A SQL error that reaches the handler through `?` is answered 500 and rolls the event's
//! writes back.

use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use wdo_sdk::{export_object, params, DurableObject, Error, Request, Response, Sql, State};

const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS notes (
    id INTEGER PRIMARY KEY,
    text TEXT NOT NULL,
    created INTEGER NOT NULL
)";

struct Notes {
    sql: Sql,
}

#[derive(Deserialize)]
struct NewNote {
    text: String,
}

#[derive(Serialize, Deserialize)]
struct Note {
    id: i64,
    text: String,
    created: i64,
}

#[derive(Serialize)]
struct Created {
    id: i64,
}

#[derive(Serialize)]
struct Found {
    notes: Vec<Note>,
}

#[derive(Serialize)]
struct Deleted {
    deleted: u64,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Stats {
    count: i64,
    database_size: u64,
}

impl Notes {
    fn add(&self, request: &Request) -> Result<Response, Error> {
        let note: NewNote = request.json()?;
        let id: i64 = self
            .sql
            .exec(
                "INSERT INTO notes (text, created) VALUES (?, ?) RETURNING id",
                params![note.text, now_ms()],
            )?
            .one()?;
        Ok(Response::json(&Created { id }).with_status(201))
    }

    fn search(&self, contains: Option<String>) -> Result<Response, Error> {
        let cursor = match contains {
            Some(word) => self.sql.exec(
                "SELECT id, text, created FROM notes WHERE instr(text, ?) > 0 ORDER BY id",
                params![word],
            )?,
            None => self
                .sql
                .exec("SELECT id, text, created FROM notes ORDER BY id", params![])?,
        };
        Ok(Response::json(&Found {
            notes: cursor.to_vec()?,
        }))
    }

    fn delete(&self, id: &str) -> Result<Response, Error> {
        let id: i64 = id
            .parse()
            .map_err(|_| Error::bad_request(format!("note id {id:?} is not an integer")))?;
        let deleted = self
            .sql
            .exec("DELETE FROM notes WHERE id = ?", params![id])?
            .rows_written();
        Ok(Response::json(&Deleted { deleted }))
    }

    fn stats(&self) -> Result<Response, Error> {
        let count = self
            .sql
            .exec("SELECT count(*) FROM notes", params![])?
            .one()?;
        Ok(Response::json(&Stats {
            count,
            database_size: self.sql.database_size(),
        }))
    }
}

impl DurableObject for Notes {
    fn new(state: State) -> Self {
        let sql = state.storage().sql();
        // Runs in the first event's turn: if it fails, that event fails and is rolled back.
        sql.exec(SCHEMA, params![])
            .expect("cannot create the notes table");
        Notes { sql }
    }

    fn fetch(&mut self, request: Request) -> Result<Response, Error> {
        let method = request.method();
        match request.segments().as_slice() {
            [] if method == "POST" => self.add(&request),
            [] if method == "GET" => self.search(request.query("q")),
            ["stats"] if method == "GET" => self.stats(),
            [id] if method == "DELETE" => self.delete(id),
            [] => Err(Error::method_not_allowed("use GET or POST")),
            ["stats"] => Err(Error::method_not_allowed("use GET")),
            [_] => Err(Error::method_not_allowed("use DELETE")),
            _ => Ok(Response::not_found()),
        }
    }
}

fn now_ms() -> i64 {
    let since_epoch = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(since_epoch.as_millis()).unwrap_or(i64::MAX)
}

export_object!(Notes);
