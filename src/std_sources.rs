//! The standard library's sources as rust-analyzer reads them: the
//! toolchain's `rust-src` without the parts no lesson reaches.
//!
//! evcxr runs rust-analyzer inside the kernel from the first moment (it
//! infers the type of every variable a cell defines), and the analyzer
//! indexes the whole standard library it finds through `rust-src`. More
//! than half of those sources are `std::arch`'s SIMD intrinsics (stdarch,
//! 16 MB) and `std::simd` (portable-simd): parsing them is most of the
//! analyzer's start and holds ~175 MiB of every kernel for nothing a
//! learner of this course uses. So the kernel hands the analyzer
//! (`RUST_SRC_PATH`) a copy of the toolchain's `library/` without them,
//! those two modules left empty (hard links where the file system allows,
//! so the copy costs no space); variables, completion and hover over the
//! rest of `std` work as before. A learner who wants the whole library sets
//! `RUST_SRC_PATH` to the toolchain's own and the kernel leaves it alone.
//!
//! The copy also leaves out `library/`'s `Cargo.toml` (and lock file):
//! without a workspace manifest the analyzer puts the standard library's
//! crates together itself instead of running `cargo metadata` on it, which
//! takes a moment at every workspace load and downloads std's own
//! dependencies (hashbrown, libc, gimli, …) into a new learner's
//! `~/.cargo`: nothing a cell's types need, and no network at a kernel's
//! start. The kernel shows the analyzer this copy only once a cell needs it
//! (`engine/evcxr/analyzer_std.rs`).
//!
//! The copy is named by the toolchain's sources and the copy's layout
//! (`std-sources-<id>`), so a toolchain update never pairs the analyzer with
//! older sources. `install`
//! builds it into the seed for every learner; otherwise the first kernel of
//! a user builds it in their cache. **Invariant:** a copy is used only once
//! its `complete` marker is written, which happens after the last file.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use sha2::{Digest, Sha256};

/// What rust-analyzer reads to find the standard library's sources.
pub const SOURCES_ENV: &str = "RUST_SRC_PATH";

/// The top-level entries of `library/` left out: the two SIMD modules
/// (stubbed, below), test crates no library includes, and the workspace
/// manifest.
const LEFT_OUT: [&str; 6] = [
    "stdarch",
    "portable-simd",
    "coretests",
    "alloctests",
    "Cargo.toml",
    "Cargo.lock",
];

/// Changes whenever what the copy leaves out changes, so that a copy made
/// by an older kernel is not taken for this one's.
const LAYOUT: &[u8] = b"layout 2: no workspace manifest";

/// Files `core` includes from the left-out directories, and what stands in
/// for them: modules with nothing in them, and empty documentation.
const STUBS: [(&str, &str); 4] = [
    (
        "stdarch/crates/core_arch/src/mod.rs",
        "//! Left out for rust-analyzer (multitask-kernel's std_sources.rs).\npub mod arch {}\n",
    ),
    ("stdarch/crates/core_arch/src/core_arch_docs.md", ""),
    (
        "portable-simd/crates/core_simd/src/mod.rs",
        "//! Left out for rust-analyzer (multitask-kernel's std_sources.rs).\npub mod simd {}\n",
    ),
    ("portable-simd/crates/core_simd/src/core_simd_docs.md", ""),
];

/// Written last in a finished copy.
const COMPLETE: &str = "complete";

/// The trimmed `library/` for the toolchain on the PATH: the first finished
/// copy among `read_only` (a seed's), else one in `cache` (built now if
/// missing). `None` when the toolchain has no `rust-src` or the copy cannot
/// be made; the analyzer then finds what it finds by itself.
pub fn trimmed_library(read_only: Option<&Path>, cache: &Path) -> Option<PathBuf> {
    let library = toolchain_library()?;
    let name = copy_name(&library)?;
    if let Some(finished) = read_only
        .map(|root| root.join(&name))
        .filter(|copy| copy.join(COMPLETE).exists())
    {
        return Some(finished.join("library"));
    }
    build(&library, &cache.join(&name)).ok()
}

/// Builds the trimmed copy of `library` at `copy` (unless it is finished
/// there already); returns its `library/`.
pub fn build(library: &Path, copy: &Path) -> std::io::Result<PathBuf> {
    if !copy.join(COMPLETE).exists() {
        let parent = copy.parent().ok_or(std::io::ErrorKind::InvalidInput)?;
        std::fs::create_dir_all(parent)?;
        let staging = parent.join(format!(".std-sources-{}", std::process::id()));
        let built = fill(library, &staging);
        // Another kernel may have finished the same copy meanwhile: theirs
        // is as good as this one.
        let placed = built.and_then(|()| std::fs::rename(&staging, copy));
        let _ = std::fs::remove_dir_all(&staging);
        if !copy.join(COMPLETE).exists() {
            placed?;
        }
    }
    Ok(copy.join("library"))
}

/// The toolchain's `library/` (from `rust-src`), if it is installed.
pub fn toolchain_library() -> Option<PathBuf> {
    let library = sysroot()?.join("lib/rustlib/src/rust/library");
    library.join("core/src/lib.rs").exists().then_some(library)
}

/// The sysroot of the `rustc` on the PATH, asked once per process (the
/// kernel's start needs it here and again for the runtime's `libstd`).
pub fn sysroot() -> Option<&'static Path> {
    toolchain().map(|(sysroot, _)| sysroot.as_path())
}

/// The host target of the `rustc` on the PATH (`x86_64-unknown-linux-gnu`),
/// where its `libstd` lives under the sysroot.
pub fn host_tuple() -> Option<&'static str> {
    toolchain().map(|(_, host)| host.as_str())
}

