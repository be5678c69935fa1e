//! An object's SQL: `GET .../sql/tables`, `GET .../sql/tables/<table>/rows?offset=&limit=`,
//! and `POST .../sql` with `{"sql": "...", "write": false, "maxRows": 100}`: one statement,
//! refused if it writes unless `write` is true; each run is logged with who sent it.

use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};

use super::super::response::{error_response, Body};
use super::{json_body, limit, query, who, Object};
use crate::host::Host;
use crate::objects::AdminRequest;

/// The most rows one answer carries.
const MAX_ROWS: usize = 1000;

pub async fn tables(host: &Host, object: &Object) -> Response<Body> {
    object.answer(host, AdminRequest::Tables).await
}

pub async fn rows(
    host: &Host,
    object: &Object,
    table: &str,
    request: &Request<Incoming>,
) -> Response<Body> {
    let query = query(request);
    let limit = match limit(&query, 100, MAX_ROWS) {
        Ok(limit) => limit,
        Err(response) => return response,
    };
    let offset = match query.get("offset").map(|o| o.parse::<u64>()) {
        None => 0,
        Some(Ok(offset)) if offset <= i64::MAX as u64 => offset,
        Some(_) => {
            return error_response(
                StatusCode::BAD_REQUEST,
                format!("offset must be a whole number, not {:?}", query["offset"]),
            )
        }
    };
    let table = table.to_string();
    let request = AdminRequest::Rows {
        table,
        offset,
        limit,
    };
    object.answer(host, request).await
}

pub async fn run(host: &Host, object: &Object, request: Request<Incoming>) -> Response<Body> {
    let who = who(&request);
    let body = match json_body(request).await {
        Ok(body) => body,
        Err(response) => return response,
    };
    let bad = |message: &str| error_response(StatusCode::BAD_REQUEST, message);
    let Some(sql) = body["sql"].as_str() else {
        return bad("the body must be {\"sql\": \"...\"} (with \"write\": true to allow writes)");
    };
    let write = match &body["write"] {
        serde_json::Value::Null => false,
        serde_json::Value::Bool(write) => *write,
        _ => return bad("write must be true or false"),
    };
    let max_rows = match &body["maxRows"] {
        serde_json::Value::Null => 100,
        value => match value.as_u64() {
            Some(n) if (1..=MAX_ROWS as u64).contains(&n) => n as usize,
            _ => {
                return bad(&format!(
                    "maxRows must be a whole number from 1 to {MAX_ROWS}"
                ))
            }
        },
    };
    let request = AdminRequest::Sql {
        sql: sql.to_string(),
        write,
        max_rows,
        who,
    };
    object.answer(host, request).await
}
