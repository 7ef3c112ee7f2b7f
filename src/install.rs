//! `multitask-kernel install` and `uninstall`: the kernelspec, like `ipykernel install`.
//!
//! The spec directory (`…/share/jupyter/kernels/multitask/`) gets
//! `kernel.json`, the logos, and a copy of this binary, which `kernel.json`
//! runs by its absolute path: the installed kernel needs neither the source
//! checkout nor the build directory (the prelude's sources are embedded).

use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _};
use serde_json::json;

/// The kernelspec's name: what notebooks record and `jupyter kernelspec list` shows.
pub const KERNEL_NAME: &str = "multitask";

/// The name users see in JupyterLab's launcher and kernel picker.
pub const DISPLAY_NAME: &str = "Rust (multitask)";

const LOGO_32: &[u8] = include_bytes!("../kernelspec/logo-32x32.png");
const LOGO_64: &[u8] = include_bytes!("../kernelspec/logo-64x64.png");
const LOGO_SVG: &[u8] = include_bytes!("../kernelspec/logo-svg.svg");

/// Where the kernelspec goes, as `ipykernel install` chooses it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// The user's Jupyter data directory (`--user`, the default).
    User,
    /// The active Python environment (`--sys-prefix`).
    SysPrefix,
    /// `DIR/share/jupyter/kernels` (`--prefix DIR`).
    Prefix(PathBuf),
}

/// What `install` was asked to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstallOptions {
    /// Where the kernelspec goes.
    pub location: Location,
    /// Whether to compile the prelude now, so the first cell is fast.
    pub warm_up: bool,
}

const USAGE: &str =
    "usage: multitask-kernel install [--user | --sys-prefix | --prefix DIR] [--no-warm-up]
       multitask-kernel uninstall [--user | --sys-prefix | --prefix DIR]";

/// Parses the arguments after `install` / `uninstall`.
pub fn parse_options(arguments: &[String]) -> anyhow::Result<InstallOptions> {
    let mut options = InstallOptions {
        location: Location::User,
        warm_up: true,
    };
    let mut arguments = arguments.iter();
    while let Some(argument) = arguments.next() {
        match argument.as_str() {
            "--user" => options.location = Location::User,
            "--sys-prefix" => options.location = Location::SysPrefix,
            "--prefix" => {
                let Some(dir) = arguments.next() else {
                    bail!("--prefix needs a directory\n{USAGE}");
                };
                options.location = Location::Prefix(PathBuf::from(dir));
            }
            "--no-warm-up" => options.warm_up = false,
            other => bail!("unknown option {other:?}\n{USAGE}"),
        }
    }
    Ok(options)
}

/// The `kernels/` directory for a location.
pub fn kernels_dir(location: &Location) -> anyhow::Result<PathBuf> {
    let data_dir = match location {
        Location::User => match std::env::var_os("JUPYTER_DATA_DIR") {
            Some(dir) => PathBuf::from(dir),
            None => {
                let home = std::env::var_os("HOME").context("HOME is not set")?;
                PathBuf::from(home).join(".local/share/jupyter")
            }
        },
        Location::SysPrefix => python_prefix()?.join("share/jupyter"),
        // kernel.json names the binary by absolute path, wherever Jupyter runs.
        Location::Prefix(prefix) => std::path::absolute(prefix)?.join("share/jupyter"),
    };
    Ok(data_dir.join("kernels"))
}

/// The prefix of the active Python: the virtualenv if one is active, else
/// what `python3` reports.
fn python_prefix() -> anyhow::Result<PathBuf> {
    if let Some(env) = std::env::var_os("VIRTUAL_ENV") {
        return Ok(PathBuf::from(env));
    }
    let output = std::process::Command::new("python3")
        .args(["-c", "import sys; print(sys.prefix)"])
        .output()
        .context("--sys-prefix needs python3 on the PATH")?;
    Ok(PathBuf::from(
        String::from_utf8_lossy(&output.stdout).trim(),
    ))
}

