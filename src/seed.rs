//! The seed: the prelude built once by `install`, beside the kernelspec,
//! read-only, for every user of that install.
//!
//! Without it every user's first kernel downloads the prelude's dependencies
//! from crates.io into their own `~/.cargo` and compiles them in their own
//! cache (33 s for one learner with an empty home on this machine, ~50 s each
//! for three at once). The seed (`<kernelspec>/seed-<prelude version>-<layout>/`)
//! holds what that build reads and what it produces, at paths that are the
//! same for every user (`<layout>` numbers how install builds it):
//!
//! - `prelude/`: the prelude's sources;
//! - `vendor/`: its dependencies' sources (`cargo vendor`), so no user needs
//!   the network or a registry of their own;
//! - `.cargo/config.toml`: patches crates.io's copies of the crates the
//!   prelude uses with those in `vendor/`, so a learner's own `:dep` still
//!   comes from crates.io (cargo reads it from the parent of `work/`, as
//!   evcxr owns `work/.cargo/config.toml`);
//! - `work/`: an evcxr work directory with the prelude built (and checked)
//!   in it, without rustc's incremental caches;
//! - `std-sources-<id>/`: the standard library's sources as rust-analyzer
//!   reads them, for the toolchain of the install ([`crate::std_sources`]);
//! - `complete`: written last; a seed without it is ignored.
//!
//! A kernel run from such an install keeps its work slots apart from the
//! others (`work/seed-<id>/slot-N` in the user's cache, beside a copy of the
//! seed's cargo config) and copies `work/` into a slot it finds empty, file
//! times kept: cargo then finds the dependencies and the prelude fresh,
//! because every source path it checks is the seed's and every path inside
//! the target directory is relative. A kernel never writes into the seed.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use anyhow::Context as _;
use sha2::{Digest, Sha256};

use crate::cache;
use crate::std_sources;

/// Written in a slot once the seed's work directory is copied into it.
const PLANTED: &str = ".seed-planted";

/// Written last in a seed: its build finished.
const COMPLETE: &str = "complete";

/// The seed's cargo config, relative to the seed (and to a slots directory).
const CONFIG: &str = ".cargo/config.toml";

/// What a seed holds, for one prelude version: raised whenever `install`
/// builds it differently (2: the prelude also checked in `work/`, and no
/// incremental caches), so an install with an older seed builds the new one
/// and removes the old.
const LAYOUT: u32 = 2;

/// The seed's directory name in a kernelspec directory.
fn dir_name() -> String {
    format!("seed-{}-{LAYOUT}", cache::prelude_version())
}

/// The cargo config that makes the prelude's dependencies the seed's own
/// copies: a `[patch.crates-io]` entry for each crate the prelude uses on
/// this machine, by path into `vendor`. A patch, not a source replacement,
/// so a learner's own `:dep` still comes from crates.io.
fn patch_config(prelude: &Path, vendor: &Path) -> anyhow::Result<String> {
    let mut config = String::from(
        "# Written by multitask-kernel's install: the prelude's dependencies are\n\
         # the seed's vendored copies, the same paths for every user.\n\
         [patch.crates-io]\n",
    );
    for (name, version) in used_dependencies(prelude)? {
        let dir = [vendor.join(format!("{name}-{version}")), vendor.join(&name)]
            .into_iter()
            .find(|dir| vendored_version(dir).as_deref() == Some(version.as_str()))
            .with_context(|| format!("{name} {version} is not in {}", vendor.display()))?;
        let key = dir.file_name().context("a vendored crate has a name")?;
        writeln!(
            config,
            "{:?} = {{ path = {:?}, package = {name:?} }}",
            key.to_string_lossy(),
            dir.display().to_string()
        )?;
    }
    Ok(config)
}

/// The registry crates (name, version) the prelude builds with on this
/// machine (its platform, no dev-dependencies), from `cargo tree`.
fn used_dependencies(prelude: &Path) -> anyhow::Result<BTreeSet<(String, String)>> {
    let tree = cargo(
        "tree",
        &[
            "--quiet", "-e", "no-dev", "--prefix", "none", "--format", "{p}",
        ],
        prelude,
    )?;
    Ok(tree
        .lines()
        // "serde v1.0.229", "serde_derive v1.0.229 (proc-macro)", "… (*)";
        // the prelude itself names its path: "multitask v0.1.0 (/…)".
        .filter(|line| !line.contains(" (/"))
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            let name = words.next()?;
            let version = words.next()?.strip_prefix('v')?;
            Some((name.to_owned(), version.to_owned()))
        })
        .collect())
}

/// The version in a vendored crate's manifest.
fn vendored_version(dir: &Path) -> Option<String> {
    let manifest = std::fs::read_to_string(dir.join("Cargo.toml")).ok()?;
    let package = manifest.split("[package]").nth(1)?;
    package.lines().find_map(|line| {
        let value = line.trim().strip_prefix("version = ")?;
        Some(value.trim_matches('"').to_owned())
    })
}

/// A finished seed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seed {
    dir: PathBuf,
}

