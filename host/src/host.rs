//! The host: everything with the lifetime of the process, built from a `Config` — the
//! composition root that the HTTP edge (`http`) and the command line (`cli`, `main.rs`)
//! hold. It imports the layers below it (`objects`, `guest`, `alarms`, ...) and none of them
//! imports it.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::sync::Arc;

use anyhow::Context;
use wasmtime::component::Linker;
use wasmtime::Engine;

use crate::alarms::{Due, Scheduler, SystemClock};
use crate::commit_log;
use crate::config::Config;
use crate::guest::engine::{new_engine, EpochTicker};
use crate::guest::{new_linker, Binding, Env, ObjectCtx, Worker};
use crate::metrics::Metrics;
use crate::objects::{DispatchError, Event, Namespace, Registry};
use crate::storage::durable_fs;

pub struct Host {
    pub config: Config,
    pub metrics: Arc<Metrics>,
    pub registry: Arc<Registry>,
    namespaces: Vec<Arc<Namespace>>,
    by_name: HashMap<String, usize>,
    /// The application's Workers, in the config's order.
    workers: Vec<Arc<Worker>>,
    engine: Engine,
    linker: Linker<ObjectCtx>,
    _ticker: EpochTicker,
    _lock: File,
    /// Builds the backup's periodic snapshots (with `backup-dir`).
    _snapshots: Option<crate::backup::Compactor>,
    /// Reloads (SIGHUP, the admin API, `wdo dev`'s watcher) run one at a time, so that the
    /// code-version metric moves from each version to the next and never keeps two.
    reloading: std::sync::Mutex<()>,
}

impl Host {
    /// Locks the data directory, compiles (or loads from cache) every namespace's component.
    pub fn start(config: Config) -> anyhow::Result<Host> {
        config.validate()?;
        durable_fs::create_dir_all(&config.data_dir).with_context(|| {
            format!("cannot create data directory {}", config.data_dir.display())
        })?;
        let lock = lock_data_dir(&config)?;
        let metrics = Arc::new(Metrics::default());
        // Cluster mode: the data directory is a cache of the replicated log, rebuilt object
        // by object as they activate; what an earlier process left is dropped first.
        let cluster = match &config.cluster {
            Some(cluster_config) => {
                wipe_object_files(&config)?;
                let joined = tokio::runtime::Handle::current()
                    .block_on(crate::cluster::Cluster::join(
                        cluster_config,
                        metrics.cluster.clone(),
                    ))
                    .context("cannot join the cluster")?;
                Some(joined)
            }
            None => None,
        };
        // Every commit the log holds goes back into its object's WAL, before anything is
        // served or migrated (`commit_log/recovery.rs`).
        let log_dir = commit_log::log_dir(&config.data_dir);
        let recovered = commit_log::recover(&log_dir, &config.data_dir)?;
        if recovered.records > 0 {
            tracing::info!(
                records = recovered.records,
                objects = recovered.objects,
                "recovered from the commit log"
            );
        }
        // Whatever an earlier process wrote and did not sync (it may have crashed between a
        // commit and its fsync) is made durable before any of it is served; then the log's
        // old segments are not needed any more.
        durable_fs::sync_filesystem(&config.data_dir).with_context(|| {
            format!(
                "cannot sync the data directory {}",
                config.data_dir.display()
            )
        })?;
        let backup = crate::backup::ship_recovered(&config, &log_dir, &recovered)?;
        recovered
            .remove_segments(&log_dir)
            .with_context(|| format!("cannot remove the old segments of {}", log_dir.display()))?;
        let migrated = crate::migrations::run(&config)?;
        let (backup, diverged) = backup.unzip();
        let max_memory = config
            .namespaces
            .iter()
            .map(|ns| ns.memory_limit)
            .chain(config.workers.iter().map(|w| w.memory_limit))
            .max()
            .unwrap_or(128 << 20);
        // The pool has a slot for every live object and every worker request running.
        let slots = config.max_live_objects
            + config
                .workers
                .iter()
                .map(|w| w.max_concurrent)
                .sum::<usize>();
        let engine = new_engine(slots, max_memory, config.keep_resident)?;
        let ticker = EpochTicker::start(&engine);
        let linker = new_linker(&engine)?;
        let mut namespaces = Vec::new();
        let mut by_name = HashMap::new();
        for ns in &config.namespaces {
            let mut namespace = Namespace::load(&engine, &linker, &config, ns)?;
            if let Some(cluster) = &cluster {
                // Every node derives the same ids from the same names.
                let local = namespace.id_key.as_bytes().to_vec();
                let shared = tokio::runtime::Handle::current()
                    .block_on(cluster.shared_id_key(&ns.name, &local))
                    .with_context(|| {
                        format!("cannot agree on namespace {:?}'s id key in etcd", ns.name)
                    })?;
                if shared != local {
                    namespace.id_key =
                        crate::ids::IdKey::from_bytes(&shared).with_context(|| {
                            format!(
                                "the id key of namespace {:?} in etcd is not 32 bytes",
                                ns.name
                            )
                        })?;
                    namespace
                        .metadata
                        .set_id_key(&namespace.id_key)
                        .context("cannot store the cluster's id key")?;
                }
            }
            by_name.insert(ns.name.clone(), namespaces.len());
            namespaces.push(Arc::new(namespace));
        }
        for (ns, namespace) in config.namespaces.iter().zip(&namespaces) {
            metrics.init_namespace(&ns.name);
            let version = namespace.version();
            metrics.set_code_version(&ns.name, None, &version.hash, version.loaded_ms);
        }
        let scheduler = Arc::new(Scheduler::new(Arc::new(SystemClock)));
        load_alarms(&namespaces, &scheduler, &metrics)?;
        let first_segment = crate::backup::at_start(
            &config.data_dir,
            backup.as_ref(),
            recovered.next_segment,
            diverged.unwrap_or(false) || !migrated.tags.is_empty(),
        )?;
        let log = commit_log::CommitLog::open(
            &log_dir,
            first_segment,
            commit_log::LogOptions {
                segment_bytes: config.log_segment_size,
                data_dir: config.data_dir.clone(),
                seal_after: backup.is_some().then_some(config.backup_interval),
                backup: backup.clone(),
            },
            metrics.clone(),
        )
        .with_context(|| format!("cannot start the commit log in {}", log_dir.display()))?;
        let registry = Registry::new(config.clone(), metrics.clone(), scheduler, Arc::new(log));
        if let Some(cluster) = cluster {
            registry.set_cluster(cluster);
        }
        let snapshots = match backup {
            Some(backup) => Some(
                crate::backup::Compactor::start(backup, config.backup_snapshot_interval)
                    .context("cannot start the backup's snapshot thread")?,
            ),
            None => None,
        };
        let env_of = |bindings: &BTreeMap<String, String>, vars: &BTreeMap<String, String>| {
            Arc::new(Env {
                bindings: bindings
                    .iter()
                    .map(|(name, ns)| {
                        let index = by_name[ns];
                        Binding {
                            name: name.clone(),
                            namespace: namespaces[index].name.clone(),
                            ns_index: index,
                            id_key: namespaces[index].id_key.clone(),
                        }
                    })
                    .collect(),
                vars: vars.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            })
        };
        let envs = config
            .namespaces
            .iter()
            .map(|ns| env_of(&ns.bindings, &ns.vars))
            .collect();
        registry.set_applications(namespaces.clone(), envs);
        let workers = config
            .workers
            .iter()
            .map(|worker| {
                Worker::load(
                    &engine,
                    worker,
                    &config.resolve(&worker.component),
                    &config.cache_dir(),
                    env_of(&worker.bindings, &worker.vars),
                    config.outbound_rules(&worker.allowed_outbound_hosts),
                )
                .map(Arc::new)
            })
            .collect::<anyhow::Result<_>>()?;
        Ok(Host {
            config,
            metrics,
            registry,
            namespaces,
            by_name,
            workers,
            engine,
            linker,
            _ticker: ticker,
            _lock: lock,
            _snapshots: snapshots,
            reloading: std::sync::Mutex::new(()),
        })
    }

