//! From the applied migrations, the config's and the data directory as it is, the steps
//! that bring the directory up to date, or the error that says which tag and class are
//! wrong. Nothing here touches the disk.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::journal::Recorded;
use super::MigrationError;
use crate::config::namespace_for_class;
use crate::config::Migration;

/// One change to the data directory. Each is idempotent: a step whose source is already
/// gone has been done.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "op")]
pub enum Step {
    /// `<data-dir>/<from>` becomes `<data-dir>/<to>`: objects, id key, alarm index.
    Move { from: String, to: String },
    /// `<data-dir>/<namespace>` is removed.
    Remove { namespace: String },
}

/// A namespace as the planner sees it: declared by a migration, or a directory on disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Present {
    pub dir: bool,
    pub data: bool,
}

/// How a migration is recorded, so that a changed one is recognised.
pub fn recorded(migration: &Migration) -> Recorded {
    Recorded {
        tag: migration.tag.clone(),
        content: serde_json::to_string(migration).expect("a migration serializes"),
    }
}

/// The config's migrations that are not applied yet, after checking that the applied ones
/// begin the config's list, in the same order and unchanged.
pub fn pending<'a>(
    applied: &[Recorded],
    config: &'a [Migration],
) -> Result<&'a [Migration], MigrationError> {
    for (index, done) in applied.iter().enumerate() {
        let Some(now) = config.get(index) else {
            return Err(MigrationError::MissingApplied {
                tag: done.tag.clone(),
            });
        };
        if now.tag != done.tag {
            if config.iter().any(|m| m.tag == done.tag) {
                return Err(MigrationError::OutOfOrder {
                    tag: now.tag.clone(),
                    applied: done.tag.clone(),
                });
            }
            return Err(MigrationError::MissingApplied {
                tag: done.tag.clone(),
            });
        }
        let content = recorded(now).content;
        if content != done.content {
            return Err(MigrationError::Changed {
                tag: done.tag.clone(),
                applied: done.content.clone(),
                now: content,
            });
        }
    }
    Ok(&config[applied.len()..])
}

/// The steps of `pending`, checked against what exists: the namespaces on disk (with
/// whether they hold data) and the classes the applied migrations declared. Also returns
/// the namespaces there will be once the steps ran.
pub fn plan(
    applied: &[Recorded],
    pending: &[Migration],
    disk: &BTreeMap<String, Present>,
) -> Result<(Vec<Step>, BTreeMap<String, Present>), MigrationError> {
    let mut present: BTreeMap<String, Present> = BTreeMap::new();
    let declared_only = Present {
        dir: false,
        data: false,
    };
    // The applied migrations were checked when they ran; replaying them only tells which
    // classes exist without a directory yet (declared, never used).
    for done in applied {
        let Ok(migration) = serde_json::from_str::<Migration>(&done.content) else {
            continue;
        };
        let mut ignore = Vec::new();
        let _ = apply(&migration, &mut present, &mut ignore, declared_only);
    }
    present.retain(|name, _| !disk.contains_key(name));
    present.extend(disk.iter().map(|(name, p)| (name.clone(), *p)));
    let mut steps = Vec::new();
    for migration in pending {
        apply(migration, &mut present, &mut steps, declared_only)?;
    }
    Ok((steps, present))
}

/// One migration on the simulated state, adding its steps.
fn apply(
    migration: &Migration,
    present: &mut BTreeMap<String, Present>,
    steps: &mut Vec<Step>,
    declared_only: Present,
) -> Result<(), MigrationError> {
    let tag = &migration.tag;
    let namespace = |class: &str| {
        namespace_for_class(class).ok_or_else(|| MigrationError::Invalid {
            tag: tag.clone(),
            message: format!(
                "class name {class:?} does not make a namespace name ([a-z0-9][a-z0-9_-]*, at most 64 characters, after ChatRoom → chat-room)"
            ),
        })
    };
    for class in migration
        .new_classes
        .iter()
        .chain(&migration.new_sqlite_classes)
    {
        // A namespace that predates the migrations (or is declared twice) keeps its data.
        present.entry(namespace(class)?).or_insert(declared_only);
    }
    for rename in &migration.renamed_classes {
        let (from, to) = (namespace(&rename.from)?, namespace(&rename.to)?);
        if from == to {
            return Err(MigrationError::Invalid {
                tag: tag.clone(),
                message: format!(
                    "renamed_classes renames class {:?} to {:?}, the same namespace {from:?}",
                    rename.from, rename.to
                ),
            });
        }
        let Some(source) = present.remove(&from) else {
            return Err(MigrationError::NoSuchClass {
                tag: tag.clone(),
                action: "rename",
                class: rename.from.clone(),
                namespace: from,
            });
        };
        let target = present.get(&to).copied();
        if let Some(target) = target {
            if target.data {
                return Err(MigrationError::RenameOntoData {
                    tag: tag.clone(),
                    from: rename.from.clone(),
                    to: rename.to.clone(),
                    namespace: to,
                });
            }
            // An unused namespace (its directory has only a fresh id key) gives way.
            if target.dir && source.dir {
                steps.push(Step::Remove {
                    namespace: to.clone(),
                });
            }
        }
        if source.dir {
            steps.push(Step::Move {
                from: from.clone(),
                to: to.clone(),
            });
        }
        // A source without a directory leaves the target's (unused) one where it is.
        let now = match target {
            Some(target) if !source.dir => target,
            _ => source,
        };
        present.insert(to, now);
    }
    for class in &migration.deleted_classes {
        let name = namespace(class)?;
        let Some(gone) = present.remove(&name) else {
            return Err(MigrationError::NoSuchClass {
                tag: tag.clone(),
                action: "delete",
                class: class.clone(),
                namespace: name,
            });
        };
        if gone.dir {
            steps.push(Step::Remove { namespace: name });
        }
    }
    Ok(())
}
