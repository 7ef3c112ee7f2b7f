//! Which standard library evcxr's rust-analyzer sees: none until a cell
//! needs it.
//!
//! evcxr asks its in-process rust-analyzer about every cell before compiling
//! it, and the first question makes the analyzer read and index the whole
//! standard library: two seconds of a kernel's start, at the context's
//! creation and again when the prelude's `:dep` reloads the workspace, and
//! ~200 MiB held from then on. Yet the only answer evcxr uses while running
//! cells is the type of each variable a cell's top-level `let` defines. So
//! the analyzer's `RUST_SRC_PATH` is a link beside the work slot that first
//! points at a stub library (empty `core`, `alloc`, `std`): the runtime, the
//! prelude and the first cells start without waiting for the analyzer. The
//! link is turned to the real sources (the trimmed copy of
//! [`crate::std_sources`]) while the learner reads (the engine idle for a
//! moment), or else before the first cell that defines a variable and
//! before the first completion or inspection, and the analyzer's workspace
//! is then reloaded (`Session::show_analyzer_the_real_std`: the analyzer
//! rereads the sysroot only when the cell crate's `Cargo.toml` changes,
//! which the prelude's deferred `:dep` does, see `prelude_extern.rs`).
//!
//! **Invariant:** no cell defines a variable, and no completion or hover is
//! answered, while the analyzer may still see the stub; once turned, the
//! link stays on the real sources for the kernel's life (a new context, a
//! `:clear` reload, read them from the start).

use std::path::{Path, PathBuf};

/// What the link beside a work slot is called after it (`slot-0.rust-src`).
/// Not inside: the analyzer and cargo walk the slot, the cell crate's home,
/// and would walk the standard library through the link.
const LINK: &str = "rust-src";

/// What the stub library beside a work slot is called after it.
const STUB: &str = "rust-src-stub";

/// The crates rust-analyzer needs to find for a sysroot to count as one.
const STUB_CRATES: [&str; 3] = ["core", "alloc", "std"];

/// What `RUST_SRC_PATH` is set to for a kernel working in `work_dir`.
pub fn sources_path(work_dir: &Path) -> PathBuf {
    beside(work_dir, LINK)
}

/// `work_dir` with `.suffix` added to its name.
fn beside(work_dir: &Path, suffix: &str) -> PathBuf {
    let mut name = work_dir.as_os_str().to_owned();
    name.push(".");
    name.push(suffix);
    PathBuf::from(name)
}

/// The standard library the analyzer sees through the work slot's link.
#[derive(Debug)]
pub(super) enum AnalyzerStd {
    /// The link beside `work_dir` points at the stub; turning it means pointing
    /// it at `library`.
    Stub { work_dir: PathBuf, library: PathBuf },
    /// The analyzer has, or will read at its next load, the real sources
    /// (or whatever the learner's own `RUST_SRC_PATH` names).
    Real,
}

impl AnalyzerStd {
    /// Points the link beside `work_dir` at a stub, if there are real sources to
    /// turn it to later; otherwise the analyzer reads what it finds.
    pub(super) fn stubbed(work_dir: &Path, library: Option<&Path>) -> std::io::Result<AnalyzerStd> {
        let Some(library) = library else {
            return Ok(AnalyzerStd::Real);
        };
        let stub = beside(work_dir, STUB);
        for krate in STUB_CRATES {
            let source = stub.join(krate).join("src");
            std::fs::create_dir_all(&source)?;
            std::fs::write(source.join("lib.rs"), "")?;
        }
        point(work_dir, &stub)?;
        Ok(AnalyzerStd::Stub {
            work_dir: work_dir.to_path_buf(),
            library: library.to_path_buf(),
        })
    }

    /// Points the link at the real sources; the analyzer reads them at its
    /// next workspace load, which the caller brings about.
    pub(super) fn turn(&mut self) -> std::io::Result<()> {
        if let AnalyzerStd::Stub { work_dir, library } = self {
            point(work_dir, library)?;
            *self = AnalyzerStd::Real;
        }
        Ok(())
    }

