//! A real HTTP server on 127.0.0.1 with answers of given shapes, for outbound clients:
//! `/redirect` answers 302 to `/final`, `/final` answers 200 `final`, `/big` answers
//! `BIG` bytes (over the SDKs' 32 MiB bound) with their content-length, `/big-chunked` the
//! same without it (chunked, 1 MiB a frame).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body_util::{Either, Full};
use hyper::body::{Body, Frame};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;

/// The size of `/big`'s body.
pub const BIG: usize = (32 << 20) + 1;

pub struct ShapedServer {
    pub addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl ShapedServer {
    pub async fn start() -> ShapedServer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let big = Bytes::from(vec![b'x'; BIG]);
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let big = big.clone();
                let service = service_fn(move |request: Request<hyper::body::Incoming>| {
                    let big = big.clone();
                    async move {
                        let full = |bytes: Bytes| Either::Left(Full::new(bytes));
                        let response = match request.uri().path() {
                            "/redirect" => Response::builder()
                                .status(302)
                                .header("location", "/final")
                                .body(full(Bytes::new())),
                            "/final" => Response::builder().body(full(Bytes::from("final"))),
                            "/big" => Response::builder().body(full(big)),
                            "/big-chunked" => {
                                Response::builder().body(Either::Right(Chunked { left: BIG }))
                            }
                            _ => Response::builder().status(404).body(full(Bytes::new())),
                        };
                        Ok::<_, Infallible>(response.unwrap())
                    }
                });
                tokio::spawn(async move {
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        ShapedServer { addr, task }
    }
}

impl Drop for ShapedServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// `left` more bytes, 1 MiB a frame, of no announced length.
struct Chunked {
    left: usize,
}

impl Body for Chunked {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        if self.left == 0 {
            return Poll::Ready(None);
        }
        let n = self.left.min(1 << 20);
        self.left -= n;
        Poll::Ready(Some(Ok(Frame::data(Bytes::from(vec![b'x'; n])))))
    }
}