/// Writes the kernelspec and returns its directory.
pub fn install(options: &InstallOptions) -> anyhow::Result<PathBuf> {
    let spec_dir = kernels_dir(&options.location)?.join(KERNEL_NAME);
    std::fs::create_dir_all(&spec_dir)
        .with_context(|| format!("creating {}", spec_dir.display()))?;

    let installed_binary = spec_dir.join("multitask-kernel");
    let this_binary = std::env::current_exe()?;
    if !same_file(&this_binary, &installed_binary) {
        // Copy beside, then rename: a kernel running from the old copy keeps it.
        let staging = spec_dir.join(".multitask-kernel.new");
        std::fs::copy(&this_binary, &staging)
            .with_context(|| format!("copying the kernel to {}", staging.display()))?;
        std::fs::rename(&staging, &installed_binary)?;
    }
    std::fs::write(spec_dir.join("kernel.json"), kernel_json(&installed_binary))?;
    std::fs::write(spec_dir.join("logo-32x32.png"), LOGO_32)?;
    std::fs::write(spec_dir.join("logo-64x64.png"), LOGO_64)?;
    std::fs::write(spec_dir.join("logo-svg.svg"), LOGO_SVG)?;
    Ok(spec_dir)
}

/// Removes the kernelspec; returns the directory removed, if there was one.
pub fn uninstall(location: &Location) -> anyhow::Result<Option<PathBuf>> {
    let spec_dir = kernels_dir(location)?.join(KERNEL_NAME);
    if !spec_dir.exists() {
        return Ok(None);
    }
    std::fs::remove_dir_all(&spec_dir)
        .with_context(|| format!("removing {}", spec_dir.display()))?;
    Ok(Some(spec_dir))
}

/// The `kernel.json` that runs `binary`.
fn kernel_json(binary: &Path) -> String {
    let spec = json!({
        "argv": [binary.display().to_string(), "{connection_file}"],
        "display_name": DISPLAY_NAME,
        "language": "rust",
        "interrupt_mode": "message",
        "metadata": {
            "debugger": false,
        },
    });
    serde_json::to_string_pretty(&spec).expect("a JSON literal serialises")
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(arguments: &[&str]) -> Vec<String> {
        arguments
            .iter()
            .map(|argument| argument.to_string())
            .collect()
    }

    #[test]
    fn options_are_parsed_like_ipykernel() {
        assert_eq!(parse_options(&[]).unwrap().location, Location::User);
        assert_eq!(
            parse_options(&strings(&["--sys-prefix"])).unwrap().location,
            Location::SysPrefix
        );
        let prefixed = parse_options(&strings(&["--prefix", "/opt/x", "--no-warm-up"])).unwrap();
        assert_eq!(prefixed.location, Location::Prefix(PathBuf::from("/opt/x")));
        assert!(!prefixed.warm_up);
        assert!(parse_options(&strings(&["--prefix"])).is_err());
        assert!(parse_options(&strings(&["--bogus"])).is_err());
    }

    #[test]
    fn prefix_location_follows_the_jupyter_layout() {
        let dir = kernels_dir(&Location::Prefix(PathBuf::from("/opt/x"))).unwrap();
        assert_eq!(dir, PathBuf::from("/opt/x/share/jupyter/kernels"));
    }

    #[test]
    fn a_relative_prefix_becomes_absolute() {
        let dir = kernels_dir(&Location::Prefix(PathBuf::from(".venv"))).unwrap();
        assert!(dir.is_absolute(), "{}", dir.display());
        assert!(dir.ends_with(".venv/share/jupyter/kernels"));
    }

    #[test]
    fn kernel_json_runs_the_binary_with_the_connection_file() {
        let spec: serde_json::Value =
            serde_json::from_str(&kernel_json(Path::new("/k/multitask-kernel"))).unwrap();
        assert_eq!(
            spec["argv"],
            json!(["/k/multitask-kernel", "{connection_file}"])
        );
        assert_eq!(spec["language"], "rust");
        assert_eq!(spec["display_name"], DISPLAY_NAME);
    }
}