impl Seed {
    /// The seed for this kernel's prelude in `spec_dir`, if install built it.
    pub fn in_spec_dir(spec_dir: &Path) -> Option<Seed> {
        let dir = spec_dir.join(dir_name());
        dir.join(COMPLETE).exists().then_some(Seed { dir })
    }

    /// The seed beside the running binary: a kernel started from an
    /// installed kernelspec runs the binary copied into it.
    pub fn beside_this_binary() -> Option<Seed> {
        let binary = std::env::current_exe().ok()?;
        Seed::in_spec_dir(binary.parent()?)
    }

    /// The seed's directory, read-only for learners.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The prelude's sources, the path evcxr is given.
    pub fn prelude_dir(&self) -> PathBuf {
        self.dir.join("prelude")
    }

    /// Where this seed's work slots go under `work_root` (the user's
    /// `…/multitask-kernel/work`): named by the seed's path, so two installs
    /// never share slots. Writes the vendoring config there for cargo.
    pub fn slots_dir(&self, work_root: &Path) -> anyhow::Result<PathBuf> {
        let digest = Sha256::digest(self.dir.as_os_str().as_encoded_bytes());
        let slots = work_root.join(format!("seed-{}", hex::encode(&digest[..8])));
        std::fs::create_dir_all(&slots).with_context(|| format!("creating {}", slots.display()))?;
        let config = slots.join(CONFIG);
        let wanted = std::fs::read_to_string(self.dir.join(CONFIG))
            .context("reading the seed's cargo config")?;
        if std::fs::read_to_string(&config).ok().as_deref() != Some(wanted.as_str()) {
            write_atomically(&config, &wanted)?;
        }
        Ok(slots)
    }

    /// Copies the seed's built work directory into `slot` unless it was
    /// copied there before. A slot holding anything else is emptied first.
    pub fn plant(&self, slot: &Path) -> anyhow::Result<()> {
        if slot.join(PLANTED).exists() {
            return Ok(());
        }
        cache::WorkSlot::empty(slot);
        copy_tree(&self.dir.join("work"), slot)
            .with_context(|| format!("copying the prelude's build into {}", slot.display()))?;
        std::fs::write(slot.join(PLANTED), self.dir.display().to_string())?;
        Ok(())
    }
}

/// Builds the seed for this kernel's prelude in `spec_dir`, unless it is
/// there already, and removes the seeds of other versions. `build_prelude`
/// compiles the prelude in a work directory (the kernel's warm-up).
pub fn build(
    spec_dir: &Path,
    build_prelude: impl FnOnce(&Path, &Path) -> anyhow::Result<()>,
) -> anyhow::Result<Seed> {
    let name = dir_name();
    let dir = spec_dir.join(&name);
    if !dir.join(COMPLETE).exists() {
        // Built in place: the paths recorded in the build are the final ones.
        // What a failed install left is started over.
        if dir.exists() {
            std::fs::remove_dir_all(&dir)
                .with_context(|| format!("removing the unfinished {}", dir.display()))?;
        }
        let prelude = dir.join("prelude");
        cache::write_prelude_files(&prelude)?;
        let vendored = dir.join("vendor");
        vendor(&prelude, &vendored)?;
        write_atomically(&dir.join(CONFIG), &patch_config(&prelude, &vendored)?)?;
        build_work_dir(&dir, build_prelude)?;
        // rustc and cargo make some files for their owner only (incremental
        // compilation's lock files): every user copies the whole build.
        readable_by_all(&dir)?;
        std::fs::write(dir.join(COMPLETE), "")?;
    }
    // The standard library's sources as learners' analyzers read them, made
    // again when the toolchain or the copy's layout changed since the seed
    // was built; without rust-src there are none to trim, and nothing is lost.
    if let Some(library) = std_sources::trimmed_library(None, &dir) {
        readable_by_all(&library)?;
    }
    remove_other_seeds(spec_dir, &name);
    Ok(Seed { dir })
}

/// Builds the prelude of the seed `dir` in a work directory of its own and
/// copies it to `dir/work`. Not built in place: a kernelspec may lie inside
/// a cargo workspace (a checkout's `.venv`), and cargo would take a work
/// directory there for a member of it and refuse to build. Every path the
/// build records is the seed's sources' or relative, so the copy is as good.
fn build_work_dir(
    dir: &Path,
    build_prelude: impl FnOnce(&Path, &Path) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let staging =
        std::env::temp_dir().join(format!("multitask-kernel-seed-{}", std::process::id()));
    if staging.exists() {
        std::fs::remove_dir_all(&staging)?;
    }
    let staging_work = staging.join("work");
    std::fs::create_dir_all(&staging_work)?;
    // Beside the work directory, where cargo looks for it (see `slots_dir`).
    std::fs::create_dir_all(staging.join(".cargo"))?;
    std::fs::copy(dir.join(CONFIG), staging.join(CONFIG))?;
    let built = build_prelude(&dir.join("prelude"), &staging_work).and_then(|()| {
        // The warm-up's compiled cells are keyed by the staging directory's
        // path, which no slot shares: of no use to learners.
        let cells = staging_work.join(cache::CELL_CACHE_DIR);
        if cells.exists() {
            std::fs::remove_dir_all(cells)?;
        }
        remove_incremental_caches(&staging_work.join("target"))?;
        let work = dir.join("work");
        std::fs::create_dir_all(&work)?;
        copy_tree(&staging_work, &work)
    });
    let _ = std::fs::remove_dir_all(&staging);
    built
}

