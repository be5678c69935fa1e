//! The writer thread: group commit for the whole host. Appenders queue encoded records and
//! get a ticket; the thread takes everything queued, writes it to the active segment in one
//! write, syncs the segment once (`fdatasync`), and resolves every ticket of that group. While
//! it syncs, new records queue up for the next group, so under load one fsync covers the
//! commits of many objects.
//!
//! A segment past its size is sealed after its last group is durable, and a new one is
//! started; its first group's sync also syncs the directory, so that no record in it is
//! acknowledged before its directory entry is durable. Sealed segments go to the trimmer.
//!
//! Fail-stop: if a sync fails (or a write, for another reason than a full disk), nothing of
//! the group is known durable, and on Linux the failed pages may be marked clean (a later
//! fsync would "succeed" without writing them). The segment is cut back to its last durable
//! record (so a restart that reads the page cache does not replay commits that were answered
//! with an error), and every ticket from then on fails: the host cannot make anything durable
//! any more.
//!
//! A full disk is not a failure of that kind: a write refused with `ENOSPC` (or `EDQUOT`)
//! wrote nothing that a sync could lose. The segment is cut back the same way, only that
//! group's tickets fail (with `StorageFull`, which the output gate answers 507 and rolls the
//! objects back to their last durable commit), and the next group tries again. A segment that
//! cannot be started for lack of space is tried again after the next group.

