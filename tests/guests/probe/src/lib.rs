//! The probe: an object for the host's integration tests. Each path does one thing the
//! host must handle: echo what the object saw, burn CPU, allocate, print, trap after a
//! write, answer nonsense, exercise storage limits and SQL through the WIT boundary.

mod outbound;
mod rpc;
mod sql;
mod ws;

use serde_json::json;
use wdo_sdk::{
    export_object, now_ms, AlarmInfo, DurableObject, Error, ListOptions, Message, Request,
    Response, State, WebSocket,
};

struct Probe {
    state: State,
    /// Events this instance has handled: shows when an instance was replaced.
    events: u64,
    hoard: Vec<Vec<u8>>,
}

fn number(request: &Request, name: &str) -> Result<u64, Error> {
    request
        .query(name)
        .ok_or_else(|| Error::bad_request(format!("missing query parameter {name}")))?
        .parse()
        .map_err(|_| Error::bad_request(format!("{name} must be a number")))
}

impl DurableObject for Probe {
    fn new(state: State) -> Self {
        Probe {
            state,
            events: 0,
            hoard: Vec::new(),
        }
    }

    fn fetch(&mut self, request: Request) -> Result<Response, Error> {
        self.events += 1;
        let storage = self.state.storage();
        match request.path() {
            "/echo" => Ok(Response::json(&json!({
                "method": request.method(),
                "url": request.url(),
                "headers": request.headers(),
                "bodyLength": request.body().len(),
                "id": self.state.id(),
                "name": self.state.name(),
                "namespace": self.state.namespace(),
                "instanceEvents": self.events,
            }))
            .with_header("x-probe", "yes")
            .with_status(number(&request, "status").unwrap_or(200) as u16)),
            "/print" => {
                println!("probe says {}", request.query("text").unwrap_or_default());
                eprintln!("probe warns {}", request.query("text").unwrap_or_default());
                Ok(Response::json(&json!({"printed": true})))
            }
            "/print-many" => {
                let lines = number(&request, "lines")?;
                for i in 0..lines {
                    println!("probe line {i}");
                    eprintln!("probe line {i}");
                }
                Ok(Response::json(&json!({"printed": lines * 2})))
            }
            "/spin" => {
                // With `key`: says in the log when it starts, and puts `key` = true when done.
                let ms = number(&request, "ms")?;
                let key = request.query("key");
                if let Some(key) = &key {
                    println!("spinning for {key}");
                }
                let start = std::time::Instant::now();
                while start.elapsed().as_millis() < u128::from(ms) {
                    std::hint::spin_loop();
                }
                if let Some(key) = &key {
                    storage.put(key, &true)?;
                }
                Ok(Response::json(&json!({"spun": ms})))
            }
            "/loop" => {
                storage.put("loop", &true)?;
                let mut x: u64 = 0;
                loop {
                    x = std::hint::black_box(x.wrapping_add(1));
                }
            }
            "/alloc" => {
                let mb = number(&request, "mb")?;
                storage.put("alloc", &mb)?;
                for _ in 0..mb {
                    self.hoard.push(vec![1u8; 1 << 20]);
                }
                Ok(Response::json(&json!({"allocated": mb})))
            }
            "/put" => {
                let key = request.query("key").unwrap_or_else(|| "k".into());
                let value = request.text()?.to_owned();
                storage.put(&key, &value)?;
                Ok(Response::json(&json!({"ok": true})))
            }
            "/add" => {
                // The RPC method `add` as a request: adds `n` (default 1) to the number at
                // `key` (default "count") and answers the sum.
                let key = request.query("key").unwrap_or_else(|| "count".into());
                let n = match request.query("n") {
                    Some(n) => n
                        .parse::<i64>()
                        .map_err(|_| Error::bad_request("n must be an integer"))?,
                    None => 1,
                };
                let sum = storage.get::<i64>(&key)?.unwrap_or(0) + n;
                storage.put(&key, &sum)?;
                Ok(Response::json(&json!({"sum": sum})))
            }
            "/get" => {
                let key = request.query("key").unwrap_or_else(|| "k".into());
                Ok(Response::json(
                    &json!({"value": storage.get::<serde_json::Value>(&key)?}),
                ))
            }
            "/fill" => {
                // `count` values of `size` bytes, keys `fill-0000`...: data larger than a
                // request body may be.
                let size = number(&request, "size")? as usize;
                for i in 0..number(&request, "count")? {
                    storage.put_raw(&format!("fill-{i:04}"), &vec![b'x'; size])?;
                }
                Ok(Response::json(&json!({"ok": true})))
            }
            "/list" => {
                // The keys of a list (with `limit` if given); an error is a value.
                let mut options = ListOptions::new();
                if request.query("limit").is_some() {
                    options = options.limit(number(&request, "limit")? as u32);
                }
                Ok(Response::json(&match storage.list_raw(options) {
                    Ok(entries) => {
                        json!({"keys": entries.into_iter().map(|(k, _)| k).collect::<Vec<_>>()})
                    }
                    Err(e) => json!({"error": e.message()}),
                }))
            }
            "/put-then-trap" => {
                storage.put("trap", &"written before the trap")?;
                panic!("probe: trapping on purpose after a write");
            }
            "/sizes" => {
                // Storage limits as a guest meets them: each error is a value, not a trap.
                let key_len = number(&request, "key")? as usize;
                let value_len = number(&request, "value")? as usize;
                let batch = number(&request, "batch")? as usize;
                let outcome = |r: Result<(), wdo_sdk::StorageError>| match r {
                    Ok(()) => json!("ok"),
                    Err(e) => json!(e.message()),
                };
                let key = "k".repeat(key_len);
                let entries: Vec<(String, u8)> = (0..batch).map(|i| (format!("b{i}"), 1)).collect();
                Ok(Response::json(&json!({
                    "key": outcome(storage.put_raw(&key, b"1")),
                    "value": outcome(storage.put_raw("v", &vec![b'x'; value_len])),
                    "batch": outcome(storage.put_many(&entries)),
                    "listZero": outcome(storage.list_raw(ListOptions::new().limit(0)).map(|_| ())),
                })))
            }
            "/outbound" => outbound::outbound(&request, &storage),
            "/bad-status" => Ok(Response::new(1000)),
            "/escape" => {
                // What a guest could reach outside its object: each attempt's error, or
                // what it got.
                let outcome = |result: std::io::Result<String>| match result {
                    Ok(got) => json!({"got": got}),
                    Err(e) => json!({"error": e.to_string()}),
                };
                let target = request.query("connect").unwrap_or_default();
                Ok(Response::json(&json!({
                    "read": outcome(std::fs::read_to_string("/etc/passwd")),
                    "write": outcome(std::fs::write("/tmp/escaped", "x").map(|()| "written".into())),
                    "list": outcome(std::fs::read_dir("/").map(|d| format!("{} entries", d.count()))),
                    "connect": outcome(
                        std::net::TcpStream::connect(target.as_str()).map(|_| "connected".into())
                    ),
                    "resolve": outcome(
                        std::net::ToSocketAddrs::to_socket_addrs("localhost:80")
                            .map(|a| format!("{} addresses", a.count()))
                    ),
                    "env": std::env::vars().count(),
                    "args": std::env::args().count(),
                })))
            }
            "/ws" => {
                // Accepts with the tags and an attachment of the size asked for; a refusal
                // is answered 400 with the host's message.
                let tags: Vec<String> = request
                    .query("tags")
                    .map_or_else(Vec::new, |t| t.split(',').map(str::to_owned).collect());
                let tags: Vec<&str> = tags.iter().map(String::as_str).collect();
                let socket = match self.state.accept_websocket(&request, &tags) {
                    Ok(socket) => socket,
                    Err(e) => {
                        let status = if e.status() == 426 { 426 } else { 400 };
                        return Ok(
                            Response::json(&json!({"error": e.message()})).with_status(status)
                        );
                    }
                };
                let accepts = storage.get::<u64>("ws-accepts")?.unwrap_or(0);
                storage.put("ws-accepts", &(accepts + 1))?;
                // The first message says how setting an attachment of the size asked went.
                let size = request
                    .query("attach")
                    .and_then(|s| s.parse::<usize>().ok())
                    .unwrap_or(2);
                // A JSON string of `size` bytes: two quotes and size - 2 letters.
                let outcome = match socket.set_attachment(&"a".repeat(size.saturating_sub(2))) {
                    Ok(()) => json!({"attached": size}),
                    Err(e) => json!({"error": e.message()}),
                };
                socket.send_json(&outcome)?;
                Ok(Response::new(101))
            }
            "/alarm/set" => {
                let at = match request.query("at") {
                    Some(at) => at
                        .parse()
                        .map_err(|_| Error::bad_request("at must be a number"))?,
                    None => now_ms() + number(&request, "in")?,
                };
                match storage.set_alarm(at) {
                    Ok(()) => Ok(Response::json(&json!({"scheduled": at}))),
                    Err(e) => Ok(Response::json(&json!({"error": e.message()})).with_status(400)),
                }
            }
            "/alarm/set-then-roll-back" => {
                let at = now_ms() + number(&request, "in")?;
                let outcome: Result<(), Error> = storage.transaction(|txn| {
                    txn.set_alarm(at)?;
                    Err(Error::bad_request("rolled back on purpose"))
                });
                Ok(Response::json(
                    &json!({"rolledBack": outcome.is_err(), "alarm": storage.get_alarm()?}),
                ))
            }
            "/alarm/set-then-trap" => {
                storage.set_alarm(now_ms() + number(&request, "in")?)?;
                panic!("probe: trapping after setting the alarm");
            }
            "/alarm/get" => Ok(Response::json(&json!({"alarm": storage.get_alarm()?}))),
            "/alarm/delete" => {
                storage.delete_alarm()?;
                Ok(Response::json(&json!({"deleted": true})))
            }
            "/alarm/fail" => {
                storage.put("alarm-fail", &number(&request, "times")?)?;
                Ok(Response::json(&json!({"ok": true})))
            }
            "/alarm/log" => Ok(Response::json(&json!({
                "fired": storage.get::<Vec<serde_json::Value>>("alarm-log")?.unwrap_or_default(),
            }))),
            "/delete-all" => {
                storage.delete_all()?;
                Ok(Response::json(&json!({"ok": true})))
            }
            "/ws/closes" => ws::closes(&self.state),
            "/ws/flood" => ws::flood_report(&self.state),
            "/ws/roll-back" => ws::accept_then_roll_back(&self.state, &request),
            "/call" => rpc::call_out(&self.state, &request),
            "/call-many" => rpc::call_many(&request),
            "/forward" => rpc::forward(&request),
            path if path.starts_with("/sql") => sql::handle(&self.state, &request),
            _ => Ok(Response::not_found()),
        }
    }

