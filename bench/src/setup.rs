//! Everything a run needs before it starts: the `wdo` binary and the counter component
//! (built with cargo if needed), workerd (installed from npm into a cache directory), and a
//! description of the machine for the report.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::Context;

/// The workerd release the comparison was written against (npm package `workerd`).
pub const WORKERD_VERSION: &str = "1.20261117.1";

/// The repository this harness belongs to.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("bench/ has a parent")
        .to_path_buf()
}

/// Cargo's target directory for this repository.
pub fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => repo_root().join("target"),
    }
}

/// The `wdo` binary: the one given, else the release build, built (or brought up to date)
/// with `cargo build --release -p wdo-host --bin wdo`, a no-op when nothing changed.
pub fn wdo_binary(given: Option<&Path>) -> anyhow::Result<PathBuf> {
    if let Some(path) = given {
        anyhow::ensure!(path.is_file(), "no wdo binary at {}", path.display());
        return Ok(path.to_owned());
    }
    // Inside `cargo test` the outer cargo has just built it next to the test executable's
    // directory; use that one rather than starting a second cargo.
    if let Some(sibling) = built_alongside() {
        if !is_stale(&sibling) {
            return Ok(sibling);
        }
    }
    eprintln!("bench: building wdo (cargo build --release -p wdo-host --bin wdo)");
    run(Command::new(cargo())
        .args(["build", "--release", "-p", "wdo-host", "--bin", "wdo"])
        .current_dir(repo_root()))?;
    let path = target_dir().join("release/wdo");
    anyhow::ensure!(path.is_file(), "cargo built no {}", path.display());
    Ok(path)
}

/// `<target>/release/wdo` next to this executable (which is in `release/` or `release/deps/`).
fn built_alongside() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    exe.ancestors()
        .skip(1)
        .take(2)
        .map(|dir| dir.join("wdo"))
        .find(|p| p.is_file())
}

/// Whether a host source file is newer than the binary.
fn is_stale(binary: &Path) -> bool {
    let Ok(built) = binary.metadata().and_then(|m| m.modified()) else {
        return true;
    };
    let newer = |dir: &Path| newest_mtime(dir).is_some_and(|t| t > built);
    newer(&repo_root().join("host/src")) || newer(&repo_root().join("wit"))
}

fn newest_mtime(dir: &Path) -> Option<std::time::SystemTime> {
    let mut newest = None;
    for entry in std::fs::read_dir(dir).ok()?.flatten() {
        let path = entry.path();
        let time = if path.is_dir() {
            newest_mtime(&path)
        } else {
            entry.metadata().and_then(|m| m.modified()).ok()
        };
        newest = newest.max(time);
    }
    newest
}

/// The counter example as a component: the one given, else built from `examples/counter`.
pub fn counter_component(given: Option<&Path>) -> anyhow::Result<PathBuf> {
    if let Some(path) = given {
        anyhow::ensure!(path.is_file(), "no component at {}", path.display());
        return Ok(path.to_owned());
    }
    example_component("counter")
}

/// A Rust example as a component, built by `examples/build-rust.sh NAME` (a no-op when up
/// to date).
pub fn example_component(name: &str) -> anyhow::Result<PathBuf> {
    let root = repo_root();
    run(Command::new(root.join("examples/build-rust.sh"))
        .arg(name)
        .current_dir(&root))?;
    Ok(root.join(format!("examples/dist/{name}.wasm")))
}

/// The test probe (`tests/guests/probe`), whose `POST /sql` runs any statement (scenario 7's
/// long query), `/add` increments and `/call-many` times RPC calls (scenarios 8 and 9), and
/// the test worker (`tests/guests/worker-probe`, scenario 8), built with one cargo command
/// into the target directory (a no-op when up to date). Returns (probe, worker).
pub fn test_components() -> anyhow::Result<(PathBuf, PathBuf)> {
    let root = repo_root();
    let target = target_dir().join("guests");
    run(Command::new(cargo())
        .args([
            "build",
            "--release",
            "--target",
            "wasm32-wasip2",
            "-p",
            "wdo-test-probe",
            "-p",
            "wdo-test-worker",
            "--target-dir",
        ])
        .arg(&target)
        .current_dir(&root))?;
    let built = target.join("wasm32-wasip2/release");
    Ok((
        built.join("wdo_test_probe.wasm"),
        built.join("wdo_test_worker.wasm"),
    ))
}

