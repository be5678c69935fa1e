//! `wdo sql NS OBJ "SELECT ..."`: one statement on an object's database
//! (`POST .../sql`). The host refuses a statement that writes unless `--write` is given (400,
//! exit code 2), and logs every run with the client's address.

use clap::Args;
use reqwest::Method;
use serde_json::{json, Value};

use super::client::Client;
use super::output::{self, Output};
use super::{Error, ObjectArgs};

#[derive(Args)]
pub struct SqlArgs {
    #[command(flatten)]
    pub object: ObjectArgs,
    /// One SQL statement.
    pub sql: String,
    /// Allow a statement that writes.
    #[arg(long)]
    pub write: bool,
    /// The most rows to print, 1 to 1000 (the host's default: 100).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub max_rows: Option<u32>,
}

pub async fn run(client: &Client, out: &Output, args: SqlArgs) -> Result<(), Error> {
    let mut body = json!({ "sql": args.sql, "write": args.write });
    if let Some(max_rows) = args.max_rows {
        body["maxRows"] = json!(max_rows);
    }
    let path = args.object.path(&["sql"]);
    let value = match client.json(Method::POST, &path, Some(&body)).await {
        Ok(value) => value,
        // The host names its JSON field; say the flag.
        Err(Error::Host {
            status: 400,
            message,
        }) if !args.write && message.contains("write = true") => {
            return Err(Error::Host {
                status: 400,
                message: format!("{message} (wdo sql --write)"),
            })
        }
        Err(e) => return Err(e),
    };
    out.answer(&value, human)
}

/// The rows as a table, then how many and whether more were left out; for a statement
/// without a result (UPDATE, CREATE ...), only what it changed.
fn human(value: &Value) -> String {
    let columns: Vec<&str> = value["columns"]
        .as_array()
        .map(|c| c.iter().map(|c| c.as_str().unwrap_or("?")).collect())
        .unwrap_or_default();
    let rows = value["rows"].as_array().cloned().unwrap_or_default();
    let changes = value["changes"].as_u64().unwrap_or(0);
    let changed = format!("{changes} row{} changed", plural(changes));
    if columns.is_empty() {
        return changed;
    }
    let mut table = output::table(&columns, &[]);
    for row in &rows {
        let cells: Vec<String> = row
            .as_array()
            .map(|r| {
                r.iter()
                    .map(|v| output::clip(&output::cell(v), 80))
                    .collect()
            })
            .unwrap_or_default();
        table.add_row(cells);
    }
    let count = rows.len() as u64;
    let mut text = output::render(&table);
    if value["truncated"].as_bool().unwrap_or(false) {
        text.push_str(&format!(
            "\n({count} rows shown; more were left out: raise --max-rows or page with LIMIT/OFFSET)"
        ));
    } else {
        text.push_str(&format!("\n({count} row{})", plural(count)));
    }
    if changes > 0 {
        text.push_str(&format!("\n{changed}"));
    }
    text
}

fn plural(n: u64) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}
