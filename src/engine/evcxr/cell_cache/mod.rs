//! The cache of compiled cells, consulted by this binary in its role as
//! evcxr's rustc wrapper.
//!
//! evcxr caches the dependencies it builds but never a cell: cells are
//! compiled incrementally, and its cache skips those. Yet a learner's most
//! common repeat is Kernel → Restart & Run All, and a teacher's is running
//! the handouts again: the same cells, compiled again from nothing. Here a
//! cell's compile (`--crate-name ctx`, linked) is looked up by a SHA-256 of
//! everything the build reads: rustc's arguments as cargo passed them, the
//! cell crate's source (which holds every item of the cells before it, as
//! evcxr re-emits them), the contents of every `--extern` crate (the prelude,
//! `:dep` crates), the toolchain's `rustc`, and cargo's `CARGO_*`
//! environment. A hit restores the library and its dep-info, replays what
//! rustc printed, and skips rustc.
//!
//! The cache lives in the work slot (`<slot>/cell-cache/`, see
//! [`crate::cache`]), not beside the user's other caches: the key holds
//! rustc's arguments, and they name the slot's own directories (`--out-dir`,
//! `-L dependency=`), so an entry could serve no other slot anyway. Within a
//! slot one kernel builds at a time (the slot's lock), so entries need no
//! locking of their own; each is written under a temporary
//! name and renamed into place, so a killed build never leaves half an
//! entry.
//!
//! **Invariant:** an entry is stored only when rustc says the build read
//! nothing but the cell's source (its dep-info lists no other file and no
//! environment variable read with `env!`), so a key that names the source
//! and the crates names the whole input; a failed build is never stored.
//! A cell with types the session wrote in (`known_types.rs`) is looked up
//! under its own key, then under the key of the cell as the learner wrote
//! it, whose build serves it as well (the same code, and the panics'
//! columns are the learner's); its own build is stored under its own key
//! only, so it never serves the cell as written (its panics' columns are
//! the annotated cell's). Any trouble reading the cache is a miss, never an
//! error of the cell.
//!
//! Every cell compile this wrapper sees, cached or not, is linked with
//! [`CELL_LINK_ARGUMENTS`]: the runtime keeps each cell's library mapped for
//! the session, and every `fork` (an `mp::Process`) copies each mapping and
//! every child's exit unmaps it, so each mapping a library adds makes every
//! later fork slower.

use std::borrow::Cow;
use std::ffi::{OsStr, OsString};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::SystemTime;

use sha2::{Digest, Sha256};

use super::known_types::as_written;
use source::canonical_source;
use store::{CellCache, Replay};

mod source;
mod store;
#[cfg(test)]
mod tests;

/// The crate name evcxr gives every cell.
const CELL_CRATE: &str = "ctx";

/// Where evcxr's wrapper tells the kernel which library to load (evcxr's
/// `module::EXECUTION_SO_PATH_ENV`).
const EXECUTION_SO_PATH_ENV: &str = "EVCXR_EXECUTION_SO_PATH";

/// Set by evcxr when dependencies must be rebuilt as dylibs; its wrapper
/// then rewrites rustc's arguments, which this cache does not model.
const FORCE_DYLIB_ENV: &str = "EVCXR_FORCE_DYLIB";

/// The cache's size in MiB per work slot; `0` turns it off.
const SIZE_ENV: &str = "MULTITASK_CELL_CACHE_MIB";

/// About 250 cells of the course (a cell's library is ~0.9 MB).
const DEFAULT_SIZE_MIB: u64 = 256;

/// Linker options for every cell's library: one read-and-execute and one
/// read-write segment, so two mappings in the runtime instead of the four
/// of lld's defaults (headers and constants, code, constants written by the
/// relocations, data). Relocations done, nothing in a cell's library needs
/// the separate read-only mappings.
const CELL_LINK_ARGUMENTS: [&str; 2] =
    ["-Clink-arg=-Wl,--no-rosegment", "-Clink-arg=-Wl,-z,norelro"];

/// Bumped when what a key covers changes, so old entries are never read.
const KEY_VERSION: &str = "multitask cell cache 2";

