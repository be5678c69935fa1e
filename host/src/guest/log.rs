//! Guest stdout and stderr, line by line, into the host's log, tagged with the object.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::io::AsyncWrite;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamResult};

/// A partial line longer than this is logged as it is.
const MAX_LINE: usize = 16 * 1024;

#[derive(Clone)]
pub struct GuestLog {
    inner: Arc<Mutex<LineBuffer>>,
}

struct LineBuffer {
    namespace: Arc<str>,
    object: Arc<str>,
    stream: &'static str,
    pending: Vec<u8>,
    budget: Arc<Mutex<LogBudget>>,
}

/// The lines per second an instance may log (stdout and stderr together); the rest are
/// dropped, and one line says how many when the second is over (or the instance ends).
pub struct LogBudget {
    per_second: u32,
    window: Instant,
    logged: u32,
    dropped: u64,
}

impl LogBudget {
    pub fn new(per_second: u32) -> Arc<Mutex<LogBudget>> {
        Arc::new(Mutex::new(LogBudget {
            per_second,
            window: Instant::now(),
            logged: 0,
            dropped: 0,
        }))
    }

    /// Whether a line may be logged at `now`, and how many were dropped in the second that
    /// just ended (to report once).
    fn admit(&mut self, now: Instant) -> (bool, u64) {
        let mut ended = 0;
        if now.duration_since(self.window) >= Duration::from_secs(1) {
            ended = std::mem::take(&mut self.dropped);
            self.window = now;
            self.logged = 0;
        }
        if self.logged < self.per_second {
            self.logged += 1;
            (true, ended)
        } else {
            self.dropped += 1;
            (false, ended)
        }
    }
}

impl GuestLog {
    pub fn new(
        namespace: Arc<str>,
        object: Arc<str>,
        stream: &'static str,
        budget: Arc<Mutex<LogBudget>>,
    ) -> GuestLog {
        GuestLog {
            inner: Arc::new(Mutex::new(LineBuffer {
                namespace,
                object,
                stream,
                pending: Vec::new(),
                budget,
            })),
        }
    }

    fn write_bytes(&self, bytes: &[u8]) {
        let mut buf = self.inner.lock().expect("guest log lock");
        buf.pending.extend_from_slice(bytes);
        while let Some(end) = buf.pending.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = buf.pending.drain(..=end).collect();
            buf.emit(&line[..line.len() - 1]);
        }
        if buf.pending.len() > MAX_LINE {
            let line = std::mem::take(&mut buf.pending);
            buf.emit(&line);
        }
    }
}

impl LineBuffer {
    fn emit(&self, line: &[u8]) {
        if line.is_empty() {
            return;
        }
        let (admitted, dropped) = self
            .budget
            .lock()
            .expect("log budget")
            .admit(Instant::now());
        self.report_dropped(dropped);
        if !admitted {
            return;
        }
        let text = String::from_utf8_lossy(line);
        tracing::info!(
            target: "wdo::guest",
            namespace = %self.namespace,
            object = %self.object,
            stream = self.stream,
            "{text}"
        );
    }
}

impl LineBuffer {
    fn report_dropped(&self, dropped: u64) {
        if dropped == 0 {
            return;
        }
        let per_second = self.budget.lock().expect("log budget").per_second;
        tracing::warn!(
            target: "wdo::guest",
            namespace = %self.namespace,
            object = %self.object,
            "{dropped} guest log lines dropped (over the limit of {per_second} lines per second)"
        );
    }
}

impl Drop for LineBuffer {
    fn drop(&mut self) {
        if !self.pending.is_empty() {
            let line = std::mem::take(&mut self.pending);
            self.emit(&line);
        }
        // The last of the instance's streams to go reports what its last second dropped.
        if Arc::strong_count(&self.budget) == 1 {
            let dropped = std::mem::take(&mut self.budget.lock().expect("log budget").dropped);
            self.report_dropped(dropped);
        }
    }
}

impl IsTerminal for GuestLog {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for GuestLog {
    fn async_stream(&self) -> Box<dyn AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }

    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }
}

#[async_trait::async_trait]
impl Pollable for GuestLog {
    async fn ready(&mut self) {}
}

impl OutputStream for GuestLog {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        self.write_bytes(&bytes);
        Ok(())
    }

    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        Ok(MAX_LINE)
    }
}

impl AsyncWrite for GuestLog {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.write_bytes(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn beyond_the_rate_lines_are_dropped_and_counted_once_per_second() {
        let budget = LogBudget::new(3);
        let mut budget = budget.lock().unwrap();
        let start = budget.window;
        let admitted: Vec<bool> = (0..5).map(|_| budget.admit(start).0).collect();
        assert_eq!(admitted, [true, true, true, false, false]);
        // The next second admits again and reports the two dropped, once.
        let next = start + Duration::from_secs(1);
        assert_eq!(budget.admit(next), (true, 2));
        assert_eq!(budget.admit(next), (true, 0));
    }
}
