//! The command line: bad input gets one clear line and a failure exit code.

use std::process::Command;

fn wdo(args: &[&str]) -> (bool, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_wdo"))
        .args(args)
        .output()
        .unwrap();
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn a_missing_or_invalid_config_is_reported_in_one_line_naming_the_problem() {
    let dir = tempfile::tempdir().unwrap();
    let (ok, stderr) = wdo(&["serve", "--config", "/nonexistent/wdo.toml"]);
    assert!(!ok);
    assert!(
        stderr.starts_with("wdo: error: cannot read config file /nonexistent/wdo.toml"),
        "{stderr}"
    );
    assert!(!stderr.contains("backtrace"), "{stderr}");

    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "idle-timeout = \"soon\"\n").unwrap();
    let (ok, stderr) = wdo(&["serve", "--config", bad.to_str().unwrap()]);
    assert!(!ok);
    assert!(
        stderr.contains("idle-timeout") && stderr.contains("expected a duration"),
        "{stderr}"
    );

    let missing = dir.path().join("missing.toml");
    std::fs::write(
        &missing,
        "[[namespace]]\nname = \"x\"\ncomponent = \"nope.wasm\"\n",
    )
    .unwrap();
    let data = dir.path().join("data");
    let (ok, stderr) = wdo(&[
        "serve",
        "--config",
        missing.to_str().unwrap(),
        "--data-dir",
        data.to_str().unwrap(),
        "--listen",
        "127.0.0.1:0",
        "--admin-listen",
        "127.0.0.1:0",
    ]);
    assert!(!ok);
    assert!(
        stderr.contains("namespace \"x\"") && stderr.contains("nope.wasm"),
        "{stderr}"
    );
}

#[test]
fn bad_flags_are_refused_by_the_parser() {
    let (ok, stderr) = wdo(&["serve", "--idle-timeout", "soon"]);
    assert!(!ok);
    assert!(stderr.contains("--idle-timeout"), "{stderr}");
}

#[test]
fn config_defaults_print_every_setting() {
    let output = Command::new(env!("CARGO_BIN_EXE_wdo"))
        .args(["config", "--defaults"])
        .output()
        .unwrap();
    assert!(output.status.success());
    let text = String::from_utf8(output.stdout).unwrap();
    for key in [
        "listen",
        "admin-listen",
        "data-dir",
        "idle-timeout",
        "max-live-objects",
        "alarm-retry-base",
    ] {
        assert!(
            text.contains(&format!("{key} = ")),
            "{key} missing from:\n{text}"
        );
    }
}
