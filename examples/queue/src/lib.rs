//! `queue`: alarms. Tasks wait in a pending list; the alarm moves one task at a time to the
//! done list, one second apart.
//!
//! - `POST /schedule` with `{"task": T, "delaySeconds": D}` → `{"scheduled": true}`: appends
//!   T to the pending list and, if no alarm is set, sets it to now + D seconds.
//! - `GET /status` → `{"pending": [...], "done": [{"task", "retryCount"}...], "alarm": ms|null}`.
//! - A task named `fail:K` makes the alarm fail on its first K attempts.

use serde::{Deserialize, Serialize};
use serde_json::json;
use wdo_sdk::{export_object, now_ms, AlarmInfo, DurableObject, Error, Request, Response, State};

const PENDING: &str = "pending";
const DONE: &str = "done";

struct Queue {
    state: State,
}

#[derive(Serialize, Deserialize)]
struct Done {
    task: String,
    #[serde(rename = "retryCount")]
    retry_count: u32,
}

#[derive(Deserialize)]
struct Schedule {
    task: String,
    #[serde(rename = "delaySeconds")]
    delay_seconds: f64,
}

impl Queue {
    fn pending(&self) -> Result<Vec<String>, Error> {
        Ok(self.state.storage().get(PENDING)?.unwrap_or_default())
    }

    fn done(&self) -> Result<Vec<Done>, Error> {
        Ok(self.state.storage().get(DONE)?.unwrap_or_default())
    }

    fn schedule(&self, request: &Request) -> Result<Response, Error> {
        let Schedule {
            task,
            delay_seconds,
        } = request.json()?;
        if !delay_seconds.is_finite() || delay_seconds < 0.0 {
            return Err(Error::bad_request(
                "delaySeconds must be a number of seconds, 0 or more",
            ));
        }
        let storage = self.state.storage();
        let mut pending = self.pending()?;
        pending.push(task);
        storage.put(PENDING, &pending)?;
        if storage.get_alarm()?.is_none() {
            storage.set_alarm(now_ms() + (delay_seconds * 1000.0).round() as u64)?;
        }
        Ok(Response::json(&json!({"scheduled": true})))
    }
}

/// `fail:K` fails while fewer than K attempts have failed.
fn should_fail(task: &str, retry_count: u32) -> bool {
    task.strip_prefix("fail:")
        .and_then(|k| k.parse::<u32>().ok())
        .is_some_and(|k| retry_count < k)
}

impl DurableObject for Queue {
    fn new(state: State) -> Self {
        Queue { state }
    }

    fn fetch(&mut self, request: Request) -> Result<Response, Error> {
        match (request.method(), request.path()) {
            ("POST", "/schedule") => self.schedule(&request),
            ("GET", "/status") => Ok(Response::json(&json!({
                "pending": self.pending()?,
                "done": self.done()?,
                "alarm": self.state.storage().get_alarm()?,
            }))),
            (_, "/schedule") => Err(Error::method_not_allowed("use POST")),
            (_, "/status") => Err(Error::method_not_allowed("use GET")),
            _ => Ok(Response::not_found()),
        }
    }

    fn alarm(&mut self, info: AlarmInfo) -> Result<(), Error> {
        let storage = self.state.storage();
        let mut pending = self.pending()?;
        if pending.is_empty() {
            return Ok(());
        }
        if should_fail(&pending[0], info.retry_count) {
            return Err(Error::internal(format!(
                "task {:?} fails on attempt {}",
                pending[0],
                info.retry_count + 1
            )));
        }
        let task = pending.remove(0);
        let mut done = self.done()?;
        done.push(Done {
            task,
            retry_count: info.retry_count,
        });
        storage.put(DONE, &done)?;
        storage.put(PENDING, &pending)?;
        if !pending.is_empty() {
            storage.set_alarm(now_ms() + 1000)?;
        }
        Ok(())
    }
}

export_object!(Queue);
