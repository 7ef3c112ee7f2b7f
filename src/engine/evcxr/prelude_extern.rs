//! The prelude linked into cells without a `:dep` line, until rust-analyzer
//! needs to see it.
//!
//! evcxr's rust-analyzer reads the cell crate's `Cargo.toml`. Once it names
//! the prelude, the analyzer loads the prelude's cargo workspace (a dozen
//! `cargo` and `rustc` runs) and, asked about the first cell, resolves the
//! names of the prelude and of its dependencies (expanding `libc`'s and
//! `serde`'s macros): about 2 s at every launch, before any cell runs, for
//! an answer evcxr needs only for a cell that defines a variable. So a work
//! slot whose prelude is already built (planted from the seed, or left by an
//! earlier kernel) starts without the `:dep`: this binary, as evcxr's rustc
//! wrapper, hands a cell's compile the prelude's library itself
//! (`--extern multitask=…`, the file cargo handed it before, which cargo
//! keeps fresh in the slot), and the session adds the `:dep` when it shows
//! the analyzer the real standard library (`analyzer_std.rs`), which it does
//! before any cell that defines a variable.
//!
//! The record is one line in the slot: the library's path relative to the
//! slot (the seed's slot is built elsewhere and copied), written whenever
//! cargo names the library in a cell's compile. **Invariant:** a record is
//! used only when the library exists and its dep-info names the sources of
//! the prelude this kernel loads (`prelude-<hash>/` and the seed's are
//! content-addressed, so that is the prelude's version); otherwise it is
//! removed and the session loads the prelude with `:dep`.

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt as _;
use std::path::{Path, PathBuf};

/// The prelude's crate name, as cells' `use` lines spell it.
const PRELUDE_CRATE: &str = "multitask";

/// The record's file name in the work slot.
const RECORD: &str = "prelude-extern";

/// Completes the arguments of a cell crate's compile: records the prelude's
/// library when cargo names it, or names the recorded one when cargo does
/// not. Returns whether it added an argument.
pub(super) fn complete(work_dir: &Path, arguments: &mut Vec<OsString>) -> bool {
    match named_library(arguments) {
        Some(library) => {
            let relative = library.strip_prefix(work_dir).unwrap_or(&library);
            let text = relative.as_os_str().as_encoded_bytes();
            let record = work_dir.join(RECORD);
            if std::fs::read(&record).ok().as_deref() != Some(text) {
                let _ = std::fs::write(record, text);
            }
            false
        }
        None => match recorded_library(work_dir) {
            Some(library) => {
                let mut argument = OsString::from(format!("{PRELUDE_CRATE}="));
                argument.push(library);
                arguments.extend([OsString::from("--extern"), argument]);
                true
            }
            None => false,
        },
    }
}

/// Whether the slot holds a usable record for the prelude in `prelude_dir`;
/// a record that is not is removed, so no compile uses it.
pub(super) fn prebuilt(work_dir: &Path, prelude_dir: &Path) -> bool {
    let usable =
        recorded_library(work_dir).is_some_and(|library| built_from(&library, prelude_dir));
    if !usable {
        let _ = std::fs::remove_file(work_dir.join(RECORD));
    }
    usable
}

/// The library cargo passed as `--extern multitask=PATH`.
fn named_library(arguments: &[OsString]) -> Option<PathBuf> {
    let prefix = format!("{PRELUDE_CRATE}=");
    arguments
        .windows(2)
        .filter(|pair| pair[0] == "--extern")
        .find_map(|pair| pair[1].to_str()?.strip_prefix(&prefix).map(PathBuf::from))
}

/// The recorded library, if the record names one that exists.
fn recorded_library(work_dir: &Path) -> Option<PathBuf> {
    let record = std::fs::read(work_dir.join(RECORD)).ok()?;
    let library = work_dir.join(OsString::from_vec(record));
    library.is_file().then_some(library)
}

/// Whether cargo's dep-info beside `library` (`libmultitask-H.rlib` has
/// `multitask-H.d`) lists the crate root of `prelude_dir`.
fn built_from(library: &Path, prelude_dir: &Path) -> bool {
    let Some(stem) = library
        .file_stem()
        .and_then(|stem| stem.to_str())
        .and_then(|stem| stem.strip_prefix("lib"))
    else {
        return false;
    };
    let dep_info = library.with_file_name(format!("{stem}.d"));
    let root = format!(" {}", prelude_dir.join("src/lib.rs").display());
    std::fs::read_to_string(dep_info).is_ok_and(|text| {
        text.lines()
            .next()
            .is_some_and(|line| line.contains(&format!("{root} ")) || line.ends_with(&root))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn arguments(words: &[&str]) -> Vec<OsString> {
        words.iter().map(OsString::from).collect()
    }

    /// A slot with a built prelude library and its dep-info.
    fn slot_with_library(prelude_dir: &Path) -> (tempfile::TempDir, PathBuf) {
        let slot = tempfile::tempdir().unwrap();
        let deps = slot.path().join("target/debug/deps");
        std::fs::create_dir_all(&deps).unwrap();
        let library = deps.join("libmultitask-0123.rlib");
        std::fs::write(&library, b"rlib").unwrap();
        std::fs::write(
            deps.join("multitask-0123.d"),
            format!(
                "{}: {}/src/lib.rs {}/src/sys.rs\n",
                deps.join("multitask-0123.d").display(),
                prelude_dir.display(),
                prelude_dir.display()
            ),
        )
        .unwrap();
        (slot, library)
    }

    #[test]
    fn cargo_named_library_is_recorded_then_handed_to_compiles_without_it() {
        let prelude = Path::new("/seed/prelude");
        let (slot, library) = slot_with_library(prelude);
        let mut from_cargo = arguments(&["--crate-name", "ctx", "--extern"]);
        from_cargo.push(format!("multitask={}", library.display()).into());
        assert!(
            !complete(slot.path(), &mut from_cargo),
            "cargo's own is kept"
        );
        let record = std::fs::read_to_string(slot.path().join(RECORD)).unwrap();
        assert_eq!(
            record, "target/debug/deps/libmultitask-0123.rlib",
            "relative to the slot"
        );

        assert!(prebuilt(slot.path(), prelude));
        let mut without = arguments(&["--crate-name", "ctx", "src/lib.rs"]);
        assert!(complete(slot.path(), &mut without));
        assert_eq!(
            without[3..],
            arguments(&["--extern", &format!("multitask={}", library.display())])
        );
    }

    #[test]
    fn record_of_another_prelude_or_a_gone_library_is_removed() {
        let (slot, library) = slot_with_library(Path::new("/seed/prelude"));
        let mut from_cargo = arguments(&["--extern"]);
        from_cargo.push(format!("multitask={}", library.display()).into());
        complete(slot.path(), &mut from_cargo);
        assert!(!prebuilt(slot.path(), Path::new("/seed/prelude-newer")));
        assert!(
            !slot.path().join(RECORD).exists(),
            "another version's record goes"
        );

        complete(slot.path(), &mut from_cargo);
        std::fs::remove_file(&library).unwrap();
        assert!(!prebuilt(slot.path(), Path::new("/seed/prelude")));
        let mut without = arguments(&["--crate-name", "ctx"]);
        assert!(!complete(slot.path(), &mut without), "nothing to hand");
        assert_eq!(without.len(), 2);
    }
}
