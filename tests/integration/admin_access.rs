//! The admin API is closed by default: with a token (config or environment) every admin
//! request needs it, and an admin listener off loopback without a token refuses to start.

use std::process::Command;

use serde_json::Value;

use crate::harness::{decode, Options, Server};

const TOKEN: &str = "3f1c9a7e5b2d4f608e1a3c5b7d9f0e2a";

/// Every admin endpoint, as (method, path).
const ENDPOINTS: [(&str, &str); 5] = [
    ("GET", "/metrics"),
    ("GET", "/healthz"),
    ("GET", "/v1/namespaces"),
    ("GET", "/v1/namespaces/counter/objects"),
    ("POST", "/v1/namespaces/counter/unique-id"),
];

async fn admin(server: &Server, method: &str, path: &str, auth: Option<&str>) -> (u16, Value) {
    let url = format!("{}{path}", server.admin);
    let mut request = server
        .client
        .request(method.parse().unwrap(), url)
        .header("content-length", "0");
    if let Some(auth) = auth {
        request = request.header("authorization", auth);
    }
    decode(request.send().await.expect("admin request")).await
}

async fn every_admin_request_needs_the_token(server: &Server) {
    for (method, path) in ENDPOINTS {
        let (status, body) = admin(server, method, path, None).await;
        assert_eq!(status, 401, "{method} {path} without a token: {body}");
        let error = body["error"].as_str().unwrap();
        assert!(
            error.contains("Authorization: Bearer <token>") && error.contains("WDO_ADMIN_TOKEN"),
            "{error}"
        );
        let (status, body) = admin(server, method, path, Some("Bearer not-the-token")).await;
        assert_eq!(status, 401, "{method} {path} with a wrong token: {body}");
        assert_eq!(body["error"], "the admin token is wrong");
        let basic = format!("Basic {TOKEN}");
        assert_eq!(admin(server, method, path, Some(&basic)).await.0, 401);
        let (status, body) = admin(server, method, path, Some(&format!("Bearer {TOKEN}"))).await;
        assert_eq!(status, 200, "{method} {path} with the token: {body}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn with_an_admin_token_in_the_config_every_admin_request_needs_it() {
    let server = Server::start_with(Options {
        extra: format!("admin-token = {TOKEN:?}"),
        ..Options::default()
    });
    every_admin_request_needs_the_token(&server).await;
    // The public listener is not affected.
    assert_eq!(server.get("/counter/a/increment").await.0, 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_admin_token_can_come_from_the_environment() {
    let server = Server::start_with(Options {
        env: vec![("WDO_ADMIN_TOKEN", TOKEN.to_owned())],
        ..Options::default()
    });
    every_admin_request_needs_the_token(&server).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn without_a_token_the_loopback_admin_api_stays_open() {
    let server = Server::start();
    for (method, path) in ENDPOINTS {
        assert_eq!(admin(&server, method, path, None).await.0, 200, "{path}");
    }
}

/// Starts `wdo serve` on a fresh data directory with the admin listener at `admin` and the
/// admin token variable `token` (or none); returns whether it ran, its stderr, and whether
/// it created the data directory.
fn serve_once(admin: &str, token: Option<&str>) -> (bool, String, bool) {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("wdo.toml");
    std::fs::write(
        &config,
        format!("data-dir = {:?}\n", dir.path().join("data")),
    )
    .unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_wdo"));
    command
        .args(["serve", "--config", config.to_str().unwrap()])
        .args(["--listen", "127.0.0.1:0", "--admin-listen", admin]);
    match token {
        Some(token) => command.env("WDO_ADMIN_TOKEN", token),
        None => command.env_remove("WDO_ADMIN_TOKEN"),
    };
    let output = command.output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    (
        output.status.success(),
        stderr,
        dir.path().join("data").exists(),
    )
}

#[test]
fn an_admin_listener_off_loopback_without_a_token_refuses_to_start() {
    let (ran, stderr, data) = serve_once("0.0.0.0:0", None);
    assert!(!ran);
    assert!(
        stderr
            .contains("admin-listen 0.0.0.0:0 is not a loopback address and no admin token is set")
            && stderr.contains("admin-token")
            && stderr.contains("WDO_ADMIN_TOKEN")
            && stderr.contains("127.0.0.1"),
        "{stderr}"
    );
    assert!(!data, "it started before refusing");
}

#[test]
fn a_short_admin_token_is_refused_at_start() {
    let (ran, stderr, _) = serve_once("127.0.0.1:0", Some("secret"));
    assert!(!ran);
    assert!(stderr.contains("at least 16"), "{stderr}");
}