/// Where compiled components and workerd are kept between runs.
pub fn cache_dir() -> PathBuf {
    match std::env::var_os("WDO_BENCH_CACHE") {
        Some(dir) => PathBuf::from(dir),
        None => std::env::var_os("HOME")
            .map(PathBuf::from)
            .unwrap_or_else(std::env::temp_dir)
            .join(".cache/wdo-bench"),
    }
}

/// The workerd binary: the one given, else the npm package `workerd` installed into
/// `<cache>/workerd` (`npm install --prefix`), which ships the native binary.
pub fn workerd_binary(given: Option<&Path>) -> anyhow::Result<PathBuf> {
    if let Some(path) = given {
        anyhow::ensure!(path.is_file(), "no workerd binary at {}", path.display());
        return Ok(path.to_owned());
    }
    let prefix = cache_dir().join("workerd");
    let native = prefix.join("node_modules/@cloudflare/workerd-linux-64/bin/workerd");
    let wrapper = prefix.join("node_modules/.bin/workerd");
    let installed = |p: &Path| p.is_file() && version_of(p).is_some();
    if !installed(&native) && !installed(&wrapper) {
        std::fs::create_dir_all(&prefix)?;
        if !prefix.join("package.json").exists() {
            std::fs::write(
                prefix.join("package.json"),
                "{\"name\": \"wdo-bench-workerd\", \"private\": true}\n",
            )?;
        }
        eprintln!(
            "bench: installing workerd@{WORKERD_VERSION} from npm into {}",
            prefix.display()
        );
        run(Command::new("npm")
            .args(["install", "--no-audit", "--no-fund", "--prefix"])
            .arg(&prefix)
            .arg(format!("workerd@{WORKERD_VERSION}")))
        .context("npm install workerd (is Node.js with npm installed?)")?;
    }
    [native, wrapper]
        .into_iter()
        .find(|p| installed(p))
        .context("npm installed workerd, but no runnable workerd binary was found")
}

/// `workerd --version`, e.g. "workerd 2026-11-17".
pub fn version_of(binary: &Path) -> Option<String> {
    let out = Command::new(binary).arg("--version").output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// workerd's configuration and modules, assembled in the cache directory: `bench/workerd/`
/// (config, router, counter) and `examples/chat-js/chat.js` with its one wdo-specific line,
/// the import, changed back to Cloudflare's. Returns the path of the config.
pub fn workerd_config() -> anyhow::Result<PathBuf> {
    let root = repo_root();
    let dir = cache_dir().join("workerd-config");
    std::fs::create_dir_all(&dir)?;
    for file in ["config.capnp", "main.js", "counter.js"] {
        std::fs::copy(root.join("bench/workerd").join(file), dir.join(file))
            .with_context(|| format!("copying bench/workerd/{file}"))?;
    }
    let chat = std::fs::read_to_string(root.join("examples/chat-js/chat.js"))
        .context("reading examples/chat-js/chat.js")?;
    let import = "import { DurableObject } from \"@wdo/sdk\";";
    anyhow::ensure!(
        chat.contains(import),
        "examples/chat-js/chat.js no longer has the line {import:?}"
    );
    let chat = chat.replace(
        import,
        "import { DurableObject } from \"cloudflare:workers\";",
    );
    std::fs::write(dir.join("chat.js"), chat)?;
    Ok(dir.join("config.capnp"))
}

/// Scenario 5 holds 10,000 client sockets: lift the soft open-file limit to the hard one.
pub fn allow_many_sockets() {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit read and write only the struct passed.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 && limit.rlim_cur < limit.rlim_max
        {
            limit.rlim_cur = limit.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
        }
    }
}

fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".into())
}

fn run(command: &mut Command) -> anyhow::Result<()> {
    let status = command
        .status()
        .with_context(|| format!("cannot run {command:?}"))?;
    anyhow::ensure!(status.success(), "{command:?} failed: {status}");
    Ok(())
}

/// One line about the machine: CPU, cores, memory, kernel, load.
pub fn machine() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map(|l| l.trim_start_matches([' ', '\t', ':']).to_string())
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let mem_gib = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0 / 1024.0);
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    format!(
        "{model}, {cores} cores, {mem_gib:.0} GiB, Linux {}, load average {}",
        kernel.trim(),
        load_average()
    )
}

/// The 1, 5 and 15 minute load averages.
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}
