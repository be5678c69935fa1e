//! The application parts of the config: the Worker (`[worker]`), the bindings that give a
//! component its `env` (a binding name such as `COUNTER` for a namespace such as
//! `counter`), and plain variables (`vars`).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{default_cpu_limit, default_memory_limit, Config, ConfigError};

/// `[worker]`: a stateless component that receives the requests of its routes.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct WorkerConfig {
    /// The component file (`.wasm`) of the `worker` world.
    pub component: PathBuf,
    /// Shell command `wdo build` runs (in the config's directory) to produce `component`.
    #[serde(default)]
    pub build: Option<String>,
    /// Path prefixes the worker owns, e.g. `["/api/"]`; `["/"]` gives it every request
    /// (then objects are reached only through it). Others go to the objects' URLs.
    #[serde(default = "every_path")]
    pub routes: Vec<String>,
    /// Binding name → namespace, e.g. `{ COUNTER = "counter" }`.
    #[serde(default)]
    pub bindings: BTreeMap<String, String>,
    /// Plain values the worker reads from `env`.
    #[serde(default)]
    pub vars: BTreeMap<String, String>,
    /// Linear memory limit per instance, bytes.
    #[serde(default = "default_memory_limit")]
    pub memory_limit: usize,
    /// CPU time per request (time spent waiting on objects does not count).
    #[serde(default = "default_cpu_limit", with = "humantime_serde")]
    pub cpu_limit: Duration,
    /// Requests the worker runs at once; more wait for a place.
    #[serde(default = "default_max_concurrent")]
    pub max_concurrent: usize,
}

fn every_path() -> Vec<String> {
    vec!["/".into()]
}

fn default_max_concurrent() -> usize {
    64
}

impl WorkerConfig {
    /// Whether the worker owns `path`.
    pub fn owns(&self, path: &str) -> bool {
        self.routes.iter().any(|route| {
            route == "/"
                || path == route.trim_end_matches('/')
                || path.starts_with(route.as_str())
                    && (route.ends_with('/') || path[route.len()..].starts_with('/'))
        })
    }
}

/// A binding name as JavaScript can use it on `env`: `[A-Za-z_][A-Za-z0-9_]*`, at most 64.
fn valid_binding_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && name.len() <= 64
}

/// Bindings and vars of one component (`owner` names it in errors).
pub(super) fn check_env(
    config: &Config,
    owner: &str,
    bindings: &BTreeMap<String, String>,
    vars: &BTreeMap<String, String>,
) -> Result<(), ConfigError> {
    for (name, namespace) in bindings {
        if !valid_binding_name(name) {
            return Err(ConfigError::Invalid(format!(
                "{owner}: binding name {name:?} must match [A-Za-z_][A-Za-z0-9_]* and be at most 64 characters"
            )));
        }
        if !config.namespaces.iter().any(|ns| &ns.name == namespace) {
            return Err(ConfigError::Invalid(format!(
                "{owner}: binding {name} names namespace {namespace:?}, which is not declared"
            )));
        }
    }
    for (name, value) in vars {
        if !valid_binding_name(name) {
            return Err(ConfigError::Invalid(format!(
                "{owner}: var name {name:?} must match [A-Za-z_][A-Za-z0-9_]* and be at most 64 characters"
            )));
        }
        if bindings.contains_key(name) {
            return Err(ConfigError::Invalid(format!(
                "{owner}: {name} is both a binding and a var"
            )));
        }
        if value.len() > 64 << 10 {
            return Err(ConfigError::Invalid(format!(
                "{owner}: var {name} is over 64 KiB"
            )));
        }
    }
    Ok(())
}

/// The worker's own limits and routes.
pub(super) fn check_worker(config: &Config, worker: &WorkerConfig) -> Result<(), ConfigError> {
    let bad = |msg: String| Err(ConfigError::Invalid(format!("[worker]: {msg}")));
    check_env(config, "[worker]", &worker.bindings, &worker.vars)?;
    if worker.routes.is_empty() {
        return bad("routes must name at least one path prefix, e.g. [\"/\"]".into());
    }
    if let Some(route) = worker.routes.iter().find(|r| !r.starts_with('/')) {
        return bad(format!("route {route:?} must begin with /"));
    }
    if worker.memory_limit < (1 << 20) {
        return bad("memory-limit must be at least 1 MiB".into());
    }
    if worker.cpu_limit.is_zero() {
        return bad("cpu-limit must be greater than 0".into());
    }
    if worker.max_concurrent == 0 {
        return bad("max-concurrent must be at least 1".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn worker(routes: &[&str]) -> WorkerConfig {
        toml::from_str::<WorkerConfig>(&format!("component = \"w.wasm\"\nroutes = {routes:?}"))
            .unwrap()
    }

    #[test]
    fn a_route_owns_its_prefix_on_segment_boundaries() {
        let w = worker(&["/api/", "/app"]);
        assert!(w.owns("/api/x"));
        assert!(w.owns("/api"));
        assert!(w.owns("/app"));
        assert!(w.owns("/app/y"));
        assert!(!w.owns("/apple"));
        assert!(!w.owns("/counter/a/get"));
        assert!(worker(&["/"]).owns("/anything"));
    }

    #[test]
    fn bad_bindings_and_vars_are_named() {
        let mut config: Config = toml::from_str(
            "[[namespace]]\nname = \"counter\"\ncomponent = \"c.wasm\"\n\
             [worker]\ncomponent = \"w.wasm\"\nbindings = { COUNTER = \"counter\" }",
        )
        .unwrap();
        config.validate().unwrap();
        let worker = config.worker.as_mut().unwrap();
        worker.bindings.insert("ROOMS".into(), "rooms".into());
        let error = config.validate().unwrap_err().to_string();
        assert!(
            error.contains("ROOMS") && error.contains("\"rooms\""),
            "{error}"
        );
        let worker = config.worker.as_mut().unwrap();
        worker.bindings.remove("ROOMS");
        worker.bindings.insert("9X".into(), "counter".into());
        let error = config.validate().unwrap_err().to_string();
        assert!(error.contains("9X"), "{error}");
        let worker = config.worker.as_mut().unwrap();
        worker.bindings.remove("9X");
        worker.vars.insert("COUNTER".into(), "x".into());
        let error = config.validate().unwrap_err().to_string();
        assert!(error.contains("both a binding and a var"), "{error}");
    }
}
