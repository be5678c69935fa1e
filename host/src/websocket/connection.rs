//! One task per connected socket: completes the upgrade, writes what the hub releases, and
//! turns what the client sends into events for the object (waking it if it hibernates).
//! Pings and the auto-response are answered here, without waking the object.

use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use hyper_util::rt::TokioIo;
use tokio_tungstenite::tungstenite::error::{CapacityError, Error as WsProtocolError};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, Role, WebSocketConfig};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

use super::pending::close_for_object;
use super::queue::QueueReceiver;
use super::{EventSink, Hub, Outbound, Refused, SocketId, WsEvent, WsMessage};
use crate::metrics::{ns, Metrics};

/// Whose socket it is: where its events go, and the names its logs and metrics carry.
#[derive(Clone)]
pub struct Owner {
    pub sink: Arc<dyn EventSink>,
    pub namespace: Arc<str>,
    pub object: Arc<str>,
    pub metrics: Arc<Metrics>,
}

impl Owner {
    /// Delivers in order, waiting while the object's inbox is full. False at shutdown.
    pub(super) async fn deliver(&self, socket: SocketId, event: &WsEvent) -> bool {
        loop {
            match self.sink.deliver(socket, event.clone()) {
                Ok(()) => return true,
                Err(Refused::ShuttingDown) => return false,
                Err(Refused::Busy) => tokio::time::sleep(Duration::from_millis(10)).await,
            }
        }
    }
}

/// Runs an accepted socket once hyper hands over the upgraded connection.
pub async fn serve_upgrade(
    hub: Arc<Hub>,
    owner: Owner,
    socket: SocketId,
    upgrade: hyper::upgrade::OnUpgrade,
) {
    let upgraded = match upgrade.await {
        Ok(upgraded) => upgraded,
        Err(e) => {
            tracing::warn!(namespace = %owner.namespace, object = %owner.object, socket, "WebSocket upgrade failed: {e}");
            let event = WsEvent::Close {
                code: 1006,
                reason: "WebSocket upgrade failed".into(),
                was_clean: false,
            };
            close_for_object(&hub, &owner, socket, &event).await;
            return;
        }
    };
    // The socket is gone if its object's turn failed after all.
    let Some(outbound) = hub.open(socket) else {
        return;
    };
    let config = WebSocketConfig::default()
        // Small buffers: a hibernated socket should cost little memory.
        .read_buffer_size(4096)
        .write_buffer_size(0)
        .max_message_size(Some(hub.limits.max_message_bytes))
        .max_frame_size(Some(hub.limits.max_message_bytes));
    let stream =
        WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Server, Some(config)).await;
    let label = ns(&owner.namespace);
    let metrics = owner.metrics.clone();
    metrics.websockets_open.get_or_create(&label).inc();
    let close = run(&hub, &owner, socket, stream, outbound).await;
    metrics.websockets_open.get_or_create(&label).dec();
    match close {
        // The actor forgets the socket after the close handler ran.
        Some(event) => close_for_object(&hub, &owner, socket, &event).await,
        None => hub.remove(socket),
    }
}

type Stream = WebSocketStream<TokioIo<hyper::upgrade::Upgraded>>;