/// Serves a cell's compile from the cache or compiles (and, with the cache
/// on, stores) it, then exits; returns at once when this wrapper call is
/// not a cell's compile, or evcxr rewrites rustc's arguments itself. A
/// compile or check of the cell crate first gets the prelude's library
/// when cargo did not name it (`prelude_extern.rs`).
pub fn serve_cell_compile() {
    let mut arguments: Vec<OsString> = std::env::args_os().skip(1).collect();
    if std::env::var_os(FORCE_DYLIB_ENV).is_some() || !compiles_cell_crate(&arguments) {
        return;
    }
    let Ok(work_dir) = std::env::current_dir() else {
        return;
    };
    let prelude_added = super::prelude_extern::complete(&work_dir, &mut arguments);
    let Some(compile) = CellCompile::recognise(&arguments) else {
        // A check of the cell crate (no library linked): evcxr's wrapper
        // would run rustc without the prelude this one added.
        if let (true, Some((rustc, rustc_arguments))) = (prelude_added, arguments.split_first()) {
            let checked = run_rustc(Path::new(rustc), rustc_arguments);
            let status = checked.status.code().unwrap_or(1);
            pass_on(&Replay {
                stdout: checked.stdout,
                stderr: checked.stderr,
            });
            std::process::exit(status);
        }
        return;
    };
    let cache = size_limit()
        .map(|limit| CellCache::new(work_dir.join(crate::cache::CELL_CACHE_DIR), limit));
    // Read once: the key and the decision to store both depend on it.
    let source = std::fs::read_to_string(work_dir.join(&compile.source)).ok();
    let keys = cache
        .as_ref()
        .and(source.as_deref())
        .and_then(|source| compile.keys(source, &std::env::vars_os().collect::<Vec<_>>()))
        .unwrap_or_default();
    if let Some(cache) = &cache {
        if let Some(replay) = keys.iter().find_map(|key| cache.restore(key)) {
            finish(&compile, &replay, 0);
        }
    }
    let built = run_rustc(&compile.rustc, &compile.rustc_arguments);
    let replay = Replay {
        stdout: built.stdout,
        stderr: built.stderr,
    };
    if let (true, Some(cache), Some(own_key)) = (built.status.success(), &cache, keys.first()) {
        cache.store(own_key, &replay, &compile.source);
    }
    finish(&compile, &replay, built.status.code().unwrap_or(1));
}

/// Whether `arguments` (rustc's path first) compile the cell crate.
fn compiles_cell_crate(arguments: &[OsString]) -> bool {
    arguments
        .windows(2)
        .any(|pair| pair[0] == "--crate-name" && pair[1] == CELL_CRATE)
}

/// rustc's output; when rustc cannot be run, says so and exits.
fn run_rustc(rustc: &Path, arguments: &[OsString]) -> std::process::Output {
    Command::new(rustc)
        .args(arguments)
        .output()
        .unwrap_or_else(|error| {
            eprintln!(
                "multitask-kernel: could not run {}: {error}",
                rustc.display()
            );
            std::process::exit(1);
        })
}

/// Prints what rustc printed, tells evcxr where the library is (as its own
/// wrapper does), and exits with rustc's status.
fn finish(compile: &CellCompile, replay: &Replay, status: i32) -> ! {
    pass_on(replay);
    if status == 0 {
        if let Some(report) = std::env::var_os(EXECUTION_SO_PATH_ENV) {
            let library = compile.out_dir.join(format!("lib{CELL_CRATE}.so"));
            let _ = std::fs::write(report, library.as_os_str().as_encoded_bytes());
        }
    }
    std::process::exit(status);
}

/// Prints what rustc printed, for cargo to read.
fn pass_on(replay: &Replay) {
    let _ = std::io::stdout().write_all(&replay.stdout);
    let _ = std::io::stderr().write_all(&replay.stderr);
}

/// The cache's size limit in bytes; `None` when the setting turns it off.
fn size_limit() -> Option<u64> {
    let mib = match std::env::var(SIZE_ENV) {
        Ok(value) => value.trim().parse().ok()?,
        Err(_) => DEFAULT_SIZE_MIB,
    };
    (mib > 0).then_some(mib * 1024 * 1024)
}

/// A wrapper call that compiles and links a cell.
#[derive(Debug)]
struct CellCompile {
    rustc: PathBuf,
    rustc_arguments: Vec<OsString>,
    /// The cell crate's source file, as rustc was given it.
    source: PathBuf,
    out_dir: PathBuf,
    externs: Vec<PathBuf>,
}

