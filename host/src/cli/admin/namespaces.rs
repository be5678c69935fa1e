//! `wdo namespaces` (`GET /v1/namespaces`) and `wdo reload [NS]` (`POST /v1/reload`,
//! `POST /v1/namespaces/<ns>/reload`). A component that does not compile is refused by the
//! host (422, exit code 2) and its previous code keeps serving.

use reqwest::Method;
use serde_json::Value;

use super::client::{Client, Path};
use super::output::{self, Output};
use super::Error;

pub async fn list(client: &Client, out: &Output) -> Result<(), Error> {
    let value = client.get(&Path::new(&["v1", "namespaces"])).await?;
    out.answer(&value, |value| table(value, false))
}

pub async fn reload(client: &Client, out: &Output, namespace: Option<&str>) -> Result<(), Error> {
    let path = match namespace {
        Some(ns) => Path::new(&["v1", "namespaces", ns, "reload"]),
        None => Path::new(&["v1", "reload"]),
    };
    let value = client.json(Method::POST, &path, None).await?;
    out.answer(&value, |value| table(value, true))
}

fn table(value: &Value, reloaded: bool) -> String {
    let namespaces = value["namespaces"].as_array().cloned().unwrap_or_default();
    let mut header = vec!["NAMESPACE", "CODE (SHA-256)", "LOADED", "COMPONENT"];
    if reloaded {
        header.insert(0, "RELOADED");
    }
    let mut table = output::table(&header, &[]);
    for ns in &namespaces {
        let hash = ns["version"]["hash"].as_str().unwrap_or("-");
        let mut row = vec![
            ns["name"].as_str().unwrap_or("-").to_string(),
            hash.chars().take(16).collect(),
            output::time(ns["version"]["loadedMs"].as_u64()),
            output::cell(&ns["component"]),
        ];
        if reloaded {
            row.insert(0, output::yes_no(&ns["reloaded"]).to_string());
        }
        table.add_row(row);
    }
    // `wdo reload` also reloads the workers: a row each.
    for worker in value["workers"].as_array().into_iter().flatten() {
        let name = format!("worker {}", worker["name"].as_str().unwrap_or("-"));
        let mut row = vec![name, "-".into(), "-".into(), "-".into()];
        if reloaded {
            row.insert(0, output::yes_no(&worker["reloaded"]).to_string());
        }
        table.add_row(row);
    }
    output::render(&table)
}
