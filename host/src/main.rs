//! The `wdo` command: serve, build, dev, config, restore, and the operator's commands on a running
//! host's admin API (objects, kv, sql, alarm, namespaces, reload; in `wdo::cli::admin`).

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use tokio_util::sync::CancellationToken;
use wdo::config::Config;

#[derive(Parser)]
#[command(
    name = "wdo",
    version,
    about = "WebAssembly Durable Objects: a self-hostable runtime"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the namespaces of the config.
    Serve(ServeArgs),
    /// Run each namespace's build command.
    Build {
        #[arg(long, default_value = "wdo.toml")]
        config: PathBuf,
        /// Only these namespaces.
        namespaces: Vec<String>,
    },
    /// Build, then serve; a namespace whose component file changes is reloaded.
    Dev(ServeArgs),
    /// Print the configuration.
    Config {
        /// Print the defaults of every setting.
        #[arg(long)]
        defaults: bool,
        #[arg(long, default_value = "wdo.toml")]
        config: PathBuf,
    },
    /// Rebuild a data directory from a backup (`backup-dir`), as it was at a moment.
    Restore {
        /// The backup directory.
        #[arg(long, value_name = "BACKUP")]
        from: PathBuf,
        /// The data directory to create (absent or empty).
        #[arg(long, value_name = "DATA_DIR")]
        to: PathBuf,
        /// The moment: RFC 3339 in UTC (2026-12-07T11:30:00Z) or Unix milliseconds. Default:
        /// as recent as the backup holds.
        #[arg(long, value_name = "TIME", value_parser = wdo::backup::parse_moment)]
        at: Option<u64>,
    },
    #[command(flatten)]
    Admin(wdo::cli::admin::AdminCommand),
}

#[derive(Args)]
struct ServeArgs {
    #[arg(long, default_value = "wdo.toml")]
    config: PathBuf,
    /// Public address, e.g. 127.0.0.1:8787 (port 0 picks a free port).
    #[arg(long)]
    listen: Option<std::net::SocketAddr>,
    /// Admin (metrics) address.
    #[arg(long)]
    admin_listen: Option<std::net::SocketAddr>,
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Evict objects idle this long, e.g. 500ms, 10s.
    #[arg(long, value_parser = humantime::parse_duration)]
    idle_timeout: Option<Duration>,
    #[arg(long)]
    max_live_objects: Option<usize>,
    /// Also allow outbound HTTP requests to HOST (`host[:port]`, `https://host`,
    /// `*.domain`, `*`); repeatable. Adds to the config's top-level
    /// `allowed-outbound-hosts` (a Cloudflare project's file has no such list).
    #[arg(long = "allow-outbound", value_name = "HOST", value_parser = parse_outbound)]
    allow_outbound: Vec<wdo::config::OutboundRule>,
    /// Run as a node of a cluster described in FILE (the keys of `[cluster]`: node-id,
    /// advertise, etcd, nats, lease, replicas, name), so that every node can serve the same
    /// `wdo.toml`. Replaces the config's own `[cluster]`.
    #[arg(long, value_name = "FILE")]
    cluster: Option<PathBuf>,
}

fn parse_outbound(text: &str) -> Result<wdo::config::OutboundRule, String> {
    wdo::config::OutboundRule::try_from(text.to_owned())
}

impl ServeArgs {
    fn load(&self) -> anyhow::Result<Config> {
        let mut config = Config::load(&self.config)?;
        if let Some(listen) = self.listen {
            config.listen = listen;
        }
        if let Some(admin) = self.admin_listen {
            config.admin_listen = admin;
        }
        if let Some(dir) = &self.data_dir {
            config.data_dir = dir.clone();
        } else {
            config.data_dir = config.resolve(&config.data_dir);
        }
        if let Some(timeout) = self.idle_timeout {
            config.idle_timeout = timeout;
        }
        if let Some(max) = self.max_live_objects {
            config.max_live_objects = max;
        }
        config
            .allowed_outbound_hosts
            .extend(self.allow_outbound.iter().cloned());
        if let Some(path) = &self.cluster {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read the cluster file {}", path.display()))?;
            let cluster: wdo::config::ClusterConfig = toml::from_str(&text)
                .with_context(|| format!("invalid cluster file {}", path.display()))?;
            config.cluster = Some(cluster);
        }
        config.admin_token_from_env();
        config.validate()?;
        config.check_admin_exposure()?;
        Ok(config)
    }
}

