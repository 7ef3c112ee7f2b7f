//! Variable types named by rustc, so that a cell's `let`s run without the
//! analyzer's turn.
//!
//! evcxr asks rust-analyzer for the type of each variable a cell's
//! top-level `let` defines, and the analyzer can answer only after its turn
//! to the real standard library (seconds of CPU, `analyzer_std.rs`). rustc
//! knows the types too, and says them when asked the right way: evcxr's
//! `cargo check` of the cell inside a block (so evcxr keeps none of its
//! variables), then a line per variable, `let _: () = &name;`, whose type
//! error's label names the variable's type (``expected `()`, found
//! `&Vec<{integer}>` ``). A check builds nothing and runs nothing: ~0.15 s
//! more than the cell's own build. A literal whose type nothing settled
//! (`{integer}`, `{float}`) gets the type rustc's fallback gives it (`i32`,
//! `f64`); a type that cannot be written (a closure, `_`, `impl`) makes the
//! answer none. A check needs the prelude checked as well as built, which
//! the install's seed holds (`kernel::warm_up` asks once); a slot without
//! it pays that once (~5 s).
//!
//! A session whose askings have cost what the turn would ([`BUDGET`]) asks
//! no more: from then on the turn, with the analyzer's tenth of a second
//! per cell after it, is cheaper.
//!
//! rustc prints a type by its shortest unique name (`Instant`, not
//! `std::time::Instant`), which the cell's scope may not have: the types
//! are only ever written into the cell (`known_types::write_types`), whose
//! build then fails, and the cell is run again as the learner wrote it
//! after the turn, as with remembered types.
//!
//! **Invariant:** asking runs none of the cell: it is a check, and a cell
//! with a `:` command (which evcxr would carry out) is not asked about. An
//! answer names every variable asked about, each from its own line's error,
//! and only if nothing else in the check failed: the cell must parse as one
//! function body (so the block holds all of it, and the `;` before the
//! asking lines leaves no attribute of the cell's to apply to them).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use evcxr::CommandContext;

use super::analyzer_std::cell_statements;
use super::known_types::lets_to_type;

/// What the analyzer's turn costs on an idle machine: a session stops
/// asking rustc once its askings have cost this much.
const BUDGET: Duration = Duration::from_secs(5);

/// How a type error's label on an asking line begins…
const LABEL_START: &str = "expected `()`, found `&";

/// …and ends.
const LABEL_END: &str = "`";

/// What rustc calls an integer or float literal's type it has not settled,
/// and the type its fallback gives it.
const UNSETTLED: [(&str, &str); 2] = [("{integer}", "i32"), ("{float}", "f64")];

/// What asking rustc has cost a session so far.
#[derive(Debug, Default)]
pub(super) struct Askings {
    spent: Duration,
}

impl Askings {
    /// The types rustc names for the variables of `code` whose types are
    /// not written, asked through `context`; `None` if the cell may not be
    /// asked about, rustc named no writable type for one of them, or the
    /// session's askings have cost [`BUDGET`].
    pub(super) fn types(
        &mut self,
        context: &mut CommandContext,
        code: &str,
    ) -> Option<HashMap<String, String>> {
        if self.spent >= BUDGET {
            return None;
        }
        let question = Question::about(code)?;
        let started = Instant::now();
        let checked = context.check(question.source());
        self.spent += started.elapsed();
        question.answer(&checked.ok()?)
    }
}

/// A cell, asked about as a check that fails on purpose.
#[derive(Debug)]
struct Question {
    /// The check's source: the cell in a block, then the asking lines.
    source: String,
    /// The variable each asking line is about, by its line (1-based) in
    /// the source.
    asked: HashMap<usize, String>,
}

impl Question {
    /// The question for `code`'s variables whose types are not written, if
    /// it has any and may be asked about (see the invariant).
    fn about(code: &str) -> Option<Question> {
        if code.lines().any(|line| line.trim_start().starts_with(':')) {
            return None;
        }
        let untyped: Vec<String> = lets_to_type(code)?
            .into_iter()
            .filter(|(statement, _)| statement.ty().is_none())
            .map(|(_, name)| name)
            .collect();
        if untyped.is_empty() {
            return None;
        }
        // The `;` ends a final expression, and leaves an attribute the cell
        // may end with nothing to apply to but itself (an error).
        cell_statements(code)?;
        let mut source = format!("{{\n{code}\n;\n");
        let first_line = source.lines().count() + 1;
        let mut asked = HashMap::new();
        for (line, name) in (first_line..).zip(untyped) {
            source.push_str(&format!("let _: () = &{name};\n"));
            asked.insert(line, name);
        }
        source.push('}');
        Some(Question { source, asked })
    }

