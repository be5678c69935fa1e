//! `wdo alarm show|set|run|delete`: an object's one alarm (`.../alarm`). `set` takes a time
//! (`--at`, RFC 3339 with `Z` or an offset) or a delay from now (`--in 30s`).

use std::time::{Duration, UNIX_EPOCH};

use clap::{Args, Subcommand};
use reqwest::Method;
use serde_json::json;

use super::client::Client;
use super::output::{self, Output};
use super::{Error, ObjectArgs};

#[derive(Subcommand)]
pub enum AlarmCommand {
    /// When the alarm is set for, if it is.
    Show(ObjectArgs),
    /// Set (or move) the alarm.
    Set {
        #[command(flatten)]
        object: ObjectArgs,
        #[command(flatten)]
        when: When,
    },
    /// Run the alarm handler now (nothing runs without an alarm).
    Run(ObjectArgs),
    /// Remove the alarm.
    Delete(ObjectArgs),
}

#[derive(Args)]
#[group(required = true, multiple = false)]
pub struct When {
    /// The time, RFC 3339: 2026-12-02T15:00:00Z or 2026-12-02T16:00:00+01:00.
    #[arg(long, value_parser = parse_at, value_name = "TIME")]
    at: Option<u64>,
    /// A delay from now: 30s, 5m, 1h 30m.
    #[arg(long = "in", value_parser = humantime::parse_duration, value_name = "DELAY")]
    after: Option<Duration>,
}

pub async fn run(client: &Client, out: &Output, command: AlarmCommand) -> Result<(), Error> {
    match command {
        AlarmCommand::Show(object) => {
            let value = client.get(&object.path(&["alarm"])).await?;
            out.answer(&value, |value| match value["scheduledMs"].as_u64() {
                Some(ms) => format!("the alarm of {object} is set for {}", output::when(ms)),
                None => format!("{object} has no alarm"),
            })
        }
        AlarmCommand::Set { object, when } => {
            let scheduled_ms = match (when.at, when.after) {
                (Some(at), _) => at,
                (None, Some(after)) => output::now_ms() + after.as_millis() as u64,
                (None, None) => unreachable!("clap requires --at or --in"),
            };
            let body = json!({ "scheduledMs": scheduled_ms });
            let path = object.path(&["alarm"]);
            let value = client.json(Method::PUT, &path, Some(&body)).await?;
            out.answer(&value, |_| {
                format!(
                    "the alarm of {object} is set for {}",
                    output::when(scheduled_ms)
                )
            })
        }
        AlarmCommand::Run(object) => {
            let path = object.path(&["alarm", "run"]);
            let value = client.json(Method::POST, &path, None).await?;
            out.answer(&value, |value| {
                if !value["ran"].as_bool().unwrap_or(false) {
                    return format!("{object} has no alarm; nothing ran");
                }
                let next = match value["alarmAfter"].as_u64() {
                    Some(ms) => format!("it is set again for {}", output::when(ms)),
                    None => "no alarm is set now".to_string(),
                };
                format!("ran the alarm of {object}; {next}")
            })
        }
        AlarmCommand::Delete(object) => {
            let path = object.path(&["alarm"]);
            let value = client.json(Method::DELETE, &path, None).await?;
            out.answer(&value, |value| {
                if value["deleted"].as_bool().unwrap_or(false) {
                    format!("deleted the alarm of {object}")
                } else {
                    format!("{object} had no alarm")
                }
            })
        }
    }
}

/// RFC 3339 with `Z` or a `±HH:MM` offset, as Unix milliseconds.
fn parse_at(text: &str) -> Result<u64, String> {
    let invalid = || {
        format!(
            "{text:?} is not an RFC 3339 time with a zone, such as 2026-12-02T15:00:00Z or \
             2026-12-02T16:00:00+01:00"
        )
    };
    let (local, offset_minutes) = if let Some(local) = text.strip_suffix(['Z', 'z']) {
        (local, 0i64)
    } else {
        let split = text.len().checked_sub(6).ok_or_else(invalid)?;
        let (local, zone) = text.split_at_checked(split).ok_or_else(invalid)?;
        let sign = match zone.as_bytes()[0] {
            b'+' => 1,
            b'-' => -1,
            _ => return Err(invalid()),
        };
        let (hours, minutes) = zone[1..].split_once(':').ok_or_else(invalid)?;
        let hours: i64 = hours.parse().map_err(|_| invalid())?;
        let minutes: i64 = minutes.parse().map_err(|_| invalid())?;
        if hours > 23 || minutes > 59 {
            return Err(invalid());
        }
        (local, sign * (hours * 60 + minutes))
    };
    let utc = humantime::parse_rfc3339(&format!("{local}Z")).map_err(|_| invalid())?;
    let ms = utc
        .duration_since(UNIX_EPOCH)
        .map_err(|_| invalid())?
        .as_millis() as i64;
    u64::try_from(ms - offset_minutes * 60_000).map_err(|_| invalid())
}

#[cfg(test)]
mod tests {
    use super::parse_at;

    #[test]
    fn times_are_rfc_3339_in_utc_or_with_an_offset() {
        assert_eq!(parse_at("1970-01-01T00:00:01Z"), Ok(1000));
        assert_eq!(parse_at("1970-01-01T00:00:01.250Z"), Ok(1250));
        assert_eq!(parse_at("1970-01-01T01:00:00+01:00"), Ok(0));
        assert_eq!(parse_at("1970-01-01T00:00:00-00:30"), Ok(1_800_000));
        assert_eq!(
            parse_at("2026-12-02T16:00:00+01:00"),
            parse_at("2026-12-02T15:00:00Z")
        );
        for bad in [
            "2026-12-02T15:00:00",
            "2026-12-02",
            "tomorrow",
            "2026-12-02T15:00:00+1:00",
            "2026-12-02T15:00:00+25:00",
            "",
        ] {
            assert!(parse_at(bad).is_err(), "{bad}");
        }
    }
}