use std::fs::File;
use std::io::{self, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use super::record::{self, Body, Record, MAX_BODY};
use super::recycle;
use super::trim::Sealed;
use super::{Synced, Ticket};
use crate::metrics::Metrics;

/// Frames per record at most, in bytes (a larger capture is split): well under `MAX_BODY`.
const MAX_FRAMES_PER_RECORD: usize = 16 << 20;

struct Queue {
    /// Encoded bodies, each with the ticket it resolves (the last chunk of an append has it).
    pending: Vec<(Vec<u8>, Option<oneshot::Sender<Synced>>)>,
    closed: bool,
    failed: Option<String>,
    active: u64,
}

struct Shared {
    queue: Mutex<Queue>,
    wake: Condvar,
}

pub struct Writer {
    shared: Arc<Shared>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// The active segment, as the thread holds it.
struct Segment {
    dir: PathBuf,
    number: u64,
    file: File,
    /// Bytes written to it that are durable once the next group is (its header and every
    /// record synced).
    len: u64,
    /// Whether its directory entry is known durable.
    dir_synced: bool,
    /// When its first group was written.
    first_write: Option<Instant>,
}

impl Segment {
    /// Segment `number`, in the recycled file if there is one (`recycle.rs`), else in a new
    /// file.
    fn create(dir: &Path, number: u64) -> io::Result<Segment> {
        let recycled = recycle::take(dir, number).unwrap_or_else(|e| {
            // A new file will do; its first sync says whether the disk takes syncs.
            tracing::warn!("cannot start log segment {number} in the recycled file: {e}");
            None
        });
        let file = match recycled {
            Some(file) => file,
            None => {
                let path = dir.join(record::segment_name(number));
                let mut file = File::options()
                    .read(true)
                    .write(true)
                    .create_new(true)
                    .open(&path)?;
                file.write_all(&record::segment_header(number))?;
                file
            }
        };
        Ok(Segment {
            dir: dir.to_owned(),
            number,
            file,
            len: record::SEGMENT_HEADER,
            dir_synced: false,
            first_write: None,
        })
    }

    /// Writes a group and makes it durable (with the segment's directory entry, the first
    /// time).
    fn write_durably(&mut self, bytes: &[u8]) -> Result<(), Failure> {
        // At its place, whatever a refused write before left of the file's cursor.
        self.file
            .write_all_at(bytes, self.len)
            .map_err(Failure::Write)?;
        self.file.sync_data().map_err(Failure::Sync)?;
        if !self.dir_synced {
            File::open(&self.dir)
                .and_then(|dir| dir.sync_all())
                .map_err(Failure::Sync)?;
            self.dir_synced = true;
        }
        Ok(())
    }

    /// Cuts the file to its records (a recycled file is longer), durably: done before the
    /// next segment takes any record, and at a clean stop, so that only the active segment
    /// can end in other bytes.
    fn cut_to_records(&self) -> io::Result<()> {
        if self.file.metadata()?.len() > self.len {
            self.file.set_len(self.len)?;
            self.file.sync_all()?;
        }
        Ok(())
    }
}

/// Why a group could not be made durable.
enum Failure {
    Write(io::Error),
    Sync(io::Error),
}

impl Failure {
    /// A write refused for lack of space: nothing of it can surface later, the log goes on.
    fn disk_full(&self) -> Option<&io::Error> {
        match self {
            Failure::Write(e) if is_full(e) => Some(e),
            _ => None,
        }
    }

    fn error(&self) -> &io::Error {
        match self {
            Failure::Write(e) | Failure::Sync(e) => e,
        }
    }
}

/// `ENOSPC` or `EDQUOT`.
fn is_full(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::StorageFull | io::ErrorKind::QuotaExceeded
    )
}

/// Creates segment `number`, or leaves no file behind.
fn create_segment(dir: &Path, number: u64) -> io::Result<Segment> {
    Segment::create(dir, number).inspect_err(|_| {
        let _ = std::fs::remove_file(dir.join(record::segment_name(number)));
    })
}

impl Writer {
    pub fn start(
        dir: &Path,
        first_segment: u64,
        seal_at: (u64, Option<Duration>),
        sealed: Arc<Sealed>,
        metrics: Arc<Metrics>,
    ) -> io::Result<Writer> {
        recycle::tidy(dir)?;
        let segment = create_segment(dir, first_segment)?;
        metrics.log_segments.set(1);
        let shared = Arc::new(Shared {
            queue: Mutex::new(Queue {
                pending: Vec::new(),
                closed: false,
                failed: None,
                active: first_segment,
            }),
            wake: Condvar::new(),
        });
        let thread = {
            let shared = shared.clone();
            std::thread::Builder::new()
                .name("wdo-log-writer".into())
                .spawn(move || run(shared, segment, seal_at, sealed, metrics))?
        };
        Ok(Writer {
            shared,
            thread: Some(thread),
        })
    }

    pub fn append(&self, record: Record) -> Ticket {
        let (tx, rx) = oneshot::channel();
        let bodies = split(record);
        let mut queue = self.shared.queue.lock().expect("log queue lock");
        if queue.closed {
            let _ = tx.send((
                Err(io::Error::other("the commit log is closed")),
                Duration::ZERO,
            ));
            return rx;
        }
        if let Some(failed) = &queue.failed {
            let _ = tx.send((Err(io::Error::other(failed.clone())), Duration::ZERO));
            return rx;
        }
        let last = bodies.len() - 1;
        let mut tx = Some(tx);
        for (i, body) in bodies.into_iter().enumerate() {
            queue
                .pending
                .push((body, if i == last { tx.take() } else { None }));
        }
        drop(queue);
        self.shared.wake.notify_one();
        rx
    }

    pub fn active_segment(&self) -> u64 {
        self.shared.queue.lock().expect("log queue lock").active
    }
}

impl Writer {
    /// Writes what is queued, then stops the thread (appends after it fail).
    pub fn stop(&mut self) {
        self.shared.queue.lock().expect("log queue lock").closed = true;
        self.shared.wake.notify_one();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The bodies of a record: frames beyond `MAX_FRAMES_PER_RECORD` go in several records
/// (whole frames each, in order; only the first carries the base).
fn split(record: Record) -> Vec<Vec<u8>> {
    let Body::Frames(frames) = &record.body else {
        return vec![record::encode(&record)];
    };
    if frames.frames.len() <= MAX_FRAMES_PER_RECORD {
        return vec![record::encode(&record)];
    }
    let per = (MAX_FRAMES_PER_RECORD / frames.frame_len()).max(1);
    let mut bodies = Vec::new();
    let mut first_frame = frames.first_frame;
    for (i, chunk) in frames.frames.chunks(per * frames.frame_len()).enumerate() {
        let part = record::WalFrames {
            frames: chunk.to_vec(),
            first_frame,
            base: if i == 0 { frames.base.clone() } else { None },
            ..frames.clone()
        };
        first_frame = part.end_frame();
        let body = record::encode(&Record {
            object: record.object.clone(),
            body: Body::Frames(part),
        });
        debug_assert!(body.len() <= MAX_BODY);
        bodies.push(body);
    }
    bodies
}

fn run(
    shared: Arc<Shared>,
    mut segment: Segment,
    (segment_bytes, seal_after): (u64, Option<Duration>),
    sealed: Arc<Sealed>,
    metrics: Arc<Metrics>,
) {
    let mut buf = Vec::new();
    loop {
        let group = {
            let mut queue = shared.queue.lock().expect("log queue lock");
            while queue.pending.is_empty() && !queue.closed {
                // With `seal_after`, a segment holding records is sealed when they are that
                // old, queue or no queue.
                let left = seal_after
                    .zip(segment.first_write)
                    .map(|(after, first)| after.saturating_sub(first.elapsed()));
                match left {
                    Some(left) if left.is_zero() => break,
                    Some(left) => {
                        queue = shared
                            .wake
                            .wait_timeout(queue, left)
                            .expect("log queue lock")
                            .0
                    }
                    None => queue = shared.wake.wait(queue).expect("log queue lock"),
                }
            }
            if queue.pending.is_empty() && queue.closed {
                if let Err(e) = segment.cut_to_records() {
                    tracing::warn!("cannot cut log segment {} to its records at stop: {e}; the next start does", segment.number);
                }
                return;
            }
            std::mem::take(&mut queue.pending)
        };
        if !group.is_empty() {
            write_group(&shared, &mut segment, group, &mut buf, &metrics);
        }
        let old = seal_after
            .zip(segment.first_write)
            .is_some_and(|(after, first)| first.elapsed() >= after);
        if segment.len >= segment_bytes || old {
            seal(&shared, &mut segment, &sealed, &metrics);
        }
    }
}

/// Writes a group durably and resolves its tickets.
fn write_group(
    shared: &Shared,
    segment: &mut Segment,
    group: Vec<(Vec<u8>, Option<oneshot::Sender<Synced>>)>,
    buf: &mut Vec<u8>,
    metrics: &Metrics,
) {
    buf.clear();
    let marker = record::encode(&Record::time(super::unix_ms()));
    record::frame(segment.number, segment.len, &marker, buf);
    for (body, _) in &group {
        let offset = segment.len + buf.len() as u64;
        record::frame(segment.number, offset, body, buf);
    }
    let started = Instant::now();
    let written = segment.write_durably(buf);
    let took = started.elapsed();
    if let Err(failure) = written {
        match failure.disk_full() {
            Some(e) => refuse_full(segment, group, e, shared),
            None => fail(shared, segment, group, failure.error()),
        }
        return;
    }
    segment.len += buf.len() as u64;
    segment.first_write.get_or_insert(started);
    metrics.log_fsync_duration.observe(took.as_secs_f64());
    metrics.log_records.inc_by(group.len() as u64);
    metrics.log_bytes.inc_by(buf.len() as u64);
    for (_, tx) in group {
        if let Some(tx) = tx {
            let _ = tx.send((Ok(()), took));
        }
    }
}

/// Seals the active segment and starts the next one (or keeps it, if that cannot be created).
fn seal(shared: &Shared, segment: &mut Segment, sealed: &Sealed, metrics: &Metrics) {
    let next = segment.number + 1;
    if let Err(e) = segment.cut_to_records() {
        // Its records are durable: it takes the next groups too, and is cut at the next seal.
        tracing::warn!(
            "cannot cut log segment {} to its records: {e}; it grows on",
            segment.number
        );
        segment.first_write = segment.first_write.map(|_| Instant::now());
        return;
    }
    match create_segment(&segment.dir, next) {
        Ok(new) => {
            let old = std::mem::replace(segment, new);
            shared.queue.lock().expect("log queue lock").active = next;
            sealed.push(old.number);
            metrics.log_segments.inc();
        }
        Err(e) if is_full(&e) => {
            // The segment grows on until there is space for the next one (tried again at the
            // next seal, not at once).
            segment.first_write = segment.first_write.map(|_| Instant::now());
            tracing::warn!(
                "cannot start log segment {next}: {e}; segment {} grows on",
                segment.number
            );
        }
        Err(e) => {
            tracing::error!(
                "cannot start log segment {next}: {e}; the host can commit nothing more"
            );
            shared.queue.lock().expect("log queue lock").failed =
                Some(format!("the commit log cannot start a new segment: {e}"));
        }
    }
}

/// A group's write was refused for lack of space: it fails with `error`'s kind, the segment is
/// cut back to what was durable, and the log goes on (or fails, if it cannot be cut).
fn refuse_full(
    segment: &mut Segment,
    group: Vec<(Vec<u8>, Option<oneshot::Sender<Synced>>)>,
    error: &io::Error,
    shared: &Shared,
) {
    if let Err(e) = segment.file.set_len(segment.len) {
        return fail(shared, segment, group, &e);
    }
    tracing::warn!(
        segment = segment.number,
        "the commit log cannot grow: {error}"
    );
    // `StorageFull` whatever the OS said (`EDQUOT` too): the output gate's sign of a full disk.
    let message = format!("the disk is full: the commit log cannot grow: {error}");
    fail_tickets(group, io::ErrorKind::StorageFull, &message);
}

/// A group could not be made durable: it fails, the segment is cut back to what was durable,
/// and the log refuses everything from now on.
fn fail(
    shared: &Shared,
    segment: &mut Segment,
    group: Vec<(Vec<u8>, Option<oneshot::Sender<Synced>>)>,
    error: &io::Error,
) {
    tracing::error!(segment = segment.number, "a write or fsync of the commit log failed: {error}; nothing more can be committed until the host restarts");
    let cut = segment.file.set_len(segment.len);
    if let Err(e) = &cut {
        tracing::error!("cannot cut the commit log back to its durable records: {e}");
    }
    let message = format!("an fsync of the commit log failed: {error}");
    let mut queue = shared.queue.lock().expect("log queue lock");
    queue.failed = Some(message.clone());
    let later = std::mem::take(&mut queue.pending);
    drop(queue);
    // Never `StorageFull` (an fsync may say `ENOSPC`): this is the fail-stop kind of failure.
    fail_tickets(
        group.into_iter().chain(later),
        io::ErrorKind::Other,
        &message,
    );
}

/// Resolves the tickets of `records` with an error of `kind`.
fn fail_tickets(
    records: impl IntoIterator<Item = (Vec<u8>, Option<oneshot::Sender<Synced>>)>,
    kind: io::ErrorKind,
    message: &str,
) {
    for (_, tx) in records {
        if let Some(tx) = tx {
            let _ = tx.send((Err(io::Error::new(kind, message)), Duration::ZERO));
        }
    }
}
