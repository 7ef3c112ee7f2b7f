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
//! moment), or else before the first cell whose variables need a type
//! inferred and before the first completion or inspection, and the
//! analyzer's workspace is then reloaded (`Session::show_analyzer_the_real_std`:
//! the analyzer rereads the sysroot only when the cell crate's `Cargo.toml`
//! changes, which the prelude's deferred `:dep` does, see `prelude_extern.rs`).
//! A variable whose type the cell spells out (`let total: u64 = 0;`) needs
//! no turn: evcxr takes the type as written, and the analyzer on the stub
//! only finds the statement. Such a cell waits for the prelude's deferred
//! `:dep` alone (a build), which must come before any variable. So does a
//! cell whose types the session writes in: remembered (`known_types.rs`)
//! or named by rustc (`rustc_types.rs`).
//!
//! **Invariant:** no variable's type is inferred, and no completion or
//! hover answered, while the analyzer may still see the stub; once turned,
//! the link stays on the real sources for the kernel's life (a new context,
//! a `:clear` reload, read them from the start).

use std::borrow::Cow;
use std::path::{Path, PathBuf};

use ra_ap_syntax::ast;

use super::session::Session;

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

/// What a cell's top-level `let` statements (the ones evcxr keeps as
/// variables) need from the analyzer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum CellVariables {
    /// No top-level `let`.
    None,
    /// Each names one variable and spells out its type, which evcxr takes
    /// as written: the analyzer only has to find the statements.
    Typed,
    /// A type is left to the analyzer to infer (a pattern, a `_` in the type,
    /// no type), or the code does not parse.
    Inferred,
}

/// What the top-level `let`s of `code`, a cell as evcxr reads it (its `:`
/// commands on lines of their own), need from the analyzer.
pub(super) fn cell_variables(code: &str) -> CellVariables {
    use ra_ap_syntax::ast::AstNode;
    use ra_ap_syntax::SyntaxKind;

    let Some(lets) = top_level_lets(code) else {
        return CellVariables::Inferred;
    };
    // As evcxr judges a written type (`is_type_valid`): one with `_` in it
    // is inferred.
    let spelled_out = |statement: &ast::LetStmt| {
        matches!(statement.pat(), Some(ast::Pat::IdentPat(_)))
            && statement.ty().is_some_and(|ty| {
                !ty.syntax()
                    .descendants()
                    .any(|node| matches!(node.kind(), SyntaxKind::INFER_TYPE | SyntaxKind::ERROR))
            })
    };
    if lets.is_empty() {
        CellVariables::None
    } else if lets.iter().all(spelled_out) {
        CellVariables::Typed
    } else {
        CellVariables::Inferred
    }
}

/// What [`top_level_lets`] puts before a cell's code to parse it: offsets in
/// its nodes are this much past the same place in the cell.
pub(super) const CELL_PREFIX: &str = "fn cell() {\n";

/// The top-level `let` statements of `code`, a cell as evcxr reads it (its
/// `:` commands on lines of their own, read as blank); `None` if it does not
/// parse. Their offsets are [`CELL_PREFIX`]'s length past the cell's.
pub(super) fn top_level_lets(code: &str) -> Option<Vec<ast::LetStmt>> {
    Some(
        cell_statements(code)?
            .statements()
            .filter_map(|statement| match statement {
                ast::Stmt::LetStmt(statement) => Some(statement),
                _ => None,
            })
            .collect(),
    )
}

/// The statements of `code`, a cell as evcxr reads it (its `:` commands on
/// lines of their own, read as blank), as the body of a function; `None` if
/// it does not parse as one. Offsets in them are [`CELL_PREFIX`]'s length past the
/// cell's.
pub(super) fn cell_statements(code: &str) -> Option<ast::StmtList> {
    use ra_ap_syntax::ast::HasModuleItem;
    use ra_ap_syntax::Edition;

    let statements: String = code
        .split_inclusive('\n')
        .map(|line| {
            if line.trim_start().starts_with(':') {
                // Blanked in place, so that offsets stay the cell's.
                Cow::Owned(line.replace(|character: char| character != '\n', " "))
            } else {
                Cow::Borrowed(line)
            }
        })
        .collect();
    let wrapped = format!("{CELL_PREFIX}{statements}\n}}");
    let parsed = ast::SourceFile::parse(&wrapped, Edition::Edition2024);
    let mut items = parsed.tree().items();
    // One item: code that closes the function early is no cell.
    match (parsed.errors().is_empty(), items.next(), items.next()) {
        (true, Some(ast::Item::Fn(function)), None) => function.body()?.stmt_list(),
        _ => None,
    }
}

/// A completion request that makes rust-analyzer load the prelude.
const WARM_UP_QUERY: &str = "let warm_up = mp::cpu_count(); threading::";