fn main() -> std::process::ExitCode {
    let command = match Cli::try_parse() {
        // Their own exit codes, for scripts (see `wdo::cli::admin`).
        Ok(Cli {
            command: Command::Admin(command),
        }) => return wdo::cli::admin::run(command),
        Ok(cli) => cli.command,
        Err(e) => return wdo::cli::usage::report(e),
    };
    match run(command) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            // One readable line (with its causes), never a backtrace.
            eprintln!("wdo: error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run(command: Command) -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    match command {
        Command::Serve(args) => {
            let config = args.load()?;
            if config.build_on_start {
                wdo::cli::build::build_all(&config, &[])?;
            }
            serve(config, false)
        }
        Command::Dev(args) => {
            let config = args.load()?;
            wdo::cli::build::build_all(&config, &[])?;
            serve(config, true)
        }
        Command::Build { config, namespaces } => {
            wdo::cli::build::build_all(&Config::load(&config)?, &namespaces)
        }
        Command::Config { defaults, config } => {
            if defaults {
                print!("{}", Config::defaults_toml());
            } else {
                print!("{}", toml::to_string_pretty(&Config::load(&config)?)?);
            }
            Ok(())
        }
        Command::Restore { from, to, at } => {
            let restored = wdo::backup::restore(&from, &to, at)?;
            println!(
                "restored {} to {} ({} objects) from the snapshot of {} and {} records of {} \
                 segments, in {:.2}s",
                to.display(),
                wdo::backup::format_ms(restored.restored_to_ms),
                restored.objects,
                wdo::backup::format_ms(restored.snapshot_ms),
                restored.records,
                restored.segments,
                restored.took.as_secs_f64()
            );
            Ok(())
        }
        Command::Admin(_) => unreachable!("run by main"),
    }
}

/// `reload`: reload a namespace whose component file changes (`wdo dev`).
fn serve(config: Config, reload: bool) -> anyhow::Result<()> {
    match wdo::cli::fd_limit::raise() {
        Ok((before, after)) if after > before => {
            tracing::info!("open-file limit raised from {before} to {after}")
        }
        Ok((_, limit)) => tracing::info!("open-file limit {limit}"),
        Err(e) => tracing::warn!("cannot read or raise the open-file limit: {e}"),
    }
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .with_context(|| format!("cannot listen on {}", config.listen))?;
        let admin = tokio::net::TcpListener::bind(config.admin_listen)
            .await
            .with_context(|| format!("cannot listen on {} (admin)", config.admin_listen))?;
        let public_addr = listener.local_addr()?;
        let admin_addr = admin.local_addr()?;
        let shutdown = CancellationToken::new();
        tokio::spawn(watch_signals(shutdown.clone()));
        let namespaces: Vec<String> = config.namespaces.iter().map(|ns| ns.name.clone()).collect();
        let host = tokio::task::spawn_blocking(move || wdo::host::Host::start(config)).await??;
        // Printed once the host is ready; tests and scripts read this line.
        println!(
            "wdo listening on http://{public_addr} (admin http://{admin_addr}) namespaces: {}",
            namespaces.join(", ")
        );
        let host = std::sync::Arc::new(host);
        tokio::spawn(wdo::cli::reload::reload_on_sighup(
            host.clone(),
            shutdown.clone(),
        ));
        if reload {
            tokio::spawn(wdo::cli::watch::watch_components(
                host.clone(),
                shutdown.clone(),
            ));
        }
        wdo::http::run(host, listener, admin, shutdown).await
    })
}

/// First SIGTERM or Ctrl-C: graceful shutdown. Second: exit at once.
async fn watch_signals(shutdown: CancellationToken) {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
    let mut int = signal(SignalKind::interrupt()).expect("SIGINT handler");
    tokio::select! { _ = term.recv() => {}, _ = int.recv() => {} }
    tracing::info!("shutdown requested; a second signal exits at once");
    shutdown.cancel();
    tokio::select! { _ = term.recv() => {}, _ = int.recv() => {} }
    tracing::warn!("second signal: exiting without draining");
    std::process::exit(130);
}
