//! Guest stdout and stderr, line by line, into the host's log, tagged with the object.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

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
}

impl GuestLog {
    pub fn new(namespace: Arc<str>, object: Arc<str>, stream: &'static str) -> GuestLog {
        GuestLog {
            inner: Arc::new(Mutex::new(LineBuffer {
                namespace,
                object,
                stream,
                pending: Vec::new(),
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

impl Drop for LineBuffer {
    fn drop(&mut self) {
        if !self.pending.is_empty() {
            let line = std::mem::take(&mut self.pending);
            self.emit(&line);
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