    pub fn namespace(&self, name: &str) -> Option<(usize, Arc<Namespace>)> {
        let index = *self.by_name.get(name)?;
        Some((index, self.namespaces[index].clone()))
    }

    /// Loads worker `index`'s component file again; the next requests run it. On error
    /// the old code keeps serving. Blocking.
    pub fn reload_worker(&self, index: usize) -> anyhow::Result<()> {
        let _one_at_a_time = self.reloading.lock().unwrap_or_else(|e| e.into_inner());
        let worker = &self.workers[index];
        let path = self.config.resolve(&worker.config.component);
        worker.reload(&self.engine, &path, &self.config.cache_dir())?;
        tracing::info!(
            "reloaded worker {:?} from {}",
            worker.config.name,
            path.display()
        );
        Ok(())
    }

    pub fn workers(&self) -> &[Arc<Worker>] {
        &self.workers
    }

    /// The worker that owns `path`: of several, the one with the longest matching route.
    pub fn worker_for(&self, path: &str) -> Option<&Arc<Worker>> {
        self.workers
            .iter()
            .filter_map(|w| Some((w.config.route_for(path)?, w)))
            .max_by_key(|(length, _)| *length)
            .map(|(_, w)| w)
    }

    pub fn namespaces(&self) -> &[Arc<Namespace>] {
        &self.namespaces
    }

    /// Loads namespace `index`'s component file again and retires its live objects, so that
    /// their next events run the new code (their storage and sockets stay). On error the old
    /// code keeps serving. Blocking: compiling may take seconds.
    pub fn reload(&self, index: usize) -> anyhow::Result<()> {
        let _one_at_a_time = self.reloading.lock().unwrap_or_else(|e| e.into_inner());
        let namespace = &self.namespaces[index];
        let previous = namespace.version();
        namespace.reload(&self.engine, &self.linker, &self.config.cache_dir())?;
        let version = namespace.version();
        self.metrics.set_code_version(
            &namespace.name,
            Some(&previous.hash),
            &version.hash,
            version.loaded_ms,
        );
        let retired = self.registry.retire_namespace(index);
        tracing::info!(namespace = %namespace.name, "reloaded {}; {retired} live object(s) restart on their next event", namespace.component_path.display());
        Ok(())
    }

