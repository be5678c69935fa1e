//! The operator's commands (`wdo objects`, `wdo kv`, `wdo sql`, `wdo alarm`,
//! `wdo namespaces`, `wdo reload`): each speaks to a running host through its admin API,
//! never to its files. The client and where it connects (`client.rs`), errors and their exit
//! codes (`error.rs`), one file per command group, and the tables and JSON they print
//! (`output.rs`).
//!
//! Exit codes, for scripts ([`Error::exit_code`]): 0 success; 1 the host failed (5xx) or
//! something unexpected; 2 a usage error (clap's own code), an argument the command refuses,
//! or the host refused the request as bad input (400, 413, 422); 3 not found (404); 4 not
//! authorized (401, 403); 5 the host cannot be reached (refused, timed out).
//!
//! May import: `config` (the client is not a part of the server and imports none of it).

mod alarm;
mod client;
mod error;
mod kv;
mod namespaces;
mod objects;
mod output;
mod sql;
mod transfer;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Subcommand};

pub use client::Client;
pub use error::Error;
use output::Output;

/// The operator's commands, flattened into `wdo`'s own.
#[derive(Subcommand)]
pub enum AdminCommand {
    /// The objects of a namespace: list, show, export, import, delete, evict.
    Objects {
        #[command(flatten)]
        admin: AdminOptions,
        #[command(subcommand)]
        command: objects::ObjectsCommand,
    },
    /// An object's key-value entries: get, put, list, delete.
    Kv {
        #[command(flatten)]
        admin: AdminOptions,
        #[command(subcommand)]
        command: kv::KvCommand,
    },
    /// Run one SQL statement on an object's database (read-only unless --write).
    Sql {
        #[command(flatten)]
        admin: AdminOptions,
        #[command(flatten)]
        args: sql::SqlArgs,
    },
    /// An object's alarm: show, set, run, delete.
    Alarm {
        #[command(flatten)]
        admin: AdminOptions,
        #[command(subcommand)]
        command: alarm::AlarmCommand,
    },
    /// The namespaces a running host serves, with their code version.
    Namespaces {
        #[command(flatten)]
        admin: AdminOptions,
    },
    /// Compile a namespace's component file again (every namespace without NS) and switch to it.
    Reload {
        #[command(flatten)]
        admin: AdminOptions,
        /// The namespace; every one if absent.
        namespace: Option<String>,
    },
}

/// Where the host is and how to print; accepted before or after the subcommand.
#[derive(Args, Clone)]
pub struct AdminOptions {
    /// The host's admin URL, e.g. http://127.0.0.1:9787 [env: WDO_ADMIN]; otherwise
    /// admin-listen of the config, otherwise http://127.0.0.1:9787.
    #[arg(long, global = true, value_name = "URL")]
    pub admin: Option<String>,
    /// The admin token [env: WDO_ADMIN_TOKEN, which other users cannot read in `ps`];
    /// otherwise admin-token of the config.
    #[arg(long, global = true)]
    pub token: Option<String>,
    /// The host's config, read for admin-listen and admin-token (default: wdo.toml if it
    /// exists and no --admin or WDO_ADMIN is given).
    #[arg(long, global = true)]
    pub config: Option<PathBuf>,
    /// Print the host's JSON answers instead of tables (for scripts).
    #[arg(long, global = true)]
    pub json: bool,
    /// How long to wait for the host: to connect, and between two reads of its answer.
    #[arg(long, global = true, value_parser = humantime::parse_duration, default_value = "5m")]
    pub timeout: Duration,
}

/// Runs one command; prints `wdo: error: ...` and answers its exit code on failure.
pub fn run(command: AdminCommand) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => return fail(&Error::Failed(format!("cannot start the runtime: {e}"))),
    };
    match runtime.block_on(dispatch(command)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(&e),
    }
}

fn fail(error: &Error) -> ExitCode {
    // One line, whatever the host's message holds (a compiler's error spans many).
    let text = error.to_string().replace(['\r', '\n'], " ");
    eprintln!("wdo: error: {text}");
    ExitCode::from(error.exit_code())
}

async fn dispatch(command: AdminCommand) -> Result<(), Error> {
    match command {
        AdminCommand::Objects { admin, command } => {
            let (client, out) = connect(&admin)?;
            objects::run(&client, &out, command).await
        }
        AdminCommand::Kv { admin, command } => {
            let (client, out) = connect(&admin)?;
            kv::run(&client, &out, command).await
        }
        AdminCommand::Sql { admin, args } => {
            let (client, out) = connect(&admin)?;
            sql::run(&client, &out, args).await
        }
        AdminCommand::Alarm { admin, command } => {
            let (client, out) = connect(&admin)?;
            alarm::run(&client, &out, command).await
        }
        AdminCommand::Namespaces { admin } => {
            let (client, out) = connect(&admin)?;
            namespaces::list(&client, &out).await
        }
        AdminCommand::Reload { admin, namespace } => {
            let (client, out) = connect(&admin)?;
            namespaces::reload(&client, &out, namespace.as_deref()).await
        }
    }
}

fn connect(admin: &AdminOptions) -> Result<(Client, Output), Error> {
    let target = client::Target::resolve(admin)?;
    let client = Client::new(target, admin.timeout)?;
    Ok((client, Output { json: admin.json }))
}

/// An object as the commands take it: a namespace and `<name>` or `@<id>`.
#[derive(Args, Clone, Debug)]
pub struct ObjectArgs {
    /// The namespace.
    pub namespace: String,
    /// The object: its name, or @ and its 64-hex-digit id.
    pub object: String,
}

impl ObjectArgs {
    /// The object's admin path, then `rest`.
    pub fn path(&self, rest: &[&str]) -> client::Path {
        let mut path =
            client::Path::new(&["v1", "namespaces", &self.namespace, "objects", &self.object]);
        for segment in rest {
            path = path.push(segment);
        }
        path
    }
}

impl std::fmt::Display for ObjectArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.namespace, self.object)
    }
}
