//! A `wdo serve` process for one test: free ports, a temporary data directory, a random
//! admin token; stopped (SIGTERM, then SIGKILL) when dropped.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::{Error, ObjectRef};

/// What to serve: namespaces and their component files, or a project's own `wdo.toml`.
#[derive(Default)]
pub struct Builder {
    namespaces: Vec<(String, PathBuf)>,
    config: Option<PathBuf>,
    extra: String,
    binary: Option<PathBuf>,
    cache_dir: Option<PathBuf>,
}

impl Builder {
    /// Serves the component file at `component` as namespace `name`.
    pub fn namespace(mut self, name: &str, component: impl AsRef<Path>) -> Builder {
        self.namespaces
            .push((name.to_string(), component.as_ref().to_path_buf()));
        self
    }

    /// Serves the namespaces of this `wdo.toml` instead (its listen addresses and data
    /// directory are replaced by the test's own).
    pub fn config(mut self, path: impl AsRef<Path>) -> Builder {
        self.config = Some(path.as_ref().to_path_buf());
        self
    }

    /// Top-level settings added to the generated config, e.g. `idle-timeout = "1s"`.
    pub fn setting(mut self, toml_line: &str) -> Builder {
        self.extra.push_str(toml_line);
        self.extra.push('\n');
        self
    }

    /// The `wdo` binary (default `$WDO_BIN`, else `wdo` on the `PATH`).
    pub fn binary(mut self, path: impl AsRef<Path>) -> Builder {
        self.binary = Some(path.as_ref().to_path_buf());
        self
    }

    /// Where compiled components are cached (default: `wdo-testing-cache` in the system's
    /// temporary directory, shared between runs; entries are keyed by content hash).
    pub fn cache_dir(mut self, path: impl AsRef<Path>) -> Builder {
        self.cache_dir = Some(path.as_ref().to_path_buf());
        self
    }

    /// Starts the server and waits until it listens (a minute at most).
    pub fn start(self) -> Result<Wdo, Error> {
        if self.namespaces.is_empty() && self.config.is_none() {
            return Err(Error::new(
                "nothing to serve: give at least one namespace or a config",
            ));
        }
        let dir = tempfile::tempdir()?;
        let data = dir.path().join("data");
        let config = match &self.config {
            Some(path) => path.clone(),
            None => self.write_config(dir.path())?,
        };
        let token = random_token()?;
        let binary = self
            .binary
            .clone()
            .or_else(|| std::env::var_os("WDO_BIN").map(PathBuf::from))
            .unwrap_or_else(|| PathBuf::from("wdo"));
        let log_path = dir.path().join("wdo.log");
        let log = std::fs::File::create(&log_path)?;
        let mut child = Command::new(&binary)
            .arg("serve")
            .arg("--config")
            .arg(&config)
            .arg("--data-dir")
            .arg(&data)
            .args(["--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0"])
            .env("WDO_ADMIN_TOKEN", &token)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .map_err(|e| {
                Error::new(format!(
                    "cannot start {} (set WDO_BIN to the wdo binary): {e}",
                    binary.display()
                ))
            })?;
        let (url, admin) = match read_addresses(&mut child) {
            Ok(addresses) => addresses,
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                let log = std::fs::read_to_string(&log_path).unwrap_or_default();
                return Err(Error::new(format!("wdo did not start: {e}\n{log}")));
            }
        };
        Ok(Wdo {
            child: Some(child),
            url,
            admin,
            token,
            client: reqwest::Client::new(),
            dir,
        })
    }

    fn write_config(&self, dir: &Path) -> Result<PathBuf, Error> {
        let cache = self
            .cache_dir
            .clone()
            .unwrap_or_else(|| std::env::temp_dir().join("wdo-testing-cache"));
        let mut text = format!("cache-dir = {:?}\n{}", cache, self.extra);
        for (name, component) in &self.namespaces {
            let component = std::path::absolute(component)?;
            text.push_str(&format!(
                "\n[[namespace]]\nname = {name:?}\ncomponent = {component:?}\n"
            ));
        }
        let path = dir.join("wdo.toml");
        std::fs::write(&path, text)?;
        Ok(path)
    }
}

/// A running `wdo serve`.
pub struct Wdo {
    child: Option<Child>,
    url: String,
    admin: String,
    token: String,
    client: reqwest::Client,
    dir: tempfile::TempDir,
}

impl Wdo {
    pub fn builder() -> Builder {
        Builder::default()
    }

    /// `http://127.0.0.1:PORT` + `path` on the public listener, e.g. `/counter/a/increment`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.url, path)
    }

    /// An HTTP client for the public listener.
    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    /// The object named `name` (or `@<id>`) of namespace `namespace`.
    pub fn object(&self, namespace: &str, name: &str) -> ObjectRef<'_> {
        ObjectRef::new(self, namespace, name)
    }

    /// What the server logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("wdo.log")).unwrap_or_default()
    }

    /// A request to the admin API, with the server's token.
    pub(crate) fn admin(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.client
            .request(method, format!("{}{}", self.admin, path))
            .bearer_auth(&self.token)
    }

    /// Stops the server gracefully (in-flight events finish and commit).
    pub fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let _ = child.wait();
    }
}

impl Drop for Wdo {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Reads the line `wdo listening on http://A (admin http://B) ...` (the compile of every
/// component comes first, so this waits up to a minute).
fn read_addresses(child: &mut Child) -> Result<(String, String), String> {
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = sender.send(line);
    });
    let line = receiver
        .recv_timeout(Duration::from_secs(60))
        .map_err(|_| "no listening line within 60 s".to_string())?;
    let mut words = line.split_whitespace().skip(3);
    match (words.next(), words.nth(1)) {
        (Some(url), Some(admin)) if line.starts_with("wdo listening on http://") => {
            Ok((url.to_string(), admin.trim_end_matches(')').to_string()))
        }
        _ => Err(format!("unexpected first line {line:?}")),
    }
}

fn random_token() -> Result<String, Error> {
    let mut bytes = [0u8; 16];
    std::io::Read::read_exact(&mut std::fs::File::open("/dev/urandom")?, &mut bytes)?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}
