//! `ratelimit`: a sliding-window rate limiter.
//!
//! `POST /check` with `{"key": K, "limit": L, "windowMs": W}` records a hit for K if fewer
//! than L hits were recorded in the last W milliseconds:
//! - allowed → 200 `{"allowed": true, "remaining": R}`;
//! - refused → 429, header `Retry-After: S`, `{"allowed": false, "remaining": 0, "retryAfter": S}`,
//!   S being the whole seconds (≥ 1) until a hit leaves the window.
//!
//! The hits of key K are kept as a JSON list of Unix-millisecond timestamps, oldest first,
//! under the storage key `hits:K`; hits older than the window are dropped as K is checked.

use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use wdo_sdk::{export_object, DurableObject, Error, Request, Response, State, Storage};

struct RateLimiter {
    storage: Storage,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Check {
    key: String,
    limit: u64,
    window_ms: u64,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Verdict {
    allowed: bool,
    remaining: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    retry_after: Option<u64>,
}

impl RateLimiter {
    fn handle_check(&self, request: &Request) -> Result<Response, Error> {
        let check: Check = request.json()?;
        if check.limit == 0 {
            return Err(Error::bad_request("limit must be a positive integer"));
        }
        if check.window_ms == 0 {
            return Err(Error::bad_request("windowMs must be a positive integer"));
        }

        let verdict = self.check(&check, now_ms())?;
        Ok(match verdict.retry_after {
            None => Response::json(&verdict),
            Some(seconds) => Response::json(&verdict)
                .with_status(429)
                .with_header("retry-after", seconds.to_string()),
        })
    }

    /// Records a hit for `check.key` at `now` if the limit allows it.
    fn check(&self, check: &Check, now: u64) -> Result<Verdict, Error> {
        let key = format!("hits:{}", check.key);
        let mut hits: Vec<u64> = self.storage.get(&key)?.unwrap_or_default();
        let recorded = hits.len();
        // A hit at `t` is inside the window while `now - t < window_ms`.
        hits.retain(|&hit| hit.saturating_add(check.window_ms) > now);

        let count = hits.len() as u64;
        if count < check.limit {
            hits.push(now);
            self.storage.put(&key, &hits)?;
            return Ok(Verdict {
                allowed: true,
                remaining: check.limit - count - 1,
                retry_after: None,
            });
        }

        if hits.len() < recorded {
            self.storage.put(&key, &hits)?;
        }
        // One hit is allowed again once all but `limit - 1` of the hits have left the window,
        // i.e. when the hit at index `count - limit` leaves it.
        let leaves_at = hits[(count - check.limit) as usize].saturating_add(check.window_ms);
        let retry_after = leaves_at.saturating_sub(now).div_ceil(1000).max(1);
        Ok(Verdict {
            allowed: false,
            remaining: 0,
            retry_after: Some(retry_after),
        })
    }
}

impl DurableObject for RateLimiter {
    fn new(state: State) -> Self {
        RateLimiter {
            storage: state.storage(),
        }
    }

    fn fetch(&mut self, request: Request) -> Result<Response, Error> {
        match (request.method(), request.path()) {
            ("POST", "/check") => self.handle_check(&request),
            (_, "/check") => Err(Error::method_not_allowed("use POST")),
            _ => Ok(Response::not_found()),
        }
    }
}

/// The current time in Unix milliseconds.
fn now_ms() -> u64 {
    let since_epoch = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("the clock is after 1970");
    since_epoch.as_millis() as u64
}

export_object!(RateLimiter);
