//! An object's alarm: `GET|DELETE .../alarm`, `PUT .../alarm` with `{"scheduledMs": n}`
//! (Unix milliseconds), `POST .../alarm/run` (runs the handler now). Routed in `mod.rs`;
//! setting needs its body checked here.

use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};

use super::super::response::{error_response, Body};
use super::{json_body, Object};
use crate::host::Host;
use crate::objects::AdminRequest;

pub async fn set(host: &Host, object: &Object, request: Request<Incoming>) -> Response<Body> {
    let body = match json_body(request).await {
        Ok(body) => body,
        Err(response) => return response,
    };
    let Some(scheduled_ms) = body["scheduledMs"].as_u64() else {
        return error_response(
            StatusCode::BAD_REQUEST,
            "the body must be {\"scheduledMs\": <Unix milliseconds>}",
        );
    };
    object
        .answer(host, AdminRequest::SetAlarm { scheduled_ms })
        .await
}
