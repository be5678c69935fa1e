//! One object's hooks, through the admin API: evict it, run its alarm now, read its
//! storage, alarm and summary, run SQL on its database.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use reqwest::Method;
use serde_json::{json, Value};

use crate::{Error, Wdo};

/// What is percent-encoded in one path segment.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~')
    .remove(b'@');

pub struct ObjectRef<'a> {
    wdo: &'a Wdo,
    path: String,
}

impl<'a> ObjectRef<'a> {
    pub(crate) fn new(wdo: &'a Wdo, namespace: &str, name: &str) -> ObjectRef<'a> {
        let path = format!(
            "/v1/namespaces/{}/objects/{}",
            utf8_percent_encode(namespace, SEGMENT),
            utf8_percent_encode(name, SEGMENT)
        );
        ObjectRef { wdo, path }
    }

    /// Evicts the object and waits until its instance is gone (it finishes what is queued
    /// first), so the next event meets a new instance built from storage.
    pub async fn evict(&self) -> Result<(), Error> {
        self.call(Method::POST, "/evict", None).await?;
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let info = self.info().await?;
            if info["live"] == json!(false) {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(Error::new(format!(
                    "the object is still live 30 s after its eviction: {info}"
                )));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Runs the object's alarm handler now, as the scheduler would (its writes commit, a
    /// failure schedules a retry). `false` when the object has no alarm.
    pub async fn run_alarm(&self) -> Result<bool, Error> {
        let answer = self.call(Method::POST, "/alarm/run", None).await?;
        Ok(answer["ran"] == json!(true))
    }

    /// The alarm's time in ms since the epoch, if one is set.
    pub async fn alarm(&self) -> Result<Option<i64>, Error> {
        let answer = self.call(Method::GET, "/alarm", None).await?;
        Ok(answer["scheduledMs"].as_i64())
    }

    /// Every key-value entry, in key order. Values stored as JSON (as the SDKs store them)
    /// come back parsed; other text as a JSON string; bytes that are not UTF-8 as
    /// `{"hex": "..."}`.
    pub async fn storage(&self) -> Result<BTreeMap<String, Value>, Error> {
        self.storage_with_prefix("").await
    }

    /// The entries whose key starts with `prefix`.
    pub async fn storage_with_prefix(
        &self,
        prefix: &str,
    ) -> Result<BTreeMap<String, Value>, Error> {
        let mut entries = BTreeMap::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut query = vec![
                ("limit", "1000".to_string()),
                ("prefix", prefix.to_string()),
            ];
            if let Some(cursor) = &cursor {
                query.push(("cursor", cursor.clone()));
            }
            let request = self.wdo.admin(Method::GET, &format!("{}/kv", self.path));
            let page = answer(request.query(&query)).await?;
            for entry in page["entries"].as_array().into_iter().flatten() {
                let key = entry["key"].as_str().unwrap_or_default().to_string();
                let value = match (&entry["value"], &entry["valueHex"]) {
                    (Value::String(text), _) => {
                        serde_json::from_str(text).unwrap_or_else(|_| json!(text))
                    }
                    (_, hex) => json!({ "hex": hex }),
                };
                entries.insert(key, value);
            }
            match page["cursor"].as_str() {
                Some(next) => cursor = Some(next.to_string()),
                None => return Ok(entries),
            }
        }
    }

    /// The object's summary: `sizeBytes`, `lastWriteMs`, `live`, `alarmMs`, `sockets`.
    pub async fn info(&self) -> Result<Value, Error> {
        self.call(Method::GET, "", None).await
    }

    /// Runs one read-only SQL statement on the object's database; `{"columns", "rows"}`.
    pub async fn sql(&self, statement: &str) -> Result<Value, Error> {
        let body = json!({ "sql": statement });
        self.call(Method::POST, "/sql", Some(body)).await
    }

    async fn call(&self, method: Method, tail: &str, body: Option<Value>) -> Result<Value, Error> {
        let mut request = self.wdo.admin(method, &format!("{}{}", self.path, tail));
        if let Some(body) = body {
            request = request.json(&body);
        }
        answer(request).await
    }
}

/// Sends an admin request; a status other than 2xx is an error with the host's reason.
async fn answer(request: reqwest::RequestBuilder) -> Result<Value, Error> {
    let response = request.send().await?;
    let status = response.status();
    let text = response.text().await?;
    let value: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    if !status.is_success() {
        let reason = value["error"].as_str().unwrap_or(&text);
        return Err(Error::new(format!(
            "the admin API answered {status}: {reason}"
        )));
    }
    Ok(value)
}
