//! A socket's outbound queue, bounded by the bytes it holds. A client that stops reading
//! while its object keeps sending (a chat member who went away without closing) would
//! otherwise make the host hold every message for it: past the bound the socket is closed
//! with 1008 instead, and its object gets the close event. A single message larger than the
//! bound is still taken into an empty queue, so every message an object may send can be sent.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::Outbound;

/// The hub's end.
pub(super) struct QueueSender {
    messages: mpsc::UnboundedSender<Outbound>,
    queued: Arc<AtomicUsize>,
    overflow: CancellationToken,
}

/// The connection task's end.
pub struct QueueReceiver {
    messages: mpsc::UnboundedReceiver<Outbound>,
    queued: Arc<AtomicUsize>,
    /// Cancelled when the queue went over its bound: the connection closes with 1008.
    pub overflow: CancellationToken,
}

pub(super) fn queue() -> (QueueSender, QueueReceiver) {
    let (messages, receiver) = mpsc::unbounded_channel();
    let queued = Arc::new(AtomicUsize::new(0));
    let overflow = CancellationToken::new();
    (
        QueueSender {
            messages,
            queued: queued.clone(),
            overflow: overflow.clone(),
        },
        QueueReceiver {
            messages: receiver,
            queued,
            overflow,
        },
    )
}

/// The bytes a queued message holds.
pub fn bytes(message: &Outbound) -> usize {
    match message {
        Outbound::Message(frame) => frame.len(),
        Outbound::Close(_, reason) => reason.len(),
    }
}

impl QueueSender {
    /// Queues `message` unless that would take the queue over `max` bytes; then the
    /// connection is told to close (and false returned).
    pub(super) fn push(&self, message: Outbound, max: usize) -> bool {
        let len = bytes(&message);
        let queued = self.queued.load(Ordering::Acquire);
        if queued > 0 && queued.saturating_add(len) > max {
            self.overflow.cancel();
            return false;
        }
        self.queued.fetch_add(len, Ordering::AcqRel);
        let _ = self.messages.send(message);
        true
    }
}

impl QueueReceiver {
    pub async fn recv(&mut self) -> Option<Outbound> {
        self.messages.recv().await
    }

    #[cfg(test)]
    pub fn try_recv(&mut self) -> Result<Outbound, mpsc::error::TryRecvError> {
        self.messages.try_recv()
    }

    /// A message of `len` bytes left the host (or was given up).
    pub fn sent(&self, len: usize) {
        self.queued.fetch_sub(len, Ordering::AcqRel);
    }
}
