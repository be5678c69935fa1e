//! Migrations: the config's `[[migrations]]` (Cloudflare's: `new_classes`,
//! `new_sqlite_classes`, `renamed_classes`, `deleted_classes`) applied to the data directory
//! once each, in order, when the host starts and before anything is served.
//!
//! A rename moves a namespace's directory (its objects' databases, its metadata with the id
//! key, so ids derived from names stay the same, and its alarm index); a delete removes it.
//! The applied tags and their content are recorded in `<data-dir>/migrations.sqlite`; an
//! applied migration that changed, a tag out of order, a rename onto a namespace that has
//! data, or a rename or delete of a class that does not exist is refused before anything is
//! touched. A start writes its plan, runs it step by step (each step recorded as done), then
//! records the migrations as applied, so a crash half-way is finished by the next start
//! (which refuses, saying so, if the config no longer matches the interrupted plan).
//!
//! After the migrations, a namespace directory with data that the config no longer declares
//! stops the start: data is never dropped because a `[[namespace]]` went missing.
//!
//! May import `config`; nothing of the objects, the guest or storage (it works on
//! directories and files, before any of them exists). Only `host.rs` imports it.

mod disk;
mod journal;
mod plan;
#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};

pub use crate::config::namespace_for_class;

use crate::config::Config;
use journal::{Journal, Recorded};

#[derive(Debug, thiserror::Error)]
pub enum MigrationError {
    #[error("migration {tag:?} was already applied to this data directory as {applied}, but the config now says {now}: an applied migration cannot change; add a new [[migrations]] entry with a new tag instead")]
    Changed {
        tag: String,
        applied: String,
        now: String,
    },
    #[error("migration {tag:?} comes before the already applied migration {applied:?} in the config: migrations apply in order, so a new tag goes after the last applied one")]
    OutOfOrder { tag: String, applied: String },
    #[error("migration {tag:?} was applied to this data directory but is no longer in the config: applied migrations stay in the config, in order")]
    MissingApplied { tag: String },
    #[error("migration {tag:?} cannot {action} class {class:?}: namespace {namespace:?} does not exist (no earlier migration declares it and the data directory has no such namespace)")]
    NoSuchClass {
        tag: String,
        action: &'static str,
        class: String,
        namespace: String,
    },
    #[error("migration {tag:?} cannot rename class {from:?} to {to:?}: namespace {namespace:?} already has data; delete it in an earlier migration or rename to another name")]
    RenameOntoData {
        tag: String,
        from: String,
        to: String,
        namespace: String,
    },
    #[error("migration {tag:?}: {message}")]
    Invalid { tag: String, message: String },
    #[error("an interrupted start was applying migrations {tags} (recorded in {path}), but the config's next migrations are no longer those: restore the config that started them so that they can finish")]
    Interrupted { tags: String, path: PathBuf },
    #[error("migrations {tags} cannot move {} to {}: the target appeared after the plan was made; move it away and start again", from.display(), to.display())]
    TargetExists {
        tags: String,
        from: PathBuf,
        to: PathBuf,
    },
    #[error("{}", vanished_message(namespaces, data_dir))]
    Vanished {
        namespaces: Vec<String>,
        data_dir: PathBuf,
    },
    #[error("the migration record {path}: {error}")]
    Journal {
        path: PathBuf,
        error: rusqlite::Error,
    },
    #[error("{what}: {error}")]
    Io { what: String, error: std::io::Error },
}

fn vanished_message(namespaces: &[String], data_dir: &Path) -> String {
    let list = namespaces
        .iter()
        .map(|n| format!("{n:?}"))
        .collect::<Vec<_>>()
        .join(", ");
    let first = &namespaces[0];
    let (noun, verb) = if namespaces.len() == 1 {
        ("namespace", "has")
    } else {
        ("namespaces", "have")
    };
    format!(
        "{noun} {list} {verb} data in {} but not in the config: declare its [[namespace]] again, \
         or add a [[migrations]] entry with deleted_classes = [{first:?}] to delete the data \
         (or renamed_classes = [{{ from = {first:?}, to = \"...\" }}] to keep it under another name)",
        data_dir.display()
    )
}

/// What a start did: the tags it applied (empty if the directory was up to date).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Applied {
    pub tags: Vec<String>,
}

/// Brings the data directory up to the config's migrations, then checks that every
/// namespace with data is declared. Call with the data directory locked, before any
/// namespace is opened. Blocking.
pub fn run(config: &Config) -> Result<Applied, MigrationError> {
    let data_dir = &config.data_dir;
    let mut applied = Applied::default();
    if !config.migrations.is_empty() || Journal::exists(data_dir) {
        let path = data_dir.join(journal::FILE_NAME);
        let mut journal = Journal::open(data_dir).map_err(journal_error(&path))?;
        applied.tags = finish_interrupted(config, &mut journal, &path)?;
        applied
            .tags
            .extend(apply_pending(config, &mut journal, &path)?);
    }
    disk::empty_trash(data_dir)?;
    check_declared(config)?;
    Ok(applied)
}

