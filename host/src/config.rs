//! `wdo.toml`: one typed configuration with defaults, loaded from TOML; the command line
//! overrides single fields (see `main.rs`).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

mod app;
mod class_name;
mod cluster;
mod outbound;
mod wrangler;
pub use app::WorkerConfig;
pub use class_name::namespace_for_class;
pub use cluster::ClusterConfig;
pub use outbound::OutboundRule;

/// Errors in the configuration file or its values. They name the field that is wrong.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {error}")]
    Read {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("invalid config file {path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("invalid config: {0}")]
    Invalid(String),
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct Config {
    /// Public HTTP listener.
    pub listen: SocketAddr,
    /// Admin listener (metrics). Loopback by default.
    pub admin_listen: SocketAddr,
    /// When set (here or in `WDO_ADMIN_TOKEN`), every admin request needs
    /// `Authorization: Bearer <token>`. Required for an admin listener off loopback. Never
    /// printed back by `wdo config`.
    #[serde(skip_serializing)]
    pub admin_token: Option<String>,
    /// Where objects' databases live: `<data-dir>/<namespace>/<id>.sqlite`.
    pub data_dir: PathBuf,
    /// Where compiled components are cached; defaults to `<data-dir>/.cache`.
    pub cache_dir: Option<PathBuf>,
    /// An object with no event for this long is evicted.
    #[serde(with = "humantime_serde")]
    pub idle_timeout: Duration,
    /// At most this many live objects per host; the least recently used idle ones are
    /// evicted first when a new one must start.
    pub max_live_objects: usize,
    /// Bytes of memory the instances of all live objects may hold together; over it the
    /// least recently used idle objects are evicted. Default: a quarter of the machine's
    /// memory.
    pub max_instances_memory: Option<usize>,
    /// Largest request body accepted, in bytes.
    pub max_body_size: usize,
    /// Events queued per object before it answers 503.
    pub inbox_depth: usize,
    /// Bytes of the events (request bodies, socket messages) queued for one object before
    /// it answers 503 (one larger event still reaches an object with nothing pending).
    pub max_inbox_bytes: usize,
    /// Events that may share one commit.
    pub max_group_commit: usize,
    /// Bytes after which a segment of the host's commit log is sealed and a new one started;
    /// sealed segments are deleted once the object files are synced (`commit_log/`).
    pub log_segment_size: u64,
    /// Full durability: WAL pages an object writes between two checkpoints of its WAL into
    /// its database file (a checkpoint waits for the object's commits to be durable and
    /// syncs the database file; the WAL grows to about this many pages).
    pub checkpoint_pages: u32,
    /// Continuous backup: every segment of the commit log is copied here before it is
    /// deleted, with a snapshot of the data directory at a start the backup does not cover
    /// (`commit_log/backup.rs`); `wdo restore` rebuilds a data directory from it, as it was at
    /// any moment since its first snapshot. Must not be inside `data-dir`. Off by default.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backup_dir: Option<PathBuf>,
    /// With `backup-dir`: the commit log's active segment is sealed, and so copied to the
    /// backup, once it holds commits this old, even if it is not full: the most of the latest
    /// commits a backup can miss.
    #[serde(with = "humantime_serde")]
    pub backup_interval: Duration,
    /// With `backup-dir`: a new snapshot is built in the backup this often (from the last one
    /// and the segments after it), so that a restore replays at most this much of the log.
    #[serde(with = "humantime_serde")]
    pub backup_snapshot_interval: Duration,
    /// Bytes of an instance's memory that stay resident in its slot after it stops, so that
    /// the next instance in the slot starts without page faults (only the pages it dirtied
    /// are reset). Up to this much per slot of the pool (`max-live-objects` plus a quarter);
    /// 0 returns every page to the OS at once.
    pub keep_resident: usize,
    /// How long a shutdown waits for turns in flight.
    #[serde(with = "humantime_serde")]
    pub shutdown_grace: Duration,
    /// Largest WebSocket message a client may send, in bytes; a larger one closes the
    /// socket with 1009.
    pub max_websocket_message: usize,
    /// Most bytes queued for one WebSocket whose client does not read; beyond it the socket
    /// is closed with 1008 (a single larger message is still sent into an empty queue).
    pub max_websocket_queue: usize,
    /// Bytes of WebSocket messages one event may send (a broadcast's message counts once);
    /// beyond it the send fails with `limit-exceeded`.
    pub max_event_send_bytes: usize,
    /// WebSocket messages and closes one event may queue (a broadcast counts one per
    /// socket); beyond it the send fails with `limit-exceeded`.
    pub max_event_sends: usize,
    /// A connection must send its request headers within this long (from when it opens or
    /// its previous response was written), or it is closed.
    #[serde(with = "humantime_serde")]
    pub header_read_timeout: Duration,
    /// A request body must arrive in full within this long, or the request answers 408.
    #[serde(with = "humantime_serde")]
    pub body_read_timeout: Duration,
    /// Open HTTP connections per listener; beyond it new ones are closed at once. A
    /// connection upgraded to a WebSocket counts against `max-websockets` instead.
    pub max_connections: usize,
    /// Open WebSockets per host; beyond it upgrade requests answer 503.
    pub max_websockets: usize,
    /// First wait before retrying a failed alarm; doubles with each retry.
    #[serde(with = "humantime_serde")]
    pub alarm_retry_base: Duration,
    /// How long a stub's `fetch` or `call` waits for the object's answer.
    #[serde(with = "humantime_serde")]
    pub call_timeout: Duration,
    /// Where objects and workers may send HTTP requests (`config/outbound.rs` says how an
    /// entry reads); a namespace's or the worker's own list replaces this one for it.
    /// Nothing is allowed by default.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub allowed_outbound_hosts: Vec<OutboundRule>,
    #[serde(rename = "namespace")]
    pub namespaces: Vec<NamespaceConfig>,
    /// The application's Workers (`[worker]` for one, `[[worker]]` for several), each
    /// owning its routes.
    #[serde(
        rename = "worker",
        deserialize_with = "app::one_or_many",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub workers: Vec<WorkerConfig>,
    /// Changes to the set of namespaces that move or remove data, applied once each, in
    /// order, at start (see `migrations/`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub migrations: Vec<Migration>,
    /// This host is a node of a cluster (`[cluster]`): objects are placed, fenced and
    /// replicated through etcd and NATS JetStream; the data directory is a cache.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster: Option<ClusterConfig>,
    /// The directory relative paths in this config are resolved against.
    #[serde(skip)]
    pub base_dir: PathBuf,
    /// `wdo serve` runs the build commands first (a Cloudflare project, built as
    /// `wrangler dev` does; each build is quick when its sources did not change).
    #[serde(skip)]
    pub build_on_start: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: "127.0.0.1:8787".parse().expect("valid address"),
            admin_listen: "127.0.0.1:9787".parse().expect("valid address"),
            admin_token: None,
            data_dir: PathBuf::from(".wdo/data"),
            cache_dir: None,
            idle_timeout: Duration::from_secs(10),
            max_live_objects: 1000,
            max_instances_memory: None,
            max_body_size: 32 << 20,
            inbox_depth: 1024,
            max_inbox_bytes: 64 << 20,
            max_group_commit: 64,
            log_segment_size: 64 << 20,
            checkpoint_pages: 1000,
            backup_dir: None,
            backup_interval: Duration::from_secs(10),
            backup_snapshot_interval: Duration::from_secs(3600),
            keep_resident: 2 << 20,
            shutdown_grace: Duration::from_secs(30),
            alarm_retry_base: Duration::from_secs(2),
            header_read_timeout: Duration::from_secs(15),
            body_read_timeout: Duration::from_secs(60),
            max_connections: 10_000,
            max_websockets: 32_768,
            max_websocket_message: 32 << 20,
            max_websocket_queue: 16 << 20,
            max_event_send_bytes: 64 << 20,
            max_event_sends: 131_072,
            call_timeout: Duration::from_secs(30),
            allowed_outbound_hosts: Vec::new(),
            namespaces: Vec::new(),
            workers: Vec::new(),
            migrations: Vec::new(),
            cluster: None,
            base_dir: PathBuf::from("."),
            build_on_start: false,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Durability {
    /// fsync before every response (SQLite synchronous=FULL).
    #[default]
    Full,
    /// Commit before the response, but let the OS decide when to fsync (synchronous=NORMAL):
    /// a power loss may lose the last commits, a process crash does not.
    Relaxed,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct NamespaceConfig {
    /// URL segment and directory name: `[a-z0-9][a-z0-9_-]*`.
    pub name: String,
    /// The component file (`.wasm`).
    pub component: PathBuf,
    /// Shell command `wdo build` runs (in the config's directory) to produce `component`.
    #[serde(default)]
    pub build: Option<String>,
    #[serde(default)]
    pub durability: Durability,
    /// Linear memory limit per instance, bytes.
    #[serde(default = "default_memory_limit")]
    pub memory_limit: usize,
    /// Time limit per event.
    #[serde(default = "default_cpu_limit", with = "humantime_serde")]
    pub cpu_limit: Duration,
    /// Largest size of an object's database file, bytes (key-value data and SQL tables).
    /// A write past it fails its event, which is rolled back; committed data stays.
    #[serde(default = "default_max_database_size")]
    pub max_database_size: u64,
    /// Lines of stdout and stderr an instance may log per second; the rest are dropped and
    /// one line says how many.
    #[serde(default = "default_log_lines_per_second")]
    pub log_lines_per_second: u32,
    /// Binding name → namespace: the other objects this one reaches through `env`.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub bindings: std::collections::BTreeMap<String, String>,
    /// Plain values the object reads from `env`.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub vars: std::collections::BTreeMap<String, String>,
    /// Replaces the top-level `allowed-outbound-hosts` for this namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_outbound_hosts: Option<Vec<OutboundRule>>,
}

fn default_log_lines_per_second() -> u32 {
    100
}

/// One `[[migrations]]` entry, as in Cloudflare's `wrangler.toml` (whose snake_case keys are
/// accepted too). Classes are named as there (`ChatRoom`) or as namespaces (`chat-room`);
/// `migrations::namespace_for_class` says how one becomes the other. Its JSON is what the
/// data directory records of an applied migration, so empty lists are left out: a list
/// added here later must not make every recorded migration look changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Migration {
    pub tag: String,
    /// Declares classes; moves no data.
    #[serde(default, alias = "new_classes", skip_serializing_if = "Vec::is_empty")]
    pub new_classes: Vec<String>,
    /// The same as `new-classes`: every wdo object is SQLite-backed.
    #[serde(
        default,
        alias = "new_sqlite_classes",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub new_sqlite_classes: Vec<String>,
    /// The data (objects, id key, alarms) follows the new name.
    #[serde(
        default,
        alias = "renamed_classes",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub renamed_classes: Vec<RenamedClass>,
    /// The data is removed.
    #[serde(
        default,
        alias = "deleted_classes",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub deleted_classes: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RenamedClass {
    pub from: String,
    pub to: String,
}

pub(crate) fn default_memory_limit() -> usize {
    128 << 20
}

fn default_max_database_size() -> u64 {
    10 << 30
}

/// The environment variable that sets the admin token.
pub const ADMIN_TOKEN_ENV: &str = "WDO_ADMIN_TOKEN";

/// Shortest admin token accepted: a token is a secret, not a password to remember.
pub const MIN_ADMIN_TOKEN_CHARS: usize = 16;

/// Smallest `max-database-size`: room for the host's own tables and a few pages of data.
pub const MIN_DATABASE_SIZE: u64 = 32 << 10;

pub(crate) fn default_cpu_limit() -> Duration {
    Duration::from_secs(30)
}

impl Config {
    /// Reads and validates a config file. Relative paths in it are relative to its directory.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|error| ConfigError::Read {
            path: path.to_owned(),
            error,
        })?;
        let base_dir = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."))
            .to_owned();
        let as_parse_error = |e| match e {
            ConfigError::Invalid(message) => ConfigError::Parse {
                path: path.to_owned(),
                message,
            },
            other => other,
        };
        if wrangler::is_wrangler_file(path) {
            let (mut config, warning) = wrangler::translate(path, &text)?;
            if let Some(warning) = warning {
                tracing::warn!("{warning}");
            }
            config.data_dir = base_dir.join(&config.data_dir);
            config.base_dir = base_dir;
            config.build_on_start = true;
            config.validate().map_err(as_parse_error)?;
            return Ok(config);
        }
        let mut config = Config::parse(&text).map_err(as_parse_error)?;
        config.base_dir = base_dir;
        Ok(config)
    }

    pub fn parse(text: &str) -> Result<Config, ConfigError> {
        let config: Config =
            toml::from_str(text).map_err(|e| ConfigError::Invalid(e.to_string()))?;
        config.validate()?;
        Ok(config)
    }

    /// Checks values that serde cannot: names, bounds, duplicates.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad = |msg: String| Err(ConfigError::Invalid(msg));
        if self.idle_timeout.is_zero() {
            return bad("idle-timeout must be greater than 0".into());
        }
        if self.max_instances_memory == Some(0) {
            return bad("max-instances-memory must be at least 1".into());
        }
        if self.max_live_objects == 0 {
            return bad("max-live-objects must be at least 1".into());
        }
        if self.max_inbox_bytes == 0 {
            return bad("max-inbox-bytes must be at least 1".into());
        }
        if !(64 << 10..=1 << 30).contains(&self.log_segment_size) {
            return bad(format!(
                "log-segment-size must be from 65536 (64 KiB) to 1073741824 (1 GiB), not {}",
                self.log_segment_size
            ));
        }
        if !(16..=1_000_000).contains(&self.checkpoint_pages) {
            return bad(format!(
                "checkpoint-pages must be from 16 to 1000000, not {}",
                self.checkpoint_pages
            ));
        }
        if !(Duration::from_millis(100)..=Duration::from_secs(86_400))
            .contains(&self.backup_interval)
        {
            return bad(format!(
                "backup-interval must be from 100ms to 1 day, not {}",
                humantime::format_duration(self.backup_interval)
            ));
        }
        if self.backup_snapshot_interval < Duration::from_secs(1) {
            return bad(format!(
                "backup-snapshot-interval must be at least 1s, not {}",
                humantime::format_duration(self.backup_snapshot_interval)
            ));
        }
        if let Some(backup) = &self.backup_dir {
            let inside = |outer: &Path, inner: &Path| {
                let outer = std::path::absolute(outer).unwrap_or_else(|_| outer.to_owned());
                let inner = std::path::absolute(inner).unwrap_or_else(|_| inner.to_owned());
                inner.starts_with(outer)
            };
            if inside(&self.data_dir, backup) || inside(backup, &self.data_dir) {
                return bad(format!(
                    "backup-dir {} must be outside data-dir {} (and not contain it)",
                    backup.display(),
                    self.data_dir.display()
                ));
            }
        }
        if let Some(cluster) = &self.cluster {
            cluster.validate_with(self).map_err(ConfigError::Invalid)?;
        }
        if self.inbox_depth == 0 {
            return bad("inbox-depth must be at least 1".into());
        }
        if self.alarm_retry_base.is_zero() {
            return bad("alarm-retry-base must be greater than 0".into());
        }
        if self.max_group_commit == 0 {
            return bad("max-group-commit must be at least 1".into());
        }
        let mut tags = std::collections::HashSet::new();
        for migration in &self.migrations {
            if migration.tag.trim().is_empty() {
                return bad("every [[migrations]] needs a non-empty tag".into());
            }
            if !tags.insert(migration.tag.as_str()) {
                return bad(format!("migration tag {:?} is used twice", migration.tag));
            }
        }
        if self.header_read_timeout.is_zero() || self.body_read_timeout.is_zero() {
            return bad("header-read-timeout and body-read-timeout must be greater than 0".into());
        }
        if self.max_websocket_queue == 0 {
            return bad("max-websocket-queue must be at least 1".into());
        }
        if self.max_event_send_bytes == 0 || self.max_event_sends == 0 {
            return bad("max-event-send-bytes and max-event-sends must be at least 1".into());
        }
        if self.max_connections == 0 || self.max_websockets == 0 {
            return bad("max-connections and max-websockets must be at least 1".into());
        }
        if let Some(token) = &self.admin_token {
            if token.len() < MIN_ADMIN_TOKEN_CHARS || !token.bytes().all(|b| b.is_ascii_graphic()) {
                return bad(format!(
                    "the admin token (admin-token or {ADMIN_TOKEN_ENV}) must be at least \
                     {MIN_ADMIN_TOKEN_CHARS} visible ASCII characters, without spaces \
                     (for example the output of `openssl rand -hex 32`)"
                ));
            }
        }
        let mut seen = std::collections::HashSet::new();
        for ns in &self.namespaces {
            if !valid_namespace_name(&ns.name) {
                return bad(format!(
                    "namespace name {:?} must match [a-z0-9][a-z0-9_-]* and be at most 64 characters",
                    ns.name
                ));
            }
            if !seen.insert(ns.name.as_str()) {
                return bad(format!("namespace {:?} is declared twice", ns.name));
            }
            if ns.memory_limit < (1 << 20) {
                return bad(format!(
                    "namespace {:?}: memory-limit must be at least 1 MiB",
                    ns.name
                ));
            }
            if ns.cpu_limit.is_zero() {
                return bad(format!(
                    "namespace {:?}: cpu-limit must be greater than 0",
                    ns.name
                ));
            }
            if ns.max_database_size < MIN_DATABASE_SIZE {
                return bad(format!(
                    "namespace {:?}: max-database-size must be at least {MIN_DATABASE_SIZE} bytes",
                    ns.name
                ));
            }
        }
        for ns in &self.namespaces {
            app::check_env(
                self,
                &format!("namespace {:?}", ns.name),
                &ns.bindings,
                &ns.vars,
            )?;
        }
        app::check_workers(self)?;
        if self.call_timeout.is_zero() {
            return bad("call-timeout must be greater than 0".into());
        }
        Ok(())
    }

    /// Takes the admin token from `WDO_ADMIN_TOKEN` if it is set (it wins over the file, as
    /// command-line flags do).
    pub fn admin_token_from_env(&mut self) {
        if let Some(token) = std::env::var_os(ADMIN_TOKEN_ENV) {
            self.admin_token = Some(token.to_string_lossy().into_owned());
        }
    }

    /// An admin listener that others can reach must be closed: refuses a non-loopback
    /// `admin-listen` without a token.
    pub fn check_admin_exposure(&self) -> Result<(), ConfigError> {
        if self.admin_token.is_some() || self.admin_listen.ip().is_loopback() {
            return Ok(());
        }
        Err(ConfigError::Invalid(format!(
            "admin-listen {} is not a loopback address and no admin token is set: anyone who \
             can reach it could read the metrics and list every object. Set admin-token in \
             the config or the {ADMIN_TOKEN_ENV} environment variable (clients then send \
             `Authorization: Bearer <token>`), or listen on 127.0.0.1",
            self.admin_listen
        )))
    }

    /// A path from the config, resolved against the config file's directory.
    pub fn resolve(&self, path: &Path) -> PathBuf {
        if path.is_absolute() {
            path.to_owned()
        } else {
            self.base_dir.join(path)
        }
    }

    /// The outbound hosts of a component whose own list is `own`: its own, else the
    /// top-level one.
    pub fn outbound_rules(
        &self,
        own: &Option<Vec<OutboundRule>>,
    ) -> std::sync::Arc<[OutboundRule]> {
        own.as_ref()
            .unwrap_or(&self.allowed_outbound_hosts)
            .as_slice()
            .into()
    }

    pub fn cache_dir(&self) -> PathBuf {
        match &self.cache_dir {
            Some(dir) => dir.clone(),
            None => self.data_dir.join(".cache"),
        }
    }

    /// The defaults, as TOML (`wdo config --defaults`).
    /// `max-instances-memory`, or a quarter of the machine's memory (4 GiB if it cannot be
    /// read).
    pub fn instances_memory_budget(&self) -> usize {
        self.max_instances_memory.unwrap_or_else(|| {
            let total = std::fs::read_to_string("/proc/meminfo")
                .ok()
                .and_then(|text| {
                    let line = text.lines().find(|l| l.starts_with("MemTotal:"))?;
                    let kib: usize = line.split_whitespace().nth(1)?.parse().ok()?;
                    Some(kib * 1024)
                })
                .unwrap_or(16 << 30);
            total / 4
        })
    }

    pub fn defaults_toml() -> String {
        let mut text = toml::to_string_pretty(&Config::default()).expect("defaults serialize");
        text.push_str(
            "\n# One table per namespace:\n# [[namespace]]\n# name = \"counter\"\n\
             # component = \"examples/dist/counter.wasm\"\n# build = \"examples/build-rust.sh counter\"\n\
             # durability = \"full\"      # or \"relaxed\"\n# memory-limit = 134217728\n# cpu-limit = \"30s\"\n\
             # max-database-size = 10737418240\n\
             \n# Changes to namespaces that move or remove data, applied once each, in order:\n\
             # [[migrations]]\n# tag = \"v2\"\n\
             # renamed-classes = [{ from = \"Counter\", to = \"Tally\" }]   # the data follows\n\
             # deleted-classes = [\"OldRoom\"]                           # the data is removed\n",
        );
        text
    }
}

pub fn valid_namespace_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_lowercase() || c.is_ascii_digit())
        && name.len() <= 64
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
}

#[cfg(test)]
#[path = "config_fuzz_tests.rs"]
mod fuzz_tests;

#[cfg(test)]
mod tests;
