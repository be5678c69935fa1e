//! The application parts of the config: the Workers (`[worker]` or `[[worker]]`), the
//! bindings that give a
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
    /// Names it in logs and errors; each worker of a config has its own.
    #[serde(default = "default_worker_name")]
    pub name: String,
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
    /// Replaces the top-level `allowed-outbound-hosts` for the worker.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_outbound_hosts: Option<Vec<super::OutboundRule>>,
}

fn default_worker_name() -> String {
    "worker".into()
}

/// `[worker]` (one table) or `[[worker]]` (an array of them).
pub(super) fn one_or_many<'de, D>(deserializer: D) -> Result<Vec<WorkerConfig>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    match toml::Value::deserialize(deserializer)? {
        value @ toml::Value::Array(_) => Vec::<WorkerConfig>::deserialize(value),
        value => WorkerConfig::deserialize(value).map(|worker| vec![worker]),
    }
    .map_err(serde::de::Error::custom)
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
        self.route_for(path).is_some()
    }

    /// The length of the longest of its routes that owns `path`: of several workers, the
    /// one with the longest such route gets the request.
    pub fn route_for(&self, path: &str) -> Option<usize> {
        self.routes
            .iter()
            .filter(|route| {
                *route == "/"
                    || path == route.trim_end_matches('/')
                    || path.starts_with(route.as_str())
                        && (route.ends_with('/') || path[route.len()..].starts_with('/'))
            })
            .map(|route| route.trim_end_matches('/').len())
            .max()
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

/// Every worker's own limits and routes; names and routes unique among them.
pub(super) fn check_workers(config: &Config) -> Result<(), ConfigError> {
    let mut names = std::collections::HashSet::new();
    let mut routes = std::collections::HashMap::new();
    for worker in &config.workers {
        check_worker(config, worker)?;
        if !names.insert(worker.name.as_str()) {
            return Err(ConfigError::Invalid(format!(
                "two workers are named {:?}: give each [[worker]] its own name",
                worker.name
            )));
        }
        for route in &worker.routes {
            let route = route.trim_end_matches('/');
            if let Some(other) = routes.insert(route, worker.name.as_str()) {
                return Err(ConfigError::Invalid(format!(
                    "workers {other:?} and {:?} both own the route {:?}",
                    worker.name,
                    format!("{route}/")
                )));
            }
        }
    }
    Ok(())
}

/// One worker's own limits and routes.
fn check_worker(config: &Config, worker: &WorkerConfig) -> Result<(), ConfigError> {
    let owner = format!("worker {:?}", worker.name);
    let bad = |msg: String| Err(ConfigError::Invalid(format!("{owner}: {msg}")));
    if !super::valid_namespace_name(&worker.name) {
        return bad("its name must match [a-z0-9][a-z0-9_-]* and be at most 64 characters".into());
    }
    check_env(config, &owner, &worker.bindings, &worker.vars)?;
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
        assert_eq!(w.route_for("/api/x"), Some(4));
        assert_eq!(worker(&["/"]).route_for("/api/x"), Some(0));
    }

    #[test]
    fn several_workers_need_their_own_names_and_routes() {
        let config = |text: &str| Config::parse(text).map_err(|e| e.to_string());
        let two = config(
            "[[worker]]\nname = \"api\"\ncomponent = \"a.wasm\"\nroutes = [\"/api/\"]\n\
             [[worker]]\nname = \"site\"\ncomponent = \"s.wasm\"",
        )
        .unwrap();
        assert_eq!(two.workers.len(), 2);
        let error = config(
            "[[worker]]\ncomponent = \"a.wasm\"\nroutes = [\"/api/\"]\n\
             [[worker]]\ncomponent = \"s.wasm\"",
        )
        .unwrap_err();
        assert!(
            error.contains("two workers are named \"worker\""),
            "{error}"
        );
        let error = config(
            "[[worker]]\nname = \"a\"\ncomponent = \"a.wasm\"\nroutes = [\"/api\"]\n\
             [[worker]]\nname = \"b\"\ncomponent = \"s.wasm\"\nroutes = [\"/api/\"]",
        )
        .unwrap_err();
        assert!(error.contains("both own the route \"/api/\""), "{error}");
        let error = config("[worker]\ncomponent = \"a.wasm\"\nroutes = 3").unwrap_err();
        assert!(
            error.contains("routes") || error.contains("sequence"),
            "{error}"
        );
    }

    #[test]
    fn bad_bindings_and_vars_are_named() {
        let mut config: Config = toml::from_str(
            "[[namespace]]\nname = \"counter\"\ncomponent = \"c.wasm\"\n\
             [worker]\ncomponent = \"w.wasm\"\nbindings = { COUNTER = \"counter\" }",
        )
        .unwrap();
        config.validate().unwrap();
        let worker = &mut config.workers[0];
        worker.bindings.insert("ROOMS".into(), "rooms".into());
        let error = config.validate().unwrap_err().to_string();
        assert!(
            error.contains("ROOMS") && error.contains("\"rooms\""),
            "{error}"
        );
        let worker = &mut config.workers[0];
        worker.bindings.remove("ROOMS");
        worker.bindings.insert("9X".into(), "counter".into());
        let error = config.validate().unwrap_err().to_string();
        assert!(error.contains("9X"), "{error}");
        let worker = &mut config.workers[0];
        worker.bindings.remove("9X");
        worker.vars.insert("COUNTER".into(), "x".into());
        let error = config.validate().unwrap_err().to_string();
        assert!(error.contains("both a binding and a var"), "{error}");
    }
}