/// The socket's life. Returns the close event for the object, or `None` if the host or
/// the object closed it.
async fn run(
    hub: &Hub,
    owner: &Owner,
    socket: SocketId,
    mut stream: Stream,
    mut outbound: QueueReceiver,
) -> Option<WsEvent> {
    let metrics = &owner.metrics;
    let label = ns(&owner.namespace);
    // The counters are looked up once per socket, not per message.
    let counter = |direction| {
        metrics
            .websocket_messages
            .get_or_create(&crate::metrics::WsLabels {
                namespace: label.namespace.clone(),
                direction,
            })
            .clone()
    };
    let (received, sent) = (counter("in"), counter("out"));
    // Made once: each new `cancelled()` future registers with (and leaves) the token's
    // waiter list under its lock, which every socket of the host shares.
    let shutdown = hub.shutdown.cancelled();
    tokio::pin!(shutdown);
    let overflow_token = outbound.overflow.clone();
    let overflow = overflow_token.cancelled();
    tokio::pin!(overflow);
    let max_queued = hub.limits.max_queued_bytes;
    loop {
        tokio::select! {
            incoming = stream.next() => match incoming {
                Some(Ok(Message::Text(text))) => {
                    received.inc();
                    let now = hub.clock.now_ms();
                    if let Some(answer) = hub.auto_response(socket, text.as_str(), now) {
                        sent.inc();
                        if stream.send(Message::text(answer)).await.is_err() {
                            return Some(abnormal());
                        }
                        continue;
                    }
                    let event = WsEvent::Message(WsMessage::Text(text.as_str().to_owned()));
                    if !owner.deliver(socket, &event).await {
                        return None;
                    }
                }
                Some(Ok(Message::Binary(bytes))) => {
                    received.inc();
                    if !owner.deliver(socket, &WsEvent::Message(WsMessage::Binary(bytes.to_vec()))).await {
                        return None;
                    }
                }
                // tungstenite queues the pong; flushing sends it.
                Some(Ok(Message::Ping(_))) => {
                    if stream.flush().await.is_err() {
                        return Some(abnormal());
                    }
                }
                Some(Ok(Message::Pong(_) | Message::Frame(_))) => {}
                Some(Ok(Message::Close(frame))) => {
                    // tungstenite answers the close frame; flushing sends it.
                    let _ = stream.flush().await;
                    let (code, reason) = frame.map_or((1005, String::new()), |f| (u16::from(f.code), f.reason.as_str().to_owned()));
                    return Some(WsEvent::Close { code, reason, was_clean: true });
                }
                Some(Err(WsProtocolError::Capacity(CapacityError::MessageTooLong { size, max_size }))) => {
                    let reason = format!("message of {size} bytes is over the limit of {max_size}");
                    let _ = stream.close(Some(CloseFrame { code: CloseCode::Size, reason: reason.clone().into() })).await;
                    return Some(WsEvent::Close { code: 1009, reason, was_clean: false });
                }
                Some(Err(_)) | None => return Some(abnormal()),
            },
            message = outbound.recv() => match message {
                Some(Outbound::Message(frame)) => {
                    sent.inc();
                    let len = frame.len();
                    // A client that does not read blocks this send: the queue's bound is
                    // watched meanwhile.
                    let result = tokio::select! {
                        result = stream.send(frame) => result,
                        _ = &mut overflow => return Some(overflowed(&mut stream, max_queued).await),
                    };
                    outbound.sent(len);
                    if result.is_err() {
                        return Some(abnormal());
                    }
                }
                Some(Outbound::Close(code, reason)) => {
                    let _ = stream.close(Some(CloseFrame { code: CloseCode::from(code), reason: reason.into() })).await;
                    return None;
                }
                // The hub forgot the socket.
                None => return None,
            },
            _ = &mut overflow => return Some(overflowed(&mut stream, max_queued).await),
            _ = &mut shutdown => {
                let _ = stream.close(Some(CloseFrame { code: CloseCode::Away, reason: "the host is shutting down".into() })).await;
                return None;
            }
        }
    }
}

/// The socket's client did not read while more than `max` bytes were queued for it: it is
/// closed with 1008 (if the close frame can still be written within a second).
async fn overflowed(stream: &mut Stream, max: usize) -> WsEvent {
    let reason =
        format!("the client did not read its messages: over {max} bytes were queued for it");
    let frame = CloseFrame {
        code: CloseCode::Policy,
        reason: reason.clone().into(),
    };
    let _ = tokio::time::timeout(Duration::from_secs(1), stream.close(Some(frame))).await;
    WsEvent::Close {
        code: 1008,
        reason,
        was_clean: false,
    }
}

/// The close event of a socket whose client vanished without a close frame (1006).
pub fn abnormal() -> WsEvent {
    WsEvent::Close {
        code: 1006,
        reason: "WebSocket disconnected without sending Close frame.".into(),
        was_clean: false,
    }
}