/// The sysroot and the host target, from one `rustc` run (through rustup's
/// proxy each run costs ~50 ms of the kernel's start).
fn toolchain() -> Option<&'static (PathBuf, String)> {
    static TOOLCHAIN: OnceLock<Option<(PathBuf, String)>> = OnceLock::new();
    TOOLCHAIN
        .get_or_init(|| {
            let output = std::process::Command::new("rustc")
                .args(["--print", "sysroot", "--print", "host-tuple"])
                .output()
                .ok()?;
            let printed = String::from_utf8(output.stdout).ok()?;
            let mut lines = printed.lines().map(str::trim);
            let sysroot = lines.next().filter(|line| !line.is_empty())?;
            let host = lines.next().filter(|line| !line.is_empty())?;
            Some((PathBuf::from(sysroot), host.to_owned()))
        })
        .as_ref()
}

/// `std-sources-<id>`, the id naming the copy's layout and the sources by
/// their place and the size and time of their crate roots (an update
/// rewrites them).
pub fn copy_name(library: &Path) -> Option<String> {
    let mut hasher = Sha256::new();
    hasher.update(LAYOUT);
    hasher.update(library.as_os_str().as_encoded_bytes());
    for root in ["core/src/lib.rs", "alloc/src/lib.rs", "std/src/lib.rs"] {
        let metadata = std::fs::metadata(library.join(root)).ok()?;
        let modified = metadata.modified().ok()?;
        hasher.update(metadata.len().to_le_bytes());
        hasher.update(format!("{modified:?}").as_bytes());
    }
    Some(format!(
        "std-sources-{}",
        &hex::encode(hasher.finalize())[..16]
    ))
}

/// Fills `staging` with `library/` minus what is left out, the stubs, and
/// the `complete` marker.
fn fill(library: &Path, staging: &Path) -> std::io::Result<()> {
    let target = staging.join("library");
    std::fs::create_dir_all(&target)?;
    for entry in std::fs::read_dir(library)? {
        let entry = entry?;
        if LEFT_OUT
            .iter()
            .any(|left_out| entry.file_name() == *left_out)
        {
            continue;
        }
        link_tree(&entry.path(), &target.join(entry.file_name()))?;
    }
    for (path, text) in STUBS {
        let stub = target.join(path);
        std::fs::create_dir_all(stub.parent().ok_or(std::io::ErrorKind::InvalidInput)?)?;
        std::fs::write(stub, text)?;
    }
    std::fs::write(staging.join(COMPLETE), "")
}

/// Recreates `from` at `to`: directories made, files hard-linked (copied
/// where a link cannot be made, such as across file systems).
fn link_tree(from: &Path, to: &Path) -> std::io::Result<()> {
    let kind = std::fs::symlink_metadata(from)?.file_type();
    if kind.is_dir() {
        std::fs::create_dir_all(to)?;
        for entry in std::fs::read_dir(from)? {
            let entry = entry?;
            link_tree(&entry.path(), &to.join(entry.file_name()))?;
        }
        Ok(())
    } else if kind.is_file() {
        std::fs::hard_link(from, to).or_else(|_| std::fs::copy(from, to).map(drop))
    } else {
        // rust-src holds no links; one would only point outside the copy.
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(path: &Path, text: &str) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    #[test]
    fn the_copy_leaves_out_simd_and_tests_and_keeps_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let library = dir.path().join("toolchain/library");
        write(&library.join("core/src/lib.rs"), "mod core_arch;");
        write(&library.join("std/src/lib.rs"), "pub mod io;");
        write(
            &library.join("stdarch/crates/core_arch/src/mod.rs"),
            "pub mod x86 {}",
        );
        write(&library.join("coretests/tests/lib.rs"), "#[test] fn t() {}");
        write(&library.join("Cargo.toml"), "[workspace]");

        let copy = dir.path().join("cache/std-sources-x");
        let trimmed = build(&library, &copy).unwrap();
        assert_eq!(trimmed, copy.join("library"));
        let read = |path: &str| std::fs::read_to_string(trimmed.join(path)).unwrap();
        assert_eq!(read("core/src/lib.rs"), "mod core_arch;");
        assert_eq!(read("std/src/lib.rs"), "pub mod io;");
        assert!(read("stdarch/crates/core_arch/src/mod.rs").contains("pub mod arch {}"));
        assert!(!trimmed.join("coretests").exists());
        assert!(!trimmed.join("Cargo.toml").exists());
        assert!(copy.join(COMPLETE).exists());
        assert!(
            !dir.path().join("cache").read_dir().unwrap().any(|entry| {
                entry
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .starts_with('.')
            }),
            "no staging directory is left behind"
        );

        // A finished copy is used as it is.
        std::fs::remove_file(trimmed.join("std/src/lib.rs")).unwrap();
        build(&library, &copy).unwrap();
        assert!(!trimmed.join("std/src/lib.rs").exists());
    }

    #[test]
    fn the_copys_name_changes_when_the_toolchain_is_updated() {
        let dir = tempfile::tempdir().unwrap();
        let library = dir.path().join("library");
        for root in ["core", "alloc", "std"] {
            write(&library.join(root).join("src/lib.rs"), "// 1.95");
        }
        let before = copy_name(&library).unwrap();
        assert_eq!(copy_name(&library).unwrap(), before);
        write(&library.join("std/src/lib.rs"), "// 1.96, longer");
        assert_ne!(copy_name(&library).unwrap(), before);
    }
}