    fn alarm(&mut self, info: AlarmInfo) -> Result<(), Error> {
        let storage = self.state.storage();
        let record = json!({
            "scheduledMs": info.scheduled_ms,
            "firedMs": now_ms(),
            "retryCount": info.retry_count,
            "isRetry": info.is_retry,
            "alarmDuringHandler": storage.get_alarm()?,
            "object": self.state.name(),
        });
        // Failed attempts are rolled back, so every attempt also goes to the host's log.
        println!("alarm-attempt {record}");
        let fail: u32 = storage.get("alarm-fail")?.unwrap_or(0);
        if info.retry_count < fail {
            return Err(Error::internal(format!(
                "failing attempt {}",
                info.retry_count + 1
            )));
        }
        let mut log: Vec<serde_json::Value> = storage.get("alarm-log")?.unwrap_or_default();
        log.push(record);
        storage.put("alarm-log", &log)?;
        Ok(())
    }

    fn call(&mut self, method: &str, args: serde_json::Value) -> Result<serde_json::Value, Error> {
        self.events += 1;
        rpc::call(&self.state, self.events, method, args)
    }

    fn websocket_message(&mut self, socket: WebSocket, message: Message) -> Result<(), Error> {
        ws::message(&self.state, socket, message)
    }

    fn websocket_close(
        &mut self,
        socket: WebSocket,
        code: u16,
        reason: String,
        was_clean: bool,
    ) -> Result<(), Error> {
        ws::close(&self.state, &socket, code, reason, was_clean)
    }
}

export_object!(Probe);
