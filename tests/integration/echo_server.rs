//! A real HTTP server on 127.0.0.1 for outbound-request tests: it answers every request
//! with 200, the header `x-echo: yes` and the JSON `{"method", "path", "body", "written"}`
//! (`written`: the request's `x-written` header), and keeps what it received.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};

pub struct EchoServer {
    pub addr: SocketAddr,
    seen: Arc<Mutex<Vec<Value>>>,
    task: tokio::task::JoinHandle<()>,
}

impl EchoServer {
    pub async fn start() -> EchoServer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let keep = seen.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let keep = keep.clone();
                let service = service_fn(move |request: Request<hyper::body::Incoming>| {
                    let keep = keep.clone();
                    async move {
                        let method = request.method().to_string();
                        let path = request.uri().to_string();
                        let written = request
                            .headers()
                            .get("x-written")
                            .map(|v| v.to_str().unwrap_or("").to_owned());
                        let body = request.into_body().collect().await.map(|b| b.to_bytes());
                        let body = String::from_utf8_lossy(&body.unwrap_or_default()).into_owned();
                        let echo = json!({"method": method, "path": path, "body": body, "written": written});
                        keep.lock().unwrap().push(echo.clone());
                        Ok::<_, Infallible>(
                            Response::builder()
                                .header("x-echo", "yes")
                                .header("content-type", "application/json")
                                .body(Full::new(Bytes::from(echo.to_string())))
                                .unwrap(),
                        )
                    }
                });
                tokio::spawn(async move {
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        EchoServer { addr, seen, task }
    }

    /// What it has received so far.
    pub fn seen(&self) -> Vec<Value> {
        self.seen.lock().unwrap().clone()
    }
}

impl Drop for EchoServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A loopback port nothing listens on.
pub fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}
