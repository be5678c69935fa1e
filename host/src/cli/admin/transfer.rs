//! `wdo objects export` and `wdo objects import`: an object's database to and from a SQLite
//! file, streamed, with a progress bar when stderr is a terminal.
//!
//! An export is written next to its target under a temporary name and moved into place once
//! complete and synced, so a failed one leaves no half file and an existing file is replaced
//! (`--force`) only by a whole one; without `--force` it is never replaced, not even by a
//! file that appeared while the export ran.

use std::io::{IsTerminal, Write};
use std::path::{Path as FsPath, PathBuf};
use std::time::Duration;

use futures_util::StreamExt;
use indicatif::{ProgressBar, ProgressStyle};
use reqwest::header::{CONTENT_LENGTH, CONTENT_TYPE};
use reqwest::Method;
use serde_json::json;

use super::client::Client;
use super::output::{self, Output};
use super::{Error, ObjectArgs};

/// What the host answers an export with.
const SQLITE_TYPE: &str = "application/vnd.sqlite3";

pub async fn export(
    client: &Client,
    out: &Output,
    object: &ObjectArgs,
    file: Option<PathBuf>,
    force: bool,
) -> Result<(), Error> {
    let to_stdout = file.as_deref() == Some(FsPath::new("-"));
    let file = file.unwrap_or_else(|| default_file(object));
    if !to_stdout && !force && file.exists() {
        return Err(Error::Usage(format!(
            "{} exists: pass --force to replace it, or -o another file",
            file.display()
        )));
    }
    let waiting = spinner("the host copies the database");
    let request = client.request(Method::GET, &object.path(&["export"]))?;
    let sent = client.send(request).await;
    waiting.finish_and_clear();
    let mut response = sent?;
    let kind = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if kind != SQLITE_TYPE {
        return Err(Error::Failed(format!(
            "the host answered the export with {kind:?}, not a SQLite file"
        )));
    }
    let total = response.content_length();
    let bar = progress(total, "export");
    let mut target = if to_stdout {
        None
    } else {
        Some(PartFile::create(&file)?)
    };
    let mut written = 0u64;
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| Error::transport(&client.describe(), &e))?
    {
        match &mut target {
            Some(part) => part.write(&chunk)?,
            None => output::write_stdout(&chunk)?,
        }
        written += chunk.len() as u64;
        bar.inc(chunk.len() as u64);
    }
    bar.finish_and_clear();
    if total.is_some_and(|total| total != written) {
        return Err(Error::Failed(format!(
            "the export ended after {written} of {} bytes",
            total.unwrap_or(0)
        )));
    }
    let Some(part) = target else {
        return Ok(());
    };
    part.finish(&file, force)?;
    let answer = json!({ "file": file, "bytes": written });
    out.answer(&answer, |_| {
        format!(
            "exported {object} to {} ({})",
            file.display(),
            output::bytes(written)
        )
    })
}

pub async fn import(
    client: &Client,
    out: &Output,
    object: &ObjectArgs,
    file: &FsPath,
) -> Result<(), Error> {
    let unusable = |e: std::io::Error| Error::Usage(format!("cannot read {}: {e}", file.display()));
    let opened = tokio::fs::File::open(file).await.map_err(unusable)?;
    let metadata = opened.metadata().await.map_err(unusable)?;
    if !metadata.is_file() {
        return Err(Error::Usage(format!("{} is not a file", file.display())));
    }
    let size = metadata.len();
    let bar = progress(Some(size), "import");
    let counting = bar.clone();
    let chunks = tokio_util::io::ReaderStream::with_capacity(opened, 256 << 10).map(move |chunk| {
        if let Ok(bytes) = &chunk {
            counting.inc(bytes.len() as u64);
        }
        chunk
    });
    let request = client
        .request(Method::PUT, &object.path(&["import"]))?
        .header(CONTENT_TYPE, SQLITE_TYPE)
        .header(CONTENT_LENGTH, size)
        .body(reqwest::Body::wrap_stream(chunks));
    let sent = client.send(request).await;
    bar.finish_and_clear();
    let value = client.read_json(sent?).await?;
    out.answer(&value, |_| {
        format!(
            "imported {} ({}) into {object}",
            file.display(),
            output::bytes(size)
        )
    })
}

/// `<object>.sqlite` in the current directory (a `/` in a name becomes `_`).
fn default_file(object: &ObjectArgs) -> PathBuf {
    PathBuf::from(format!("{}.sqlite", object.object.replace('/', "_")))
}

/// The export being written: a temporary file beside the target, removed unless finished.
struct PartFile {
    path: PathBuf,
    file: Option<std::fs::File>,
}

impl PartFile {
    fn create(target: &FsPath) -> Result<PartFile, Error> {
        let name = target
            .file_name()
            .ok_or_else(|| Error::Usage(format!("{} is not a file name", target.display())))?;
        let dir = target
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(FsPath::new("."));
        let nonce = hex::encode(rand::random::<[u8; 4]>());
        let path = dir.join(format!(".{}.part-{nonce}", name.to_string_lossy()));
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(|e| Error::Failed(format!("cannot create {}: {e}", path.display())))?;
        Ok(PartFile {
            path,
            file: Some(file),
        })
    }

    fn write(&mut self, bytes: &[u8]) -> Result<(), Error> {
        let file = self.file.as_mut().expect("open until finished");
        file.write_all(bytes)
            .map_err(|e| Error::Failed(format!("cannot write {}: {e}", self.path.display())))
    }

    /// Syncs the file and gives it the target's name: replacing it with `force`, else only
    /// if no file has that name.
    fn finish(mut self, target: &FsPath, force: bool) -> Result<(), Error> {
        let file = self.file.take().expect("open until finished");
        file.sync_all()
            .map_err(|e| Error::Failed(format!("cannot sync {}: {e}", self.path.display())))?;
        drop(file);
        let moved = if force {
            std::fs::rename(&self.path, target)
        } else {
            // A link fails if the target exists, where a rename would replace it.
            std::fs::hard_link(&self.path, target)
        };
        match moved {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Err(Error::Usage(format!(
                "{} exists: pass --force to replace it, or -o another file",
                target.display()
            ))),
            Err(e) => Err(Error::Failed(format!(
                "cannot write {}: {e}",
                target.display()
            ))),
        }
    }
}

impl Drop for PartFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

fn progress(total: Option<u64>, what: &'static str) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = match total {
        Some(total) => ProgressBar::new(total),
        None => ProgressBar::new_spinner(),
    };
    let style = ProgressStyle::with_template(
        "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
    )
    .expect("a valid template")
    .progress_chars("=> ");
    bar.set_style(style);
    bar.set_message(what);
    bar
}

fn spinner(what: &'static str) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new_spinner();
    bar.set_message(what);
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
}
