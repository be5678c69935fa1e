//! `wdo build`: runs each namespace's declared build command.

use std::process::Command;

use anyhow::{bail, Context};

use crate::config::Config;

/// Builds every namespace that declares a build command (or only `only`, if given).
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
        let Some(command) = &ns.build else {
            eprintln!(
                "wdo build: namespace {}: no build command, using {}",
                ns.name,
                ns.component.display()
            );
            continue;
        };
        eprintln!("wdo build: namespace {}: {command}", ns.name);
        let status = Command::new("sh")
            .arg("-c")
            .arg(command)
            .current_dir(&config.base_dir)
            .status()
            .with_context(|| format!("cannot run the build command of namespace {:?}", ns.name))?;
        if !status.success() {
            bail!(
                "the build command of namespace {:?} failed ({status}): {command}",
                ns.name
            );
        }
        let component = config.resolve(&ns.component);
        if !component.exists() {
            bail!(
                "namespace {:?}: the build command succeeded but {} does not exist",
                ns.name,
                component.display()
            );
        }
    }
    for worker in config.workers.iter().filter(|_| only.is_empty()) {
        let name = &worker.name;
        if let Some(command) = &worker.build {
            eprintln!("wdo build: worker {name}: {command}");
            let status = Command::new("sh")
                .arg("-c")
                .arg(command)
                .current_dir(&config.base_dir)
                .status()
                .with_context(|| format!("cannot run worker {name:?}'s build command"))?;
            if !status.success() {
                bail!("worker {name:?}'s build command failed ({status}): {command}");
            }
        }
        let component = config.resolve(&worker.component);
        if !component.exists() {
            bail!(
                "worker {name:?}: the build command succeeded but {} does not exist",
                component.display()
            );
        }
    }
    Ok(())
}
