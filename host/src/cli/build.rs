//! `wdo build`: runs each namespace's declared build command, and the worker's.

use std::path::Path;
use std::process::Command;

use anyhow::{bail, Context};

use crate::config::Config;

/// Builds every namespace that declares a build command, then the `[worker]` if it declares
/// one (or only the namespaces in `only`, if given).
pub fn build_all(config: &Config, only: &[String]) -> anyhow::Result<()> {
    for name in only {
        if !config.namespaces.iter().any(|ns| &ns.name == name) {
            bail!("no namespace {name:?} in the config");
        }
    }
    for ns in &config.namespaces {
        if !only.is_empty() && !only.contains(&ns.name) {
            continue;
        }
        let what = format!("namespace {:?}", ns.name);
        build_one(config, &what, ns.build.as_deref(), &ns.component)?;
    }
    if let (Some(worker), true) = (&config.worker, only.is_empty()) {
        build_one(
            config,
            "[worker]",
            worker.build.as_deref(),
            &worker.component,
        )?;
    }
    Ok(())
}

/// Runs `command` (if any) in the config's directory and checks that it made `component`.
fn build_one(
    config: &Config,
    what: &str,
    command: Option<&str>,
    component: &Path,
) -> anyhow::Result<()> {
    let Some(command) = command else {
        eprintln!(
            "wdo build: {what}: no build command, using {}",
            component.display()
        );
        return Ok(());
    };
    eprintln!("wdo build: {what}: {command}");
    let status = Command::new("sh")
        .arg("-c")
        .arg(command)
        .current_dir(&config.base_dir)
        .status()
        .with_context(|| format!("cannot run the build command of {what}"))?;
    if !status.success() {
        bail!("the build command of {what} failed ({status}): {command}");
    }
    if !config.resolve(component).exists() {
        bail!(
            "{what}: the build command succeeded but {} does not exist",
            config.resolve(component).display()
        );
    }
    if let Some(worker) = config.worker.as_ref().filter(|_| only.is_empty()) {
        if let Some(command) = &worker.build {
            eprintln!("wdo build: worker: {command}");
            let status = Command::new("sh")
                .arg("-c")
                .arg(command)
                .current_dir(&config.base_dir)
                .status()
                .context("cannot run the worker's build command")?;
            if !status.success() {
                bail!("the worker's build command failed ({status}): {command}");
            }
        }
        let component = config.resolve(&worker.component);
        if !component.exists() {
            bail!(
                "the worker's component {} does not exist",
                component.display()
            );
        }
    }
    Ok(())
}
