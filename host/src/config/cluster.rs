//! `[cluster]`: this host is one node of a cluster (`cluster/`). Its objects are placed,
//! fenced and made durable through etcd and NATS JetStream instead of this host alone.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// One node's view of its cluster.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ClusterConfig {
    /// This node's name, unique in the cluster: `[a-z0-9][a-z0-9_-]*`, at most 64 characters.
    pub node_id: String,
    /// `host:port` where the other nodes reach this node's public listener (they forward
    /// requests for this node's objects there).
    pub advertise: String,
    /// etcd's client endpoints (`host:port` or `http://host:port`): membership, placement,
    /// fencing.
    pub etcd: Vec<String>,
    /// NATS servers (`host:port` or `nats://host:port`) of a JetStream cluster: the
    /// replicated commit log.
    pub nats: Vec<String>,
    /// How long a node that stops renewing its lease keeps its objects: after it, another node
    /// takes them over.
    #[serde(default = "default_lease", with = "humantime_serde")]
    pub lease: Duration,
    /// Copies of each commit the log keeps (a commit is acknowledged once a majority of
    /// them hold it).
    #[serde(default = "default_replicas")]
    pub replicas: usize,
    /// The cluster's name: the prefix of its keys in etcd and the name of its JetStream
    /// stream, so that several clusters can share the engines.
    #[serde(default = "default_name")]
    pub name: String,
}

fn default_lease() -> Duration {
    Duration::from_secs(10)
}

fn default_replicas() -> usize {
    3
}

fn default_name() -> String {
    "wdo".into()
}

impl ClusterConfig {
    /// Checks what serde cannot; the message names the key.
    pub fn validate(&self) -> Result<(), String> {
        if !super::valid_namespace_name(&self.node_id) {
            return Err(format!(
                "cluster.node-id {:?} must match [a-z0-9][a-z0-9_-]* and be at most 64 characters",
                self.node_id
            ));
        }
        if !is_host_port(&self.advertise) {
            return Err(format!(
                "cluster.advertise {:?} must be host:port (the address other nodes reach this node's listener at)",
                self.advertise
            ));
        }
        for (key, endpoints, scheme) in [
            ("etcd", &self.etcd, "http://"),
            ("nats", &self.nats, "nats://"),
        ] {
            if endpoints.is_empty() {
                return Err(format!("cluster.{key} must list at least one endpoint"));
            }
            if endpoints.len() > 16 {
                return Err(format!("cluster.{key} lists more than 16 endpoints"));
            }
            for endpoint in endpoints {
                let bare = endpoint.strip_prefix(scheme).unwrap_or(endpoint);
                if !is_host_port(bare) {
                    return Err(format!(
                        "cluster.{key} endpoint {endpoint:?} must be host:port or {scheme}host:port"
                    ));
                }
            }
        }
        if !(Duration::from_secs(2)..=Duration::from_secs(300)).contains(&self.lease) {
            return Err(format!(
                "cluster.lease must be from 2s to 5m, not {}",
                humantime::format_duration(self.lease)
            ));
        }
        if self.replicas == 0 || self.replicas > 5 {
            return Err(format!(
                "cluster.replicas must be from 1 to 5, not {}",
                self.replicas
            ));
        }
        let name_ok = !self.name.is_empty()
            && self.name.len() <= 32
            && self
                .name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !name_ok {
            return Err(format!(
                "cluster.name {:?} must be 1 to 32 letters, digits, '-' or '_'",
                self.name
            ));
        }
        Ok(())
    }
}

impl ClusterConfig {
    /// Checks this table and what the rest of `config` must be for a cluster node.
    pub fn validate_with(&self, config: &super::Config) -> Result<(), String> {
        self.validate()?;
        if config.backup_dir.is_some() {
            return Err("backup-dir cannot be used with [cluster]: the cluster's replicated log is its backup".into());
        }
        let relaxed = config
            .namespaces
            .iter()
            .find(|ns| ns.durability != super::Durability::Full);
        if let Some(ns) = relaxed {
            return Err(format!(
                "namespace {:?}: a cluster replicates every commit before acknowledging it, so durability must be \"full\"",
                ns.name
            ));
        }
        Ok(())
    }
}

/// `host:port` with a port number and a host without spaces or slashes.
fn is_host_port(text: &str) -> bool {
    let Some((host, port)) = text.rsplit_once(':') else {
        return false;
    };
    !host.is_empty() && !host.contains(['/', ' ', '@']) && port.parse::<u16>().is_ok_and(|p| p != 0)
}
