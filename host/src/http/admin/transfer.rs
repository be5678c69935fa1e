//! `GET .../export`: a consistent copy of the object's database, taken in its serial order
//! (`VACUUM INTO`), as `application/vnd.sqlite3`. `PUT .../import` with a SQLite file as
//! the body: checked (`storage::prepare_import`: a database, `integrity_check` ok, the host's
//! tables present or added), then put in the place of the object's database in its serial
//! order. Garbage is refused with 400 and changes nothing.

use std::path::PathBuf;

use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::header::{HeaderValue, CONTENT_DISPOSITION, CONTENT_LENGTH, CONTENT_TYPE};
use hyper::{Request, Response, StatusCode};
use serde_json::json;
use tokio::io::AsyncWriteExt;

use super::super::response::{error_response, file_body, json_response, Body};
use super::Object;
use crate::host::Host;
use crate::objects::AdminRequest;
use crate::storage::prepare_import;

/// A file of the namespace's directory that no object uses; removed when dropped.
struct TempFile(PathBuf);

impl TempFile {
    fn new(object: &Object, what: &str) -> TempFile {
        let nonce = hex::encode(rand::random::<[u8; 6]>());
        TempFile(
            object
                .namespace
                .dir
                .join(format!(".{what}-{}-{nonce}.sqlite", object.id)),
        )
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

pub async fn export(host: &Host, object: &Object) -> Response<Body> {
    if !object.exists(host) {
        return object.not_found();
    }
    let file = TempFile::new(object, "export");
    let to = file.0.clone();
    if let Err(response) = object
        .ask(host, AdminRequest::Export { to: to.clone() })
        .await
    {
        return response;
    }
    // Streamed from the open file, which outlives its name (removed when `file` drops).
    let (copy, size) = match open_with_size(&to).await {
        Ok(opened) => opened,
        Err(e) => {
            return error_response(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("cannot read the export: {e}"),
            )
        }
    };
    let mut response = Response::new(file_body(copy));
    response
        .headers_mut()
        .insert(CONTENT_LENGTH, HeaderValue::from(size));
    let headers = response.headers_mut();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/vnd.sqlite3"),
    );
    if let Ok(value) = HeaderValue::from_str(&format!(
        "attachment; filename=\"{}-{}.sqlite\"",
        object.namespace.name, object.id
    )) {
        headers.insert(CONTENT_DISPOSITION, value);
    }
    response
}

async fn open_with_size(path: &std::path::Path) -> std::io::Result<(tokio::fs::File, u64)> {
    let file = tokio::fs::File::open(path).await?;
    let size = file.metadata().await?.len();
    Ok((file, size))
}

pub async fn import(host: &Host, object: &Object, request: Request<Incoming>) -> Response<Body> {
    let max = object.namespace.config.max_database_size;
    let file = TempFile::new(object, "import");
    if let Err(response) = receive(request, &file.0, max).await {
        return response;
    }
    let path = file.0.clone();
    match tokio::task::spawn_blocking(move || prepare_import(&path)).await {
        Ok(Ok(())) => {}
        Ok(Err(reason)) => {
            return error_response(
                StatusCode::BAD_REQUEST,
                format!("refused import, nothing changed: {reason}"),
            )
        }
        Err(e) => return error_response(StatusCode::INTERNAL_SERVER_ERROR, e),
    }
    let from = file.0.clone();
    match object.ask(host, AdminRequest::Import { from }).await {
        Ok(_) => json_response(
            StatusCode::OK,
            &json!({ "imported": true, "id": object.id.to_string() }),
        ),
        Err(response) => response,
    }
}

/// Streams the body into `path`, refusing more than `max` bytes.
async fn receive(
    request: Request<Incoming>,
    path: &PathBuf,
    max: u64,
) -> Result<(), Response<Body>> {
    let failed = |e: std::io::Error| {
        error_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("cannot write the upload: {e}"),
        )
    };
    let mut out = tokio::fs::File::create(path).await.map_err(failed)?;
    let mut body = request.into_body();
    let mut written = 0u64;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| {
            error_response(
                StatusCode::BAD_REQUEST,
                format!("cannot read the body: {e}"),
            )
        })?;
        if let Ok(data) = frame.into_data() {
            written += data.len() as u64;
            if written > max {
                return Err(error_response(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    format!(
                        "the file is larger than the namespace's max-database-size of {max} bytes"
                    ),
                ));
            }
            out.write_all(&data).await.map_err(failed)?;
        }
    }
    if written == 0 {
        return Err(error_response(
            StatusCode::BAD_REQUEST,
            "the body is empty: send a SQLite database file",
        ));
    }
    out.flush().await.map_err(failed)?;
    Ok(())
}
