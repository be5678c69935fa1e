//! `wdo kv get|put|list|delete`: an object's key-value entries (`.../kv`). Values are bytes:
//! `get` writes the raw value, `put` takes it from the argument, stdin (`-`) or a file.

use std::io::{IsTerminal, Read};
use std::path::PathBuf;

use clap::Subcommand;
use reqwest::Method;
use serde_json::{json, Value};

use super::client::Client;
use super::output::{self, Output};
use super::{Error, ObjectArgs};

#[derive(Subcommand)]
pub enum KvCommand {
    /// Write one value to stdout, raw (a newline is added only on a terminal).
    Get {
        #[command(flatten)]
        object: ObjectArgs,
        key: String,
    },
    /// Set one value: VALUE, `-` for stdin, or --file.
    Put {
        #[command(flatten)]
        object: ObjectArgs,
        key: String,
        /// The value as text; `-` reads it from stdin.
        #[arg(required_unless_present = "file")]
        value: Option<String>,
        /// Read the value from this file.
        #[arg(long, conflicts_with = "value")]
        file: Option<PathBuf>,
    },
    /// Entries in key order, one page at a time (or --all).
    List {
        #[command(flatten)]
        object: ObjectArgs,
        /// Only keys that start with this.
        #[arg(long)]
        prefix: Option<String>,
        /// Entries per page, 1 to 1000 (the host's default: 100; with --all: 1000).
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..=1000))]
        limit: Option<u32>,
        /// Start after this key: the cursor the previous page printed.
        #[arg(long, conflicts_with = "all")]
        cursor: Option<String>,
        /// Every page, one after the other.
        #[arg(long)]
        all: bool,
    },
    /// Delete one key.
    Delete {
        #[command(flatten)]
        object: ObjectArgs,
        key: String,
    },
}

pub async fn run(client: &Client, out: &Output, command: KvCommand) -> Result<(), Error> {
    match command {
        KvCommand::Get { object, key } => {
            let value = client.get(&object.path(&["kv", &key])).await?;
            if out.json {
                return output::print_json(&value);
            }
            let mut bytes = raw(&value)?;
            if std::io::stdout().is_terminal() && !bytes.ends_with(b"\n") {
                bytes.push(b'\n');
            }
            output::write_stdout(&bytes)
        }
        KvCommand::Put {
            object,
            key,
            value,
            file,
        } => {
            let bytes = read_value(value, file)?;
            let request = client
                .request(Method::PUT, &object.path(&["kv", &key]))?
                .body(bytes);
            let value = client.read_json(client.send(request).await?).await?;
            out.answer(&value, |value| {
                let size = value["size"].as_u64().unwrap_or(0);
                format!("put {key:?} in {object} ({})", output::bytes(size))
            })
        }
        KvCommand::List {
            object,
            prefix,
            limit,
            cursor,
            all,
        } => list(client, out, &object, prefix, limit, cursor, all).await,
        KvCommand::Delete { object, key } => {
            let path = object.path(&["kv", &key]);
            let value = client.json(Method::DELETE, &path, None).await?;
            out.answer(&value, |value| {
                if value["deleted"].as_bool().unwrap_or(false) {
                    format!("deleted {key:?} from {object}")
                } else {
                    format!("{object} has no key {key:?}; nothing deleted")
                }
            })
        }
    }
}

/// An entry's value as bytes: `value` (text) or `valueHex`.
fn raw(entry: &Value) -> Result<Vec<u8>, Error> {
    if let Some(text) = entry["value"].as_str() {
        return Ok(text.as_bytes().to_vec());
    }
    let hex_text = entry["valueHex"].as_str().unwrap_or_default();
    hex::decode(hex_text).map_err(|e| Error::Failed(format!("the host's valueHex is not hex: {e}")))
}

fn read_value(value: Option<String>, file: Option<PathBuf>) -> Result<Vec<u8>, Error> {
    match (value, file) {
        (_, Some(file)) => std::fs::read(&file)
            .map_err(|e| Error::Usage(format!("cannot read {}: {e}", file.display()))),
        (Some(value), None) if value == "-" => {
            let mut bytes = Vec::new();
            std::io::stdin()
                .read_to_end(&mut bytes)
                .map_err(|e| Error::Failed(format!("cannot read the value from stdin: {e}")))?;
            Ok(bytes)
        }
        (Some(value), None) => Ok(value.into_bytes()),
        (None, None) => Err(Error::Usage("give a VALUE, `-` or --file".into())),
    }
}

async fn list(
    client: &Client,
    out: &Output,
    object: &ObjectArgs,
    prefix: Option<String>,
    limit: Option<u32>,
    cursor: Option<String>,
    all: bool,
) -> Result<(), Error> {
    let limit = limit.or(all.then_some(1000));
    let mut path = object.path(&["kv"]);
    if let Some(prefix) = &prefix {
        path = path.query("prefix", prefix);
    }
    let (entries, next) = client.pages(&path, "entries", limit, cursor, all).await?;
    if out.json {
        return output::print_json(&json!({ "entries": entries, "cursor": next }));
    }
    let mut table = output::table(&["KEY", "SIZE", "VALUE"], &["SIZE"]);
    for entry in &entries {
        let shown = match entry["value"].as_str() {
            Some(text) => output::clip(text, 60),
            None => format!(
                "x'{}'",
                output::clip(entry["valueHex"].as_str().unwrap_or(""), 60)
            ),
        };
        table.add_row(vec![
            output::clip(entry["key"].as_str().unwrap_or(""), 60),
            output::bytes(entry["size"].as_u64().unwrap_or(0)),
            shown,
        ]);
    }
    if entries.is_empty() {
        output::print(&format!("no entries in {object}"))?;
    } else {
        output::print(&output::render(&table))?;
    }
    if let Some(next) = next {
        eprintln!("more entries: --cursor {next:?} (or --all)");
    }
    Ok(())
}