    /// Hands a due alarm to its object (activating it if needed). False if it cannot take
    /// it now.
    /// Cluster mode: every `every`, the due alarms of objects that no node owns (their
    /// owner died) are delivered here; this node claims each object and runs its alarm.
    pub async fn fire_orphaned_alarms(
        self: Arc<Self>,
        every: std::time::Duration,
        stop: tokio_util::sync::CancellationToken,
    ) {
        let Some(cluster) = self.registry.cluster().cloned() else {
            return;
        };
        loop {
            tokio::select! {
                _ = tokio::time::sleep(every) => {}
                _ = stop.cancelled() => return,
            }
            let now = self.registry.scheduler.clock.now_ms();
            let due = match cluster.unclaimed_due(now, 1000).await {
                Ok(due) => due,
                Err(e) => {
                    tracing::warn!(
                        "cluster: cannot look for alarms of objects without an owner: {e:#}"
                    );
                    continue;
                }
            };
            for alarm in due {
                let Some(&index) = self.by_name.get(&alarm.namespace) else {
                    continue;
                };
                tracing::info!(namespace = %alarm.namespace, object = %hex::encode(alarm.id), "cluster: delivering the alarm of an object whose owner is gone");
                let entry = crate::alarms::AlarmEntry::new(alarm.due_ms);
                let Ok(id) = self.namespaces[index].id_key.parse(&hex::encode(alarm.id)) else {
                    tracing::warn!(namespace = %alarm.namespace, "cluster: an alarm in etcd names an id that is not of this namespace; ignored");
                    continue;
                };
                self.deliver_alarm(Due {
                    key: (index, id),
                    name: alarm.name,
                    entry,
                });
            }
        }
    }

    pub fn deliver_alarm(&self, due: Due) -> bool {
        let (index, id) = due.key;
        let namespace = &self.namespaces[index];
        let event = Event::Alarm { entry: due.entry };
        match self
            .registry
            .dispatch(namespace, index, id, due.name.as_deref(), event)
        {
            Ok(()) => true,
            // The alarm stays in the index and fires once the host restarts.
            Err(e @ DispatchError::Quarantined(_)) => {
                tracing::warn!(namespace = %namespace.name, object = %id, "alarm not delivered: {e}");
                true
            }
            Err(e) => {
                tracing::warn!(namespace = %namespace.name, object = %id, "alarm not delivered, retrying in a second: {e}");
                false
            }
        }
    }
}

/// Every namespace's alarm index into the scheduler: alarms outlive the process.
fn load_alarms(
    namespaces: &[Arc<Namespace>],
    scheduler: &Scheduler,
    metrics: &Metrics,
) -> anyhow::Result<()> {
    for (index, namespace) in namespaces.iter().enumerate() {
        let alarms = namespace
            .metadata
            .alarms()
            .with_context(|| format!("cannot read the alarms of namespace {:?}", namespace.name))?;
        for (id, name, entry) in alarms {
            match namespace.id_key.parse(&id) {
                Ok(id) => scheduler.schedule((index, id), name, entry),
                Err(e) => {
                    tracing::warn!(namespace = %namespace.name, "ignoring alarm of unknown object {id}: {e}")
                }
            }
        }
        let count = scheduler.count(index);
        metrics
            .alarms_scheduled
            .get_or_create(&crate::metrics::ns(&namespace.name))
            .set(count as i64);
        if count > 0 {
            tracing::info!(namespace = %namespace.name, "{count} alarm(s) scheduled");
        }
    }
    Ok(())
}

/// One host per data directory: a second one would break "one instance per object".
fn lock_data_dir(config: &Config) -> anyhow::Result<File> {
    let path = config.data_dir.join("wdo.lock");
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("cannot open lock file {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => anyhow::bail!(
            "data directory {} is in use by another wdo process (lock file {})",
            config.data_dir.display(),
            path.display()
        ),
        Err(std::fs::TryLockError::Error(e)) => {
            Err(e).with_context(|| format!("cannot lock {}", path.display()))
        }
    }
}

/// Cluster mode, at start: deletes every object's files and the host's commit log (the
/// replicated log holds the objects; each is rebuilt from it when it activates here).
fn wipe_object_files(config: &Config) -> anyhow::Result<()> {
    let log_dir = commit_log::log_dir(&config.data_dir);
    match std::fs::remove_dir_all(&log_dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("cannot delete {}", log_dir.display())),
    }
    for ns in &config.namespaces {
        let dir = config.data_dir.join(&ns.name);
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries {
            let entry = entry?;
            let name = entry.file_name();
            let name = name.to_string_lossy();
            let is_object = name.len() > 64
                && name.as_bytes()[..64].iter().all(u8::is_ascii_hexdigit)
                && name[64..].starts_with(".sqlite");
            if is_object {
                std::fs::remove_file(entry.path())
                    .with_context(|| format!("cannot delete {}", entry.path().display()))?;
            }
        }
    }
    Ok(())
}
