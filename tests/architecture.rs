//! The invariants ARCHITECTURE.md states, checked against the sources (as
//! rust-analyzer's tidy tests do): which module may use which crate.

use std::path::{Path, PathBuf};

/// Every `.rs` file under `dir`, as (path relative to the repository, code
/// lines: comments left out, so prose may name any crate).
fn sources(dir: &str) -> Vec<(String, Vec<String>)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    let mut pending = vec![root.join(dir)];
    while let Some(directory) = pending.pop() {
        for entry in std::fs::read_dir(&directory).expect("a source directory") {
            let path: PathBuf = entry.expect("an entry").path();
            if path.is_dir() {
                pending.push(path);
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
    }
    files.sort();
    files
}

/// The files under `dir` whose code uses a path that starts with `prefix`
/// (`zmq::`, `evcxr::`), as a whole word.
fn users(dir: &str, prefix: &str) -> Vec<String> {
    sources(dir)
        .into_iter()
        .filter(|(_, code)| {
            code.iter().any(|line| {
                line.match_indices(prefix).any(|(at, _)| {
                    !line[..at]
                        .chars()
                        .next_back()
                        .is_some_and(|before| before.is_alphanumeric() || before == '_')
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
    assert_eq!(users("src", "evcxr::"), ["src/engine/evcxr_engine.rs"]);
}

#[test]
fn dispatch_uses_neither_sockets_nor_evcxr() {
    for banned in ["zmq::", "evcxr::", "crate::engine::evcxr_engine"] {
        assert_eq!(
            users("src/dispatch", banned),
            Vec::<String>::new(),
            "{banned}"
        );
    }
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