    /// Whether the analyzer may still see the stub.
    pub(super) fn is_stub(&self) -> bool {
        matches!(self, AnalyzerStd::Stub { .. })
    }
}

/// Points the link beside the work slot at `target`, replacing it in one step (a
/// link made beside it, then renamed over it).
fn point(work_dir: &Path, target: &Path) -> std::io::Result<()> {
    let staging = beside(work_dir, &format!("{LINK}.new"));
    let _ = std::fs::remove_file(&staging);
    std::os::unix::fs::symlink(target, &staging)?;
    std::fs::rename(&staging, sources_path(work_dir))
}

/// Whether `code`, a cell as evcxr reads it (its `:` commands on lines of
/// their own), has a top-level `let`: the statement evcxr asks the analyzer
/// a type for. Code that does not parse counts as defining variables.
pub(super) fn defines_variables(code: &str) -> bool {
    use ra_ap_syntax::ast::{self, HasModuleItem};
    use ra_ap_syntax::Edition;

    let statements: String = code
        .lines()
        .map(|line| {
            if line.trim_start().starts_with(':') {
                ""
            } else {
                line
            }
        })
        .flat_map(|line| [line, "\n"])
        .collect();
    let wrapped = format!("fn cell() {{\n{statements}\n}}");
    let parsed = ast::SourceFile::parse(&wrapped, Edition::Edition2024);
    if !parsed.errors().is_empty() {
        return true;
    }
    let body = parsed.tree().items().find_map(|item| match item {
        ast::Item::Fn(function) => function.body(),
        _ => None,
    });
    body.and_then(|body| body.stmt_list()).is_none_or(|list| {
        list.statements()
            .any(|statement| matches!(statement, ast::Stmt::LetStmt(_)))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_top_level_let_needs_the_real_library_and_nothing_else_does() {
        for code in [
            "let x = 5;",
            "println!(\"hi\");\nlet v = vec![1];\nv.len()",
            ":dep rand\nlet (a, b) = (1, 2);",
            "let unfinished = 5",
            "let mut total = 0u64; for n in 0..3 { total += n; }",
            "fn broken( {",
        ] {
            assert!(defines_variables(code), "{code}");
        }
        for code in [
            "println!(\"hello\");",
            "fn square(x: i32) -> i32 { let y = x * x; y }",
            "struct Point { x: i32 }\nimpl Point { fn new() -> Self { let x = 0; Point { x } } }",
            ":dep rand",
            "{ let scoped = 1; println!(\"{scoped}\"); }",
            "for n in 0..3 { let doubled = n * 2; println!(\"{doubled}\"); }",
            "use std::collections::HashMap;\n1 + 2",
        ] {
            assert!(!defines_variables(code), "{code}");
        }
    }

    #[test]
    fn the_link_points_at_a_stub_until_turned_then_at_the_library() {
        let dir = tempfile::tempdir().unwrap();
        let library = dir.path().join("library");
        std::fs::create_dir_all(library.join("core/src")).unwrap();
        let work = dir.path().join("slot");
        std::fs::create_dir_all(&work).unwrap();

        let mut analyzer = AnalyzerStd::stubbed(&work, Some(&library)).unwrap();
        let link = sources_path(&work);
        assert_eq!(std::fs::read_link(&link).unwrap(), beside(&work, STUB));
        assert_eq!(
            std::fs::read_to_string(link.join("std/src/lib.rs")).unwrap(),
            ""
        );
        assert!(analyzer.is_stub());

        analyzer.turn().unwrap();
        assert_eq!(std::fs::read_link(&link).unwrap(), library);
        assert!(!analyzer.is_stub());

        // A kernel started again in the same slot begins with the stub.
        AnalyzerStd::stubbed(&work, Some(&library)).unwrap();
        assert_eq!(std::fs::read_link(&link).unwrap(), beside(&work, STUB));
    }

    #[test]
    fn without_real_sources_there_is_nothing_to_defer() {
        let dir = tempfile::tempdir().unwrap();
        let analyzer = AnalyzerStd::stubbed(dir.path(), None).unwrap();
        assert!(!analyzer.is_stub());
        assert!(!sources_path(dir.path()).exists());
    }
}
