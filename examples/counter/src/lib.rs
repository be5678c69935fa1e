//! `counter`: storage basics. One count per object, kept under the key `count`.
//!
//! - `GET|POST /increment` → `{"count": N}`, N after incrementing by one.
//! - `GET /get` → `{"count": N}` (0 for a new object).

use serde::Serialize;
use wdo_sdk::{export_object, DurableObject, Error, Request, Response, State};

const COUNT_KEY: &str = "count";

struct Counter {
    state: State,
}

#[derive(Serialize)]
struct Count {
    count: u64,
}

impl Counter {
    fn count(&self) -> Result<u64, Error> {
        Ok(self.state.storage().get(COUNT_KEY)?.unwrap_or(0))
    }

    fn increment(&self) -> Result<u64, Error> {
        let count = self.count()? + 1;
        self.state.storage().put(COUNT_KEY, &count)?;
        Ok(count)
    }
}

impl DurableObject for Counter {
    fn new(state: State) -> Self {
        Counter { state }
    }

    fn fetch(&mut self, request: Request) -> Result<Response, Error> {
        let count = match (request.method(), request.path()) {
            ("GET" | "POST", "/increment") => self.increment()?,
            ("GET", "/get") => self.count()?,
            (_, "/increment") => return Err(Error::method_not_allowed("use GET or POST")),
            (_, "/get") => return Err(Error::method_not_allowed("use GET")),
            _ => return Ok(Response::not_found()),
        };
        Ok(Response::json(&Count { count }))
    }
}

export_object!(Counter);
