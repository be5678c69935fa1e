//! A Cloudflare Workers project's `wrangler.toml` (or `wrangler.json`, `wrangler.jsonc`) as a
//! wdo config: `main` is the Worker (its default export) and receives every request; each
//! `[[durable_objects.bindings]]` class becomes a namespace (`ChatRoom` → `chat-room`)
//! reachable through `env` from the worker and every object; `[vars]` reach `env`;
//! `[[migrations]]` apply. Both are built from `main` with the JavaScript SDK (TypeScript is
//! stripped by its bundler) into `.wdo/build/`, and the data lives in `.wdo/data/`, next to
//! the project file. Fields wdo does not support are named in one warning.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value;

use super::{namespace_for_class, Config, ConfigError, Migration, NamespaceConfig, WorkerConfig};

#[derive(Debug, Deserialize)]
struct Wrangler {
    main: Option<String>,
    #[serde(default)]
    durable_objects: DurableObjects,
    #[serde(default)]
    vars: BTreeMap<String, Value>,
    #[serde(default)]
    migrations: Vec<Migration>,
    #[serde(default)]
    dev: Dev,
    /// Everything else: read (known to be harmless, or warned about).
    #[serde(flatten)]
    other: BTreeMap<String, Value>,
}

#[derive(Debug, Default, Deserialize)]
struct DurableObjects {
    #[serde(default)]
    bindings: Vec<DoBinding>,
}

#[derive(Debug, Deserialize)]
struct DoBinding {
    name: String,
    class_name: String,
    /// A class of another Worker script: not supported.
    script_name: Option<String>,
    #[serde(flatten)]
    other: BTreeMap<String, Value>,
}

#[derive(Debug, Default, Deserialize)]
struct Dev {
    ip: Option<String>,
    port: Option<u16>,
    #[serde(flatten)]
    other: BTreeMap<String, Value>,
}

/// Fields that change nothing on wdo (they describe the deployment on Cloudflare).
const HARMLESS: &[&str] = &[
    "name",
    "compatibility_date",
    "compatibility_flags",
    "account_id",
    "workers_dev",
    "$schema",
    "keep_vars",
    "observability",
    "preview_urls",
];

/// Whether `path` names a wrangler project file.
pub fn is_wrangler_file(path: &Path) -> bool {
    matches!(
        path.file_name().and_then(|n| n.to_str()),
        Some("wrangler.toml" | "wrangler.json" | "wrangler.jsonc")
    )
}

/// The JavaScript SDK's build command (`guest-sdk/js/bin/wdo-js.mjs` of this source tree,
/// or `WDO_JS_SDK`), with its toolchain installed by the README's setup.
fn wdo_js() -> PathBuf {
    match std::env::var_os("WDO_JS_SDK") {
        Some(dir) => PathBuf::from(dir).join("bin/wdo-js.mjs"),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../guest-sdk/js/bin/wdo-js.mjs"),
    }
}

fn quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

/// Reads a project file into a config whose paths are relative to `base_dir` (the file's
/// directory). Returns the config and the warning about unsupported fields, if any.
pub fn translate(path: &Path, text: &str) -> Result<(Config, Option<String>), ConfigError> {
    let parse_error = |message: String| ConfigError::Parse {
        path: path.to_owned(),
        message,
    };
    let project: Wrangler = if path.extension().is_some_and(|e| e == "toml") {
        toml::from_str(text).map_err(|e| parse_error(e.to_string()))?
    } else {
        // JSONC and JSON are both JSON5.
        json5::from_str(text).map_err(|e| parse_error(e.to_string()))?
    };
    let main = project
        .main
        .ok_or_else(|| parse_error("`main` (the Worker's module) is required".into()))?;
    let mut unsupported: Vec<String> = project
        .other
        .keys()
        .filter(|k| !HARMLESS.contains(&k.as_str()))
        .cloned()
        .collect();
    unsupported.extend(project.dev.other.keys().map(|k| format!("dev.{k}")));
    let mut config = Config {
        data_dir: PathBuf::from(".wdo/data"),
        migrations: project.migrations,
        ..Config::default()
    };
    if project.dev.port.is_some() || project.dev.ip.is_some() {
        let ip = project.dev.ip.as_deref().unwrap_or("127.0.0.1");
        let ip = if ip == "localhost" { "127.0.0.1" } else { ip };
        let address = format!("{ip}:{}", project.dev.port.unwrap_or(8787));
        config.listen = address
            .parse()
            .map_err(|_| parse_error(format!("dev.ip/dev.port make no address: {address}")))?;
    }
    let mut vars = BTreeMap::new();
    for (name, value) in project.vars {
        let text = match value {
            Value::String(text) => text,
            // Cloudflare passes JSON values through as they are; wdo's vars are strings.
            other => other.to_string(),
        };
        vars.insert(name, text);
    }
    let mut bindings = BTreeMap::new();
    let sdk = wdo_js();
    for binding in &project.durable_objects.bindings {
        if let Some(script) = &binding.script_name {
            return Err(parse_error(format!(
                "durable_objects binding {}: classes of another Worker (script_name = {script:?}) \
                 are not supported; declare the class in this project",
                binding.name
            )));
        }
        unsupported.extend(
            binding
                .other
                .keys()
                .map(|k| format!("durable_objects.bindings.{k}")),
        );
        let namespace = namespace_for_class(&binding.class_name).ok_or_else(|| {
            parse_error(format!(
                "class_name {:?} makes no namespace name",
                binding.class_name
            ))
        })?;
        bindings.insert(binding.name.clone(), namespace.clone());
        if config.namespaces.iter().any(|ns| ns.name == namespace) {
            continue; // two bindings of one class
        }
        let component = PathBuf::from(format!(".wdo/build/{namespace}.wasm"));
        let build = format!(
            "node {} build {} --class {} --out {}",
            quote(&sdk.to_string_lossy()),
            quote(&main),
            quote(&binding.class_name),
            quote(&component.to_string_lossy())
        );
        let ns: NamespaceConfig = toml::from_str(&format!(
            "name = {namespace:?}\ncomponent = {:?}",
            component.to_string_lossy()
        ))
        .expect("a minimal namespace table");
        config.namespaces.push(NamespaceConfig {
            build: Some(build),
            ..ns
        });
    }
    for ns in &mut config.namespaces {
        ns.bindings = bindings.clone();
        ns.vars = vars.clone();
    }
    let worker_component = PathBuf::from(".wdo/build/worker.wasm");
    let worker: WorkerConfig = toml::from_str(&format!(
        "component = {:?}",
        worker_component.to_string_lossy()
    ))
    .expect("a minimal worker table");
    config.workers = vec![WorkerConfig {
        build: Some(format!(
            "node {} build --worker {} --out {}",
            quote(&sdk.to_string_lossy()),
            quote(&main),
            quote(&worker_component.to_string_lossy())
        )),
        bindings,
        vars,
        ..worker
    }];
    let warning = (!unsupported.is_empty()).then(|| {
        format!(
            "{}: wdo does not support these fields, which are ignored: {}",
            path.display(),
            unsupported.join(", ")
        )
    });
    Ok((config, warning))
}
