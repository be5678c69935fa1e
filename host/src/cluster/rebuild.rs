//! Rebuilding an object's database file from the replicated log: its files on this node
//! are deleted and every whole commit of the log is written into a new file, which is
//! synced before the object opens.

use std::fs::File;
use std::path::{Path, PathBuf};

use anyhow::Context as _;

use super::pages;
use super::replica::Entry;

pub struct Replay {
    db: PathBuf,
    file: Option<File>,
    /// Bytes of commits written so far.
    pub bytes: u64,
}

impl Replay {
    /// Deletes the object's files (database, WAL, shared memory) on this node.
    pub fn start(db: &Path) -> anyhow::Result<Replay> {
        for path in [
            db.to_owned(),
            with_suffix(db, "-wal"),
            with_suffix(db, "-shm"),
        ] {
            match std::fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    return Err(e).with_context(|| format!("cannot delete {}", path.display()))
                }
            }
        }
        Ok(Replay {
            db: db.to_owned(),
            file: None,
            bytes: 0,
        })
    }

    /// Writes one entry of the log (a takeover writes nothing).
    pub fn apply(&mut self, entry: Entry) -> anyhow::Result<()> {
        let Entry::Commit(bytes) = entry else {
            return Ok(());
        };
        self.bytes += bytes.len() as u64;
        if self.file.is_none() {
            let file = File::options()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(&self.db)
                .with_context(|| format!("cannot create {}", self.db.display()))?;
            self.file = Some(file);
        }
        let file = self.file.as_ref().expect("opened above");
        pages::apply(file, &bytes).with_context(|| format!("rebuilding {}", self.db.display()))
    }

    /// Makes the rebuilt file durable (with its directory entry).
    pub async fn finish(self) -> anyhow::Result<()> {
        let Some(file) = self.file else {
            return Ok(());
        };
        let db = self.db;
        tokio::task::spawn_blocking(move || -> anyhow::Result<()> {
            file.sync_all()
                .with_context(|| format!("cannot sync {}", db.display()))?;
            if let Some(dir) = db.parent() {
                File::open(dir)
                    .and_then(|d| d.sync_all())
                    .with_context(|| format!("cannot sync {}", dir.display()))?;
            }
            Ok(())
        })
        .await?
    }
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}
