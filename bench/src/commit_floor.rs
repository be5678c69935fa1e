//! The group-commit floor's server: scenario 1 without an object. Each request appends a
//! 4 KiB page to a log file (as a commit appends a WAL frame, overwriting a preallocated file
//! in place) and is answered once an fsync that started after its write has finished. One
//! fsync is in flight at a time, on a thread of its own, and covers every write made before
//! it started: the group commit of wdo's output gate, with no SQLite, no wasm and no actor.
//! Run by `wdo-bench commit-floor-server DIR` in a child process, so that its CPU is measured
//! apart from the load generator's; the log is created in DIR, which the caller removes.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::sync::oneshot;

/// The argument that makes `wdo-bench` run this server.
pub const COMMIT_FLOOR_SERVER_ARG: &str = "commit-floor-server";

const PAGE: usize = 4096;
/// The log's size: writes wrap around in it, as a WAL restarts after a checkpoint.
const LOG_PAGES: u64 = 2048;

struct Log {
    file: File,
    state: Mutex<State>,
    written: Condvar,
}

#[derive(Default)]
struct State {
    /// Pages written so far, and how many of them are known durable.
    writes: u64,
    synced: u64,
    /// fsyncs done, and their total time.
    fsyncs: u64,
    fsync_time: Duration,
    waiting: Vec<(u64, oneshot::Sender<()>)>,
    /// Whether the fsync thread waits for a write.
    idle: bool,
}

impl Log {
    fn create(dir: &std::path::Path) -> anyhow::Result<Log> {
        let file = File::options()
            .read(true)
            .write(true)
            .create_new(true)
            .open(dir.join("log"))?;
        file.write_all_at(&vec![0; PAGE * LOG_PAGES as usize], 0)?;
        file.sync_all()?;
        File::open(dir)?.sync_all()?;
        Ok(Log {
            file,
            state: Mutex::default(),
            written: Condvar::new(),
        })
    }

    /// Writes a page; the receiver resolves once it is durable.
    fn append(&self, page: &[u8]) -> std::io::Result<oneshot::Receiver<()>> {
        let (done, durable) = oneshot::channel();
        let mut state = self.state.lock().expect("log lock");
        self.file
            .write_all_at(page, (state.writes % LOG_PAGES) * PAGE as u64)?;
        state.writes += 1;
        let n = state.writes;
        state.waiting.push((n, done));
        let idle = state.idle;
        drop(state);
        if idle {
            self.written.notify_one();
        }
        Ok(durable)
    }

    /// `/stats`: the pages written, the fsyncs and their total time so far.
    fn stats(&self) -> serde_json::Value {
        let state = self.state.lock().expect("log lock");
        serde_json::json!({
            "writes": state.writes,
            "fsyncs": state.fsyncs,
            "fsync_seconds": state.fsync_time.as_secs_f64(),
        })
    }

    /// The fsync thread: one fsync at a time, covering every write made before it started.
    fn sync_forever(&self) {
        let mut state = self.state.lock().expect("log lock");
        loop {
            while state.synced == state.writes {
                state.idle = true;
                state = self.written.wait(state).expect("log lock");
            }
            state.idle = false;
            let covers = state.writes;
            drop(state);
            let started = Instant::now();
            self.file.sync_data().expect("fsync of the floor's log");
            let took = started.elapsed();
            state = self.state.lock().expect("log lock");
            state.synced = covers;
            state.fsyncs += 1;
            state.fsync_time += took;
            let (durable, waiting) = std::mem::take(&mut state.waiting)
                .into_iter()
                .partition::<Vec<_>, _>(|(n, _)| *n <= covers);
            state.waiting = waiting;
            drop(state);
            for (_, done) in durable {
                let _ = done.send(());
            }
            state = self.state.lock().expect("log lock");
        }
    }
}

/// Prints `listening on ADDR`, then answers until killed.
pub fn serve(dir: &std::path::Path) -> anyhow::Result<()> {
    let log = Arc::new(Log::create(dir)?);
    {
        let log = log.clone();
        std::thread::spawn(move || log.sync_forever());
    }
    crate::floor_server::serve_json(move |request| {
        let log = log.clone();
        async move {
            if request.uri().path() == "/stats" {
                return Ok(Bytes::from(log.stats().to_string()));
            }
            log.append(&[1; PAGE])?
                .await
                .map_err(std::io::Error::other)?;
            Ok(Bytes::from_static(b"{\"value\":1}"))
        }
    })
}