fn journal_error(path: &Path) -> impl Fn(rusqlite::Error) -> MigrationError + '_ {
    move |error| MigrationError::Journal {
        path: path.to_owned(),
        error,
    }
}

/// Finishes the plan of a start that stopped half-way, if the config still begins its
/// pending migrations with the plan's. Returns the tags it applied.
fn finish_interrupted(
    config: &Config,
    journal: &mut Journal,
    path: &Path,
) -> Result<Vec<String>, MigrationError> {
    let Some(interrupted) = journal.plan().map_err(journal_error(path))? else {
        return Ok(Vec::new());
    };
    let done = journal.applied().map_err(journal_error(path))?;
    let pending = plan::pending(&done, &config.migrations)?;
    let matches = pending.len() >= interrupted.migrations.len()
        && pending
            .iter()
            .zip(&interrupted.migrations)
            .all(|(m, r)| plan::recorded(m) == *r);
    let tags = tag_list(&interrupted.migrations);
    if !matches {
        return Err(MigrationError::Interrupted {
            tags,
            path: path.to_owned(),
        });
    }
    tracing::warn!("finishing migrations {tags}, interrupted by an earlier start");
    let (steps, done_flags): (Vec<_>, Vec<_>) = interrupted.steps.into_iter().unzip();
    execute(journal, &config.data_dir, &tags, &steps, &done_flags).map_err(|e| e.or(path))?;
    journal.finish_plan().map_err(journal_error(path))?;
    Ok(interrupted.migrations.into_iter().map(|m| m.tag).collect())
}

/// Plans the config's migrations not applied yet, writes the plan, runs it and records
/// them. Returns the tags it applied.
fn apply_pending(
    config: &Config,
    journal: &mut Journal,
    path: &Path,
) -> Result<Vec<String>, MigrationError> {
    let data_dir = &config.data_dir;
    let done = journal.applied().map_err(journal_error(path))?;
    let pending = plan::pending(&done, &config.migrations)?;
    if pending.is_empty() {
        return Ok(Vec::new());
    }
    let disk = disk::scan(data_dir, &config.cache_dir())?;
    let (steps, after) = plan::plan(&done, pending, &disk)?;
    // Refused before anything moves, rather than after: data renamed to (or left under) a
    // namespace the config does not declare.
    undeclared_with_data(config, &after)?;
    let records: Vec<Recorded> = pending.iter().map(plan::recorded).collect();
    let tags = tag_list(&records);
    journal
        .write_plan(&records, &steps)
        .map_err(journal_error(path))?;
    // The journal's file may be new: its directory entry must outlast a power loss too.
    disk::sync_dir(data_dir)?;
    execute(journal, data_dir, &tags, &steps, &vec![false; steps.len()]).map_err(|e| e.or(path))?;
    journal.finish_plan().map_err(journal_error(path))?;
    tracing::info!("applied migrations {tags}");
    Ok(records.into_iter().map(|r| r.tag).collect())
}

fn tag_list(records: &[Recorded]) -> String {
    records
        .iter()
        .map(|r| format!("{:?}", r.tag))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A step failed, or recording it did.
enum StepError {
    Step(MigrationError),
    Record(rusqlite::Error),
}

impl StepError {
    fn or(self, path: &Path) -> MigrationError {
        match self {
            StepError::Step(e) => e,
            StepError::Record(error) => MigrationError::Journal {
                path: path.to_owned(),
                error,
            },
        }
    }
}

fn execute(
    journal: &Journal,
    data_dir: &Path,
    tags: &str,
    steps: &[plan::Step],
    done: &[bool],
) -> Result<(), StepError> {
    for (index, step) in steps.iter().enumerate() {
        if done[index] {
            continue;
        }
        disk::run_step(data_dir, tags, step).map_err(StepError::Step)?;
        journal.mark_done(index).map_err(StepError::Record)?;
    }
    Ok(())
}

/// Every namespace directory with data must be declared by the config.
fn check_declared(config: &Config) -> Result<(), MigrationError> {
    undeclared_with_data(config, &disk::scan(&config.data_dir, &config.cache_dir())?)
}

fn undeclared_with_data(
    config: &Config,
    present: &std::collections::BTreeMap<String, plan::Present>,
) -> Result<(), MigrationError> {
    let declared: std::collections::HashSet<&str> =
        config.namespaces.iter().map(|n| n.name.as_str()).collect();
    let namespaces: Vec<String> = present
        .iter()
        .filter(|(name, present)| present.data && !declared.contains(name.as_str()))
        .map(|(name, _)| name.clone())
        .collect();
    if namespaces.is_empty() {
        Ok(())
    } else {
        Err(MigrationError::Vanished {
            namespaces,
            data_dir: config.data_dir.clone(),
        })
    }
}