/// Removes rustc's incremental-compilation caches under `target`
/// (`<profile>/incremental` and `<target triple>/<profile>/incremental`):
/// five sixths of the build (~320 of 385 MiB), which every learner's first
/// kernel would copy, and which nothing reads while the build is fresh
/// (cargo judges freshness by its fingerprints; a crate rebuilt later starts
/// a new cache). The vendored dependencies are path crates to cargo, so they
/// are compiled incrementally.
fn remove_incremental_caches(target: &Path) -> anyhow::Result<()> {
    let subdirectories = |dir: &Path| -> Vec<PathBuf> {
        std::fs::read_dir(dir)
            .into_iter()
            .flatten()
            .flatten()
            .map(|entry| entry.path())
            .filter(|path| path.is_dir())
            .collect()
    };
    for level_one in subdirectories(target) {
        for dir in std::iter::once(level_one.clone()).chain(subdirectories(&level_one)) {
            let caches = dir.join("incremental");
            if caches.is_dir() {
                std::fs::remove_dir_all(&caches)
                    .with_context(|| format!("removing {}", caches.display()))?;
            }
        }
    }
    Ok(())
}

/// Copies the sources of `prelude`'s dependencies into `vendor`.
fn vendor(prelude: &Path, vendor: &Path) -> anyhow::Result<()> {
    let vendor = vendor
        .to_str()
        .context("the vendor directory's path is not UTF-8")?;
    cargo("vendor", &["--quiet", vendor], prelude).map(drop)
}

/// Runs `cargo <command> <arguments> --manifest-path <prelude>/Cargo.toml`
/// and returns what it printed, or its error output as the error.
fn cargo(command: &str, arguments: &[&str], prelude: &Path) -> anyhow::Result<String> {
    let output = std::process::Command::new("cargo")
        .arg(command)
        .args(arguments)
        .arg("--manifest-path")
        .arg(prelude.join("Cargo.toml"))
        .output()
        .with_context(|| format!("running `cargo {command}` (is cargo on the PATH?)"))?;
    anyhow::ensure!(
        output.status.success(),
        "`cargo {command}` failed: {}",
        String::from_utf8_lossy(&output.stderr).trim()
    );
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// Removes `seed-*` directories in `spec_dir` other than `keep`: an older
/// kernel's seed, replaced by this install.
fn remove_other_seeds(spec_dir: &Path, keep: &str) {
    let Ok(entries) = std::fs::read_dir(spec_dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with("seed-") && name != keep {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// Writes `contents` to `path` through a file beside it and a rename, so a
/// reader sees the old or the new file, never half of one.
fn write_atomically(path: &Path, contents: &str) -> anyhow::Result<()> {
    let parent = path.parent().context("a file has a parent")?;
    std::fs::create_dir_all(parent)?;
    let staging = parent.join(format!(".staging-{}", std::process::id()));
    std::fs::write(&staging, contents)?;
    std::fs::rename(&staging, path).with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

/// Adds read permission for everyone to every file under `dir`, and search
/// permission to every directory; no write permission is added.
fn readable_by_all(dir: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let entry = entry?;
        let kind = entry.file_type()?;
        if kind.is_symlink() {
            continue;
        }
        let wanted = if kind.is_dir() { 0o555 } else { 0o444 };
        let mut permissions = entry.metadata()?.permissions();
        permissions.set_mode(permissions.mode() | wanted);
        std::fs::set_permissions(entry.path(), permissions)?;
        if kind.is_dir() {
            readable_by_all(&entry.path())?;
        }
    }
    Ok(())
}

/// Copies the tree `from` into the existing directory `to`, keeping each
/// file's modification time (cargo judges freshness by it) and copying
/// symbolic links as links.
fn copy_tree(from: &Path, to: &Path) -> anyhow::Result<()> {
    for entry in std::fs::read_dir(from).with_context(|| format!("reading {}", from.display()))? {
        let entry = entry?;
        let source = entry.path();
        let target = to.join(entry.file_name());
        let kind = entry.file_type()?;
        if kind.is_dir() {
            std::fs::create_dir_all(&target)?;
            copy_tree(&source, &target)?;
        } else if kind.is_symlink() {
            std::os::unix::fs::symlink(std::fs::read_link(&source)?, &target)?;
        } else {
            std::fs::copy(&source, &target)
                .with_context(|| format!("copying {}", source.display()))?;
            let modified: SystemTime = entry.metadata()?.modified()?;
            // The owner may set a file's times through a descriptor opened
            // only for reading (the copy of a read-only file is read-only).
            std::fs::File::open(&target)?.set_modified(modified)?;
        }
    }
    Ok(())
}

mod cleanup;
pub use cleanup::remove_slots_of_gone_seeds;

#[cfg(test)]
mod tests;