    /// What to check.
    fn source(&self) -> &str {
        &self.source
    }

    /// The type of every variable asked about, from the errors of the
    /// check; `None` if an error is not one of the asking lines' or a type
    /// is missing or cannot be written.
    pub(super) fn answer(
        &self,
        errors: &[evcxr::CompilationError],
    ) -> Option<HashMap<String, String>> {
        let mut types = HashMap::new();
        for error in errors.iter().filter(|error| error.level() == "error") {
            let message = error.primary_spanned_message()?;
            let name = self.asked.get(&message.span?.start_line)?;
            types.insert(name.clone(), written_type(&message.label)?);
        }
        (types.len() == self.asked.len()).then_some(types)
    }
}

/// The type named in `label`, an asking line's error label, as a cell can
/// write it; `None` if it cannot be written.
fn written_type(label: &str) -> Option<String> {
    let mut named = label
        .strip_prefix(LABEL_START)?
        .strip_suffix(LABEL_END)?
        .to_owned();
    for (unsettled, fallback) in UNSETTLED {
        named = named.replace(unsettled, fallback);
    }
    let writable = !named.is_empty()
        && !named.contains(['{', '}', '!', '`'])
        && !named
            .split(|character: char| !(character.is_alphanumeric() || character == '_'))
            .any(|word| word == "_" || word == "impl");
    writable.then_some(named)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_type_error_label_gives_the_type_as_a_cell_writes_it() {
        let found = |named: &str| written_type(&format!("expected `()`, found `&{named}`"));
        assert_eq!(found("String").as_deref(), Some("String"));
        assert_eq!(found("Vec<{integer}>").as_deref(), Some("Vec<i32>"));
        assert_eq!(
            found("(Vec<{float}>, &'static str)").as_deref(),
            Some("(Vec<f64>, &'static str)")
        );
        assert_eq!(
            found("Box<dyn Fn(u8_count) -> i32>").as_deref(),
            Some("Box<dyn Fn(u8_count) -> i32>")
        );
        for unwritable in [
            "{closure@lib.rs:35:9}",
            "Vec<_>",
            "HashMap<_, u8>",
            "impl Iterator<Item = u8>",
            "!",
            "",
        ] {
            assert_eq!(found(unwritable), None, "{unwritable}");
        }
        assert_eq!(written_type("mismatched types"), None);
        assert_eq!(written_type("expected `()`, found `u8`"), None);
    }

    #[test]
    fn a_cell_is_asked_about_in_a_block_with_a_line_per_untyped_variable() {
        let question =
            Question::about("let a = 1;\nlet b: u8 = 2;\nlet c = vec![a];\nc.len()").unwrap();
        assert_eq!(
            question.source(),
            "{\nlet a = 1;\nlet b: u8 = 2;\nlet c = vec![a];\nc.len()\n;\n\
             let _: () = &a;\nlet _: () = &c;\n}"
        );
        assert_eq!(
            question.asked,
            HashMap::from([(7, "a".to_owned()), (8, "c".to_owned())])
        );
        let ends_in_a_comment = Question::about("let a = 1; // one").unwrap();
        assert_eq!(
            ends_in_a_comment.source(),
            "{\nlet a = 1; // one\n;\nlet _: () = &a;\n}"
        );
    }

    #[test]
    fn cells_that_must_not_be_built_as_a_question_are_not_asked_about() {
        for code in [
            "println!(\"no variable\");",
            "let typed: u8 = 1;",
            ":dep rand\nlet a = 1;",
            "let a = 1; let a = a + 1;",
            "let (a, b) = (1, 2);",
            "let v: Vec<_> = vec![1];",
            "let a = {",
            "let a = 1; } fn escape() { let b = 2;",
            "let a = 1;\n#[cfg(any())]",
        ] {
            assert!(Question::about(code).is_none(), "{code}");
        }
    }
}
