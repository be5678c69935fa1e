//! `wdo objects list|show|export|import|delete|evict`: a namespace's objects
//! (`GET .../objects`, paged by id) and one object's summary, data and life.

use std::io::IsTerminal;
use std::path::PathBuf;

use clap::Subcommand;
use reqwest::Method;
use serde_json::{json, Value};

use super::client::{Client, Path};
use super::output::{self, Output};
use super::{transfer, Error, ObjectArgs};

#[derive(Subcommand)]
pub enum ObjectsCommand {
    /// A namespace's objects in id order, one page at a time (or --all).
    List {
        namespace: String,
        /// Objects per page, 1 to 1000 (the host's default: 100; with --all: 1000).
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..=1000))]
        limit: Option<u32>,
        /// Start after this id: the cursor the previous page printed.
        #[arg(long, conflicts_with = "all")]
        cursor: Option<String>,
        /// Every page, one after the other.
        #[arg(long)]
        all: bool,
    },
    /// One object: id, name, size, last write, live, alarm, sockets.
    Show(ObjectArgs),
    /// Copy an object's database (consistent, taken in its serial order) into a SQLite file.
    Export {
        #[command(flatten)]
        object: ObjectArgs,
        /// The file (default: <object>.sqlite); `-` writes to stdout.
        #[arg(short, long)]
        output: Option<PathBuf>,
        /// Replace the file if it exists.
        #[arg(long)]
        force: bool,
    },
    /// Replace an object's database by a SQLite file (checked by the host first).
    Import {
        #[command(flatten)]
        object: ObjectArgs,
        /// The SQLite file, e.g. one `wdo objects export` wrote.
        file: PathBuf,
    },
    /// Delete an object's data: its keys, tables and alarm.
    Delete {
        #[command(flatten)]
        object: ObjectArgs,
        /// Do not ask (required when stdin is not a terminal).
        #[arg(short, long)]
        yes: bool,
    },
    /// Retire a live object now (it finishes what is queued first).
    Evict(ObjectArgs),
}

pub async fn run(client: &Client, out: &Output, command: ObjectsCommand) -> Result<(), Error> {
    match command {
        ObjectsCommand::List {
            namespace,
            limit,
            cursor,
            all,
        } => list(client, out, &namespace, limit, cursor, all).await,
        ObjectsCommand::Show(object) => {
            let value = client.get(&object.path(&[])).await?;
            out.answer(&value, |value| describe(&object, value))
        }
        ObjectsCommand::Export {
            object,
            output,
            force,
        } => transfer::export(client, out, &object, output, force).await,
        ObjectsCommand::Import { object, file } => {
            transfer::import(client, out, &object, &file).await
        }
        ObjectsCommand::Delete { object, yes } => {
            if !yes {
                confirm(client, &object).await?;
            }
            let value = client.json(Method::DELETE, &object.path(&[]), None).await?;
            out.answer(&value, |_| format!("deleted the data of {object}"))
        }
        ObjectsCommand::Evict(object) => {
            let path = object.path(&["evict"]);
            let value = client.json(Method::POST, &path, None).await?;
            out.answer(&value, |value| {
                if value["evicted"].as_bool().unwrap_or(false) {
                    format!("evicted {object}")
                } else {
                    format!("{object} was not live")
                }
            })
        }
    }
}

async fn list(
    client: &Client,
    out: &Output,
    namespace: &str,
    limit: Option<u32>,
    cursor: Option<String>,
    all: bool,
) -> Result<(), Error> {
    let path = Path::new(&["v1", "namespaces", namespace, "objects"]);
    let limit = limit.or(all.then_some(1000));
    let (objects, next) = client.pages(&path, "objects", limit, cursor, all).await?;
    if out.json {
        return output::print_json(&json!({ "objects": objects, "cursor": next }));
    }
    let mut table = output::table(
        &[
            "NAME",
            "ID",
            "SIZE",
            "LAST WRITE",
            "LIVE",
            "ALARM",
            "SOCKETS",
        ],
        &["SIZE", "SOCKETS"],
    );
    for object in &objects {
        table.add_row(vec![
            object["name"].as_str().unwrap_or("-").to_string(),
            object["id"].as_str().unwrap_or("-").to_string(),
            output::bytes(object["sizeBytes"].as_u64().unwrap_or(0)),
            output::time(object["lastWriteMs"].as_u64()),
            output::yes_no(&object["live"]).to_string(),
            output::time(object["alarmMs"].as_u64()),
            object["sockets"].as_u64().unwrap_or(0).to_string(),
        ]);
    }
    if objects.is_empty() {
        output::print(&format!("no objects in namespace {namespace:?}"))?;
    } else {
        output::print(&output::render(&table))?;
    }
    if let Some(next) = next {
        eprintln!("more objects: --cursor {next} (or --all)");
    }
    Ok(())
}

/// One object as two aligned columns.
fn describe(object: &ObjectArgs, value: &Value) -> String {
    let alarm = value["alarmMs"]
        .as_u64()
        .map_or("-".to_string(), output::when);
    let rows = [
        ("namespace", object.namespace.clone()),
        ("name", value["name"].as_str().unwrap_or("-").to_string()),
        ("id", value["id"].as_str().unwrap_or("-").to_string()),
        (
            "size",
            output::bytes(value["sizeBytes"].as_u64().unwrap_or(0)),
        ),
        ("last write", output::time(value["lastWriteMs"].as_u64())),
        ("live", output::yes_no(&value["live"]).to_string()),
        ("alarm", alarm),
        (
            "sockets",
            value["sockets"].as_u64().unwrap_or(0).to_string(),
        ),
    ];
    rows.iter()
        .map(|(key, value)| format!("{key:<12}{value}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Asks on the terminal; refuses to go on without one.
async fn confirm(client: &Client, object: &ObjectArgs) -> Result<(), Error> {
    if !std::io::stdin().is_terminal() {
        return Err(Error::Usage(format!(
            "refusing to delete the data of {object} without --yes: stdin is not a terminal \
             to confirm on"
        )));
    }
    // An unknown object is said before asking about it.
    client.get(&object.path(&[])).await?;
    eprint!("Delete every key, table and the alarm of {object}? This cannot be undone. [y/N] ");
    let mut answer = String::new();
    std::io::stdin()
        .read_line(&mut answer)
        .map_err(|e| Error::Failed(format!("cannot read the answer: {e}")))?;
    match answer.trim().to_ascii_lowercase().as_str() {
        "y" | "yes" => Ok(()),
        _ => Err(Error::Failed(format!(
            "not deleted: the data of {object} stays"
        ))),
    }
}