impl CellCompile {
    /// `arguments` after the wrapper's own name (rustc's path first): a
    /// cell's compile when it builds crate `ctx` into a linked library; it
    /// runs rustc with [`CELL_LINK_ARGUMENTS`] added.
    fn recognise(arguments: &[OsString]) -> Option<CellCompile> {
        let (rustc, rustc_arguments) = arguments.split_first()?;
        let mut crate_name = None;
        let mut out_dir = None;
        let mut emits_link = false;
        let mut source = None;
        let mut externs = Vec::new();
        let mut words = rustc_arguments.iter().map(|word| word.to_str());
        while let Some(word) = words.next() {
            let word = word?;
            match word {
                "--crate-name" => crate_name = words.next().flatten(),
                "--out-dir" => out_dir = words.next().flatten().map(PathBuf::from),
                "--extern" => {
                    let (_, path) = words.next().flatten()?.split_once('=')?;
                    externs.push(PathBuf::from(path));
                }
                _ if word.starts_with("--emit=") => {
                    emits_link = word["--emit=".len()..]
                        .split(',')
                        .any(|kind| kind == "link");
                }
                _ if word.ends_with(".rs") && !word.starts_with('-') => {
                    source = Some(PathBuf::from(word));
                }
                _ => {}
            }
        }
        (crate_name == Some(CELL_CRATE) && emits_link).then_some(())?;
        Some(CellCompile {
            rustc: PathBuf::from(rustc),
            rustc_arguments: rustc_arguments
                .iter()
                .cloned()
                .chain(CELL_LINK_ARGUMENTS.map(OsString::from))
                .collect(),
            source: source?,
            out_dir: out_dir?,
            externs,
        })
    }

    /// The keys this compile, whose cell crate's source is `source`, is
    /// looked up under: its own, then (if the session wrote types into it)
    /// the cell as written's; `None` if another input cannot be read (then
    /// it is neither looked up nor stored).
    fn keys(&self, source: &str, environment: &[(OsString, OsString)]) -> Option<Vec<String>> {
        let mut hasher = Sha256::new();
        let mut field = |label: &str, bytes: &[u8]| labelled_field(&mut hasher, label, bytes);
        field("version", KEY_VERSION.as_bytes());
        field("rustc", self.rustc.as_os_str().as_encoded_bytes());
        field("rustc build", &file_identity(&self.rustc)?);
        for argument in &self.rustc_arguments {
            field("argument", argument.as_encoded_bytes());
        }
        for path in &self.externs {
            field("extern", &std::fs::read(path).ok()?);
        }
        let mut cargo_environment: Vec<_> = environment
            .iter()
            .filter(|(name, _)| affects_build(name))
            .collect();
        cargo_environment.sort();
        for (name, value) in cargo_environment {
            field("env name", name.as_encoded_bytes());
            field("env value", value.as_encoded_bytes());
        }
        let mut sources = vec![Cow::Borrowed(source)];
        if let written @ Cow::Owned(_) = as_written(source) {
            sources.push(written);
        }
        Some(
            sources
                .iter()
                .map(|source| {
                    let mut hasher = hasher.clone();
                    for part in canonical_source(source) {
                        labelled_field(&mut hasher, "source", part.as_bytes());
                    }
                    hex::encode(hasher.finalize())
                })
                .collect(),
        )
    }
}

/// Hashes `bytes` after `label` so that no two sequences of fields hash
/// alike.
fn labelled_field(hasher: &mut Sha256, label: &str, bytes: &[u8]) {
    hasher.update(label.as_bytes());
    hasher.update((bytes.len() as u64).to_le_bytes());
    hasher.update(bytes);
}

/// Whether an environment variable can change what rustc builds: cargo's
/// `CARGO_*` (read by `env!`) except the jobserver's descriptors, which
/// differ on every build and change nothing.
fn affects_build(name: &OsStr) -> bool {
    let name = name.to_string_lossy();
    name.starts_with("CARGO_") && name != "CARGO_MAKEFLAGS"
}

/// Size and modification time of a file: a toolchain update replaces
/// `rustc`, and with it the standard library cells link against.
fn file_identity(path: &Path) -> Option<Vec<u8>> {
    let metadata = std::fs::metadata(path).ok()?;
    let modified = metadata
        .modified()
        .ok()?
        .duration_since(SystemTime::UNIX_EPOCH)
        .ok()?;
    let mut identity = metadata.len().to_le_bytes().to_vec();
    identity.extend(modified.as_nanos().to_le_bytes());
    Some(identity)
}
