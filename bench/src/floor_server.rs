//! The floors' servers, run as child processes of the harness (`wdo-bench
//! http-floor-server`, `wdo-bench commit-floor-server DIR`): one hyper loop that answers
//! every request with a JSON body.

use bytes::Bytes;
use http_body_util::Full;
use hyper::Response;

/// The HTTP floor's server: prints `listening on ADDR`, then answers until killed.
pub fn serve_http_floor() -> anyhow::Result<()> {
    serve_json(|_request| async { Ok(Bytes::from_static(b"{\"value\":1}")) })
}

/// A floor server: prints `listening on ADDR`, then answers every request on 127.0.0.1 with
/// the JSON body `answer` makes of it, until killed.
pub fn serve_json<F, Fut>(answer: F) -> anyhow::Result<()>
where
    F: Fn(hyper::Request<hyper::body::Incoming>) -> Fut + Clone + Send + Sync + 'static,
    Fut: std::future::Future<Output = std::io::Result<Bytes>> + Send + 'static,
{
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        println!("listening on {}", listener.local_addr()?);
        loop {
            let (stream, _) = listener.accept().await?;
            stream.set_nodelay(true)?;
            let answer = answer.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(|request| {
                    let body = answer(request);
                    async move {
                        Response::builder()
                            .header(hyper::header::CONTENT_TYPE, "application/json")
                            .body(Full::new(body.await?))
                            .map_err(std::io::Error::other)
                    }
                });
                let io = hyper_util::rt::TokioIo::new(stream);
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(io, service)
                    .await;
            });
        }
    })
}
