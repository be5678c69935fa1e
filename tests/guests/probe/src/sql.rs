//! The probe's SQL paths. Queries come in the body as `{"query": Q, "params": [...]}`;
//! a parameter is JSON null, a boolean, a number, a string, `{"blob": [bytes]}`, or
//! `{"text": N}` for a text of N bytes made here (to test limits without huge bodies).
//!
//! - `POST /sql`: runs the query and answers 200 with the cursor, or 200 with
//!   `{"error": {"code", "message"}}`: the error is caught, so the turn commits.
//! - `POST /sql-propagate` `{"queries": [Q...]}`: puts the key `before`, then runs the
//!   queries, propagating the first error with `?`: the turn is rolled back.
//! - `POST /sql-then-trap`: runs the query, then panics.
//! - `POST /sql-in-transaction?commit=true|false`: in an explicit storage transaction, puts
//!   the key `in-transaction` and runs the query, then commits or rolls back.
//! - `GET /sql-size`: `{"size": database-size}`.

use serde::Deserialize;
use serde_json::{json, Value};
use wdo_sdk::{Cursor, Error, Request, Response, SqlError, SqlValue, State};

#[derive(Deserialize)]
struct Query {
    #[serde(default)]
    query: String,
    #[serde(default)]
    params: Vec<Value>,
    #[serde(default)]
    queries: Vec<String>,
}

pub fn handle(state: &State, request: &Request) -> Result<Response, Error> {
    let storage = state.storage();
    let sql = storage.sql();
    if request.path() == "/sql-size" {
        return Ok(Response::json(&json!({"size": sql.database_size()})));
    }
    let body: Query = request.json()?;
    let params = body
        .params
        .iter()
        .map(param)
        .collect::<Result<Vec<_>, _>>()?;
    match request.path() {
        "/sql" => Ok(Response::json(&match sql.exec(&body.query, &params) {
            Ok(cursor) => cursor_json(&cursor),
            Err(error) => error_json(&error),
        })),
        "/sql-propagate" => {
            storage.put("before", &true)?;
            for query in &body.queries {
                sql.exec(query, &[])?;
            }
            Ok(Response::json(&json!({"ok": true})))
        }
        "/sql-then-trap" => {
            sql.exec(&body.query, &params)?;
            panic!("probe: trapping on purpose after SQL");
        }
        "/sql-in-transaction" => {
            let commit = request.query("commit").as_deref() == Some("true");
            let outcome = storage.transaction(|storage| {
                storage.put("in-transaction", &true)?;
                storage.sql().exec(&body.query, &params)?;
                if commit {
                    Ok(())
                } else {
                    Err(Error::bad_request("rolled back on purpose"))
                }
            });
            Ok(Response::json(&json!({"committed": outcome.is_ok()})))
        }
        _ => Ok(Response::not_found()),
    }
}

fn param(value: &Value) -> Result<SqlValue, Error> {
    Ok(match value {
        Value::Null => SqlValue::Null,
        Value::Bool(b) => SqlValue::from(*b),
        Value::Number(n) => match n.as_i64() {
            Some(n) => SqlValue::Integer(n),
            None => SqlValue::Real(n.as_f64().unwrap_or(f64::NAN)),
        },
        Value::String(text) => SqlValue::Text(text.clone()),
        Value::Object(map) => match (map.get("blob"), map.get("text")) {
            (Some(bytes), _) => SqlValue::Blob(
                serde_json::from_value(bytes.clone())
                    .map_err(|e| Error::bad_request(format!("bad blob: {e}")))?,
            ),
            (_, Some(Value::Number(n))) => {
                SqlValue::Text("x".repeat(n.as_u64().unwrap_or(0) as usize))
            }
            _ => return Err(Error::bad_request("unknown parameter object")),
        },
        Value::Array(_) => return Err(Error::bad_request("a parameter cannot be an array")),
    })
}

fn cursor_json(cursor: &Cursor) -> Value {
    let value = |value: &SqlValue| match value {
        SqlValue::Null => Value::Null,
        SqlValue::Integer(n) => json!(n),
        SqlValue::Real(x) => json!(x),
        SqlValue::Text(text) => json!(text),
        SqlValue::Blob(bytes) => json!({ "blob": bytes }),
    };
    let rows: Vec<Vec<Value>> = cursor
        .raw()
        .iter()
        .map(|row| row.iter().map(value).collect())
        .collect();
    json!({
        "columns": cursor.column_names(),
        "rows": rows,
        "rowsRead": cursor.rows_read(),
        "rowsWritten": cursor.rows_written(),
    })
}

fn error_json(error: &SqlError) -> Value {
    json!({"error": {"code": format!("{:?}", error.code()), "message": error.message()}})
}
