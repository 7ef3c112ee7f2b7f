//! The invariants ARCHITECTURE.md states, checked against the sources (as
//! rust-analyzer's tidy tests do): which module may use which crate or
//! module, and how long a file may grow.

use std::path::{Path, PathBuf};

mod prelude_layers;

/// Every `.rs` file at or under `dir`, as (path relative to the repository,
/// code lines: comments left out, so prose may name any crate).
fn sources(dir: &str) -> Vec<(String, Vec<String>)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    let mut pending = vec![root.join(dir)];
    while let Some(path) = pending.pop() {
        if path.is_dir() {
            for entry in std::fs::read_dir(&path).expect("a source directory") {
                let path: PathBuf = entry.expect("an entry").path();
                pending.push(path);
            }
        } else if path.extension().is_some_and(|extension| extension == "rs") {
            let text = std::fs::read_to_string(&path).expect("a source file");
            let code = text
                .lines()
                .filter(|line| !line.trim_start().starts_with("//"))
                .map(str::to_owned)
                .collect();
            let relative = path.strip_prefix(root).expect("inside the repository");
            files.push((relative.display().to_string(), code));
        }
    }
    files.sort();
    files
}

/// The files under `dir` whose code uses a path that starts with `prefix`
/// (`zmq::`, `evcxr::`), as a whole word: `crate::engine::evcxr::` is our
/// own module, not the crate.
fn users(dir: &str, prefix: &str) -> Vec<String> {
    sources(dir)
        .into_iter()
        .filter(|(_, code)| {
            code.iter().any(|line| {
                line.match_indices(prefix).any(|(at, _)| {
                    !line[..at].chars().next_back().is_some_and(|before| {
                        before.is_alphanumeric() || before == '_' || before == ':'
                    })
                })
            })
        })
        .map(|(path, _)| path)
        .collect()
}

#[test]
fn only_the_transport_touches_zeromq() {
    assert_eq!(users("src", "zmq::"), ["src/transport.rs"]);
}

#[test]
fn only_the_evcxr_engine_uses_evcxr() {
    let users = users("src", "evcxr::");
    assert!(!users.is_empty());
    for user in users {
        assert!(user.starts_with("src/engine/evcxr/"), "{user}");
    }
}

#[test]
fn dispatch_sees_the_ports_not_sockets_evcxr_or_the_pump() {
    for banned in [
        "zmq::",
        "evcxr::",
        "crate::transport",
        "crate::pump",
        "crate::engine::evcxr",
    ] {
        assert_eq!(
            users("src/dispatch", banned),
            Vec::<String>::new(),
            "{banned}"
        );
    }
}

#[test]
fn the_engine_sees_the_ports_not_the_transport_or_the_pump() {
    for banned in [
        "zmq::",
        "crate::transport",
        "crate::pump",
        "crate::dispatch",
    ] {
        assert_eq!(
            users("src/engine", banned),
            Vec::<String>::new(),
            "{banned}"
        );
    }
}

#[test]
fn the_ports_import_none_of_the_layers_they_join() {
    for banned in [
        "crate::transport",
        "crate::engine",
        "crate::dispatch",
        "crate::pump",
        "zmq::",
        "evcxr::",
    ] {
        assert_eq!(
            users("src/ports.rs", banned),
            Vec::<String>::new(),
            "{banned}"
        );
    }
}

#[test]
fn the_kernels_magics_are_read_in_one_place() {
    // The completer offers the magics by name; tests use them as data.
    for magic in ["\":doc", "\":timeline", "\":restart", "\":clear"] {
        let readers: Vec<String> = users("src", magic)
            .into_iter()
            .filter(|path| path != "src/engine/completion.rs" && !path.ends_with("/tests.rs"))
            .collect();
        assert_eq!(readers, ["src/cell.rs"], "{magic}");
    }
}

/// The longest a source file of the kernel or the prelude may be (a test
/// module in a file of its own may be longer): past this a file usually
/// mixes two jobs.
const MAX_FILE_LINES: usize = 450;

#[test]
fn no_kernel_or_prelude_source_file_is_over_450_lines() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let too_long: Vec<String> = sources("src")
        .into_iter()
        .chain(sources("prelude/src"))
        .map(|(path, _)| path)
        .filter(|path| !path.ends_with("/tests.rs"))
        .filter(|path| {
            let text = std::fs::read_to_string(root.join(path)).expect("a source file");
            text.lines().count() > MAX_FILE_LINES
        })
        .collect();
    assert_eq!(too_long, Vec::<String>::new());
}

#[test]
fn the_prelude_depends_on_nothing_of_the_kernel() {
    for banned in [
        "multitask_kernel::",
        "zmq::",
        "evcxr::",
        "jupyter_protocol::",
    ] {
        assert_eq!(
            users("prelude/src", banned),
            Vec::<String>::new(),
            "{banned}"
        );
    }
    let manifest =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("prelude/Cargo.toml"))
            .expect("the prelude's manifest");
    for crate_name in ["multitask-kernel", "evcxr", "zmq", "jupyter-protocol"] {
        assert!(
            !manifest.lines().any(
                |line| line.trim_start().starts_with(&format!("{crate_name} "))
                    || line.trim_start().starts_with(&format!("{crate_name}."))
            ),
            "the prelude depends on {crate_name}"
        );
    }
}