/// When the session turns the analyzer, and what it does first.
impl Session {
    /// Has rust-analyzer read the real standard library and analyse the
    /// prelude's items (which it does the first time it is asked for a
    /// completion), so that the next cell that defines a variable, and the
    /// first completion, find it ready.
    pub(super) fn warm_up_analyzer(&mut self) {
        let _ = self.show_analyzer_the_real_std();
        let _ = self.context.completions(WARM_UP_QUERY, WARM_UP_QUERY.len());
    }

    /// Shows rust-analyzer the real standard library if it still sees the
    /// stub: the link turned, then the analyzer's workspace reloaded.
    ///
    /// The analyzer loads its workspace (and with it the sysroot) again only
    /// when the cell crate's `Cargo.toml` changed. A session whose prelude
    /// `:dep` was deferred adds it now (a build of its own, and the prelude
    /// enters the analyzer's workspace; cells built before it had no
    /// variables, since a cell that defines one comes after this). Otherwise
    /// a completion request whose `:dep` line spells the prelude's
    /// dependency differently has evcxr write it changed, for that request
    /// only, and a second request writes it back as the session's builds
    /// have it, so nothing runs and no build differs.
    pub(super) fn show_analyzer_the_real_std(&mut self) -> Result<(), evcxr::Error> {
        if !self.analyzer_to_turn() {
            return Ok(());
        }
        self.analyzer_std.turn()?;
        // A deferred `:dep` that failed (the link already turned) is tried
        // again before the next cell that defines a variable.
        if self.prelude_dep_deferred {
            self.add_deferred_prelude_dep()?;
        } else {
            let respelled = format!("{}\n{WARM_UP_QUERY}", self.workspace_reload);
            self.context.completions(&respelled, respelled.len())?;
            self.context
                .completions(WARM_UP_QUERY, WARM_UP_QUERY.len())?;
        }
        Ok(())
    }

    /// Adds the prelude's deferred `:dep` (a build of its own, which changes
    /// the cell crate's `-C metadata`, and with it the `TypeId`s of the
    /// types cells define: no variable may exist yet).
    fn add_deferred_prelude_dep(&mut self) -> Result<(), evcxr::Error> {
        self.run_kernel_step(&self.prelude_dep.clone())?;
        self.prelude_dep_deferred = false;
        Ok(())
    }

    /// Readies the session for the variables `code` defines at its top
    /// level, and says whether that took a step: a type evcxr must infer
    /// needs the analyzer turned to the real standard library (seconds,
    /// the prelude's deferred `:dep` with it); a type the cell spells out
    /// needs no more than that `:dep`, the analyzer left on the stub.
    pub(super) fn prepare_for_variables(&mut self, code: &str) -> Result<bool, evcxr::Error> {
        match cell_variables(code) {
            CellVariables::Inferred if self.analyzer_to_turn() => {
                self.show_analyzer_the_real_std()?;
                Ok(true)
            }
            CellVariables::Typed if self.prelude_dep_deferred => {
                self.add_deferred_prelude_dep()?;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    /// Whether the analyzer may still see the stub `std`, or not yet the
    /// prelude.
    fn analyzer_to_turn(&self) -> bool {
        self.analyzer_std.is_stub() || self.prelude_dep_deferred
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_top_level_let_needs_the_real_library_unless_its_type_is_spelled_out() {
        let inferred: &[&str] = &[
            "let x = 5;",
            "let typed: i32 = 5;\nlet inferred = typed + 1;",
            "let v: Vec<_> = vec![1];",
            "let (a, b): (i32, i32) = (1, 2);",
            "println!(\"hi\");\nlet v = vec![1];\nv.len()",
            ":dep rand\nlet (a, b) = (1, 2);",
            "let unfinished = 5",
            "let mut total = 0u64; for n in 0..3 { total += n; }",
            "fn broken( {",
        ];
        let typed: &[&str] = &[
            "let x: i32 = 5;",
            "let mut names: Vec<String> = Vec::new();\nnames.push(\"a\".into());",
            ":dep rand\nlet queue: mp::Queue<(u32, String)> = mp::Queue::new();",
            "let f: Box<dyn Fn(i32) -> i32> = Box::new(|x| x + 1);",
        ];
        let none: &[&str] = &[
            "println!(\"hello\");",
            "fn square(x: i32) -> i32 { let y = x * x; y }",
            "struct Point { x: i32 }\nimpl Point { fn new() -> Self { let x = 0; Point { x } } }",
            ":dep rand",
            "{ let scoped = 1; println!(\"{scoped}\"); }",
            "for n in 0..3 { let doubled = n * 2; println!(\"{doubled}\"); }",
            "use std::collections::HashMap;\n1 + 2",
        ];
        for (codes, expected) in [
            (inferred, CellVariables::Inferred),
            (typed, CellVariables::Typed),
            (none, CellVariables::None),
        ] {
            for code in codes {
                assert_eq!(cell_variables(code), expected, "{code}");
            }
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
