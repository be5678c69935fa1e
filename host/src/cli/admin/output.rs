//! What the commands print: the host's JSON as it is with `--json`, otherwise aligned tables
//! and short sentences for people. Results go to stdout; hints (the next page's cursor) and
//! progress to stderr. A closed stdout (`| head`) ends the output quietly.

use std::io::Write;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use comfy_table::{presets, CellAlignment, ContentArrangement, Table};
use serde_json::Value;

use super::Error;

/// How to print: for people or for scripts.
pub struct Output {
    pub json: bool,
}

impl Output {
    /// With `--json` the host's answer, else `human(answer)`.
    pub fn answer(&self, value: &Value, human: impl FnOnce(&Value) -> String) -> Result<(), Error> {
        if self.json {
            print_json(value)
        } else {
            print(&human(value))
        }
    }
}

pub fn print_json(value: &Value) -> Result<(), Error> {
    let text = serde_json::to_string_pretty(value).expect("a JSON value serializes");
    print(&text)
}

/// `text` and a newline on stdout.
pub fn print(text: &str) -> Result<(), Error> {
    let mut text = text.to_string();
    if !text.ends_with('\n') {
        text.push('\n');
    }
    write_stdout(text.as_bytes())
}

/// Bytes on stdout as they are.
pub fn write_stdout(bytes: &[u8]) -> Result<(), Error> {
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(bytes).and_then(|()| stdout.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(Error::Failed(format!("cannot write to stdout: {e}"))),
    }
}

/// A table with these column names; columns named in `right` are aligned right (numbers).
pub fn table(header: &[&str], right: &[&str]) -> Table {
    let mut table = Table::new();
    table
        .load_style(presets::NOTHING)
        .set_content_arrangement(ContentArrangement::Disabled)
        .set_header(header.to_vec());
    // No borders: columns two spaces apart, as `ps` and `kubectl` print them.
    for (index, name) in header.iter().enumerate() {
        if let Some(column) = table.column_mut(index) {
            column.set_padding((0, 2));
            if right.contains(name) {
                column.set_cell_alignment(CellAlignment::Right);
            }
        }
    }
    table
}

/// A table as text, each line without trailing blanks.
pub fn render(table: &Table) -> String {
    table
        .lines()
        .map(|line| line.trim_end().to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

/// `12.0 KiB`.
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Unix milliseconds as RFC 3339 in UTC, `-` for none.
pub fn time(ms: Option<u64>) -> String {
    match ms {
        Some(ms) => {
            humantime::format_rfc3339_millis(UNIX_EPOCH + Duration::from_millis(ms)).to_string()
        }
        None => "-".to_string(),
    }
}

/// `2026-12-02T12:00:00.000Z (in 30s)` or `(5m ago)`.
pub fn when(ms: u64) -> String {
    let now = now_ms();
    let (distance, future) = if ms >= now {
        (ms - now, true)
    } else {
        (now - ms, false)
    };
    let rounded = humantime::format_duration(Duration::from_secs(distance.div_ceil(1000)));
    if future {
        format!("{} (in {rounded})", time(Some(ms)))
    } else {
        format!("{} ({rounded} ago)", time(Some(ms)))
    }
}

/// A JSON value in a cell: text as it is, `NULL` for null, a BLOB as `x'..'`.
pub fn cell(value: &Value) -> String {
    match value {
        Value::Null => "NULL".to_string(),
        Value::String(text) => text.clone(),
        Value::Object(object) if object.contains_key("blobHex") => {
            format!("x'{}'", object["blobHex"].as_str().unwrap_or(""))
        }
        other => other.to_string(),
    }
}

/// `text` on one line (control characters escaped), at most `max` characters.
pub fn clip(text: &str, max: usize) -> String {
    let mut out = String::new();
    for (count, c) in text.chars().enumerate() {
        if count == max {
            out.push('…');
            break;
        }
        match c {
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => out.extend(c.escape_unicode()),
            c => out.push(c),
        }
    }
    out
}

/// `yes` / `no`.
pub fn yes_no(value: &Value) -> &'static str {
    if value.as_bool().unwrap_or(false) {
        "yes"
    } else {
        "no"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_times_read_as_people_write_them() {
        assert_eq!(bytes(512), "512 B");
        assert_eq!(bytes(12 * 1024), "12.0 KiB");
        assert_eq!(bytes(3 << 30), "3.0 GiB");
        assert_eq!(time(Some(0)), "1970-01-01T00:00:00.000Z");
        assert_eq!(time(None), "-");
        assert!(
            when(now_ms() + 30_000).contains("(in 3"),
            "{}",
            when(now_ms() + 30_000)
        );
    }

    #[test]
    fn cells_are_one_line_and_clipped() {
        assert_eq!(clip("a\nb\tc", 10), "a\\nb\\tc");
        assert_eq!(clip("abcdef", 3), "abc…");
        assert_eq!(cell(&serde_json::json!({"blobHex": "00ff"})), "x'00ff'");
        assert_eq!(cell(&Value::Null), "NULL");
        assert_eq!(cell(&serde_json::json!(1.5)), "1.5");
    }
}
