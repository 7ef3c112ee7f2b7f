//! A cell as the kernel reads it: its own magics parsed once, here and
//! nowhere else, into a typed [`Cell`] that dispatch acts on and hands to the
//! engine.
//!
//! The kernel's magics: `:doc NAME` (the cell is only that; dispatch pages
//! the documentation), `:timeline` (as the first line), `:restart` and
//! `:clear`, and the one evcxr command this kernel refuses
//! (`:allow_static_linking 0`). evcxr's other `:` commands pass through
//! untouched; `:fmt` and `:types`, which change how evcxr shows a cell's
//! final value, are noted. Nothing here knows evcxr.

/// A cell, its magics read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cell {
    /// `:doc NAME` alone: NAME's documentation goes to the pager, as `NAME?`
    /// does in IPython; no code runs.
    Doc {
        /// The NAME to look up, e.g. `threading::Lock`.
        topic: String,
    },
    /// Code for the engine, with what it must do around it.
    Code(CodeCell),
}

/// A cell for the engine: what it does besides compiling and running the code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeCell {
    /// The code to hand to evcxr: the cell with the lines of the magics the
    /// kernel carries out itself blanked, so line numbers in errors still match.
    pub code: String,
    /// `:timeline` first: record the cell and draw it.
    pub timeline: bool,
    /// `:restart`: a new runtime (variables go, items stay) before the code.
    pub restart: bool,
    /// `:clear` (evcxr's, kept in `code`): every item, `use` line and
    /// `:dep` goes, the prelude's too, so it must be loaded again.
    pub clear: bool,
    /// `:fmt` or `:types` (evcxr's, kept in `code`): final values must be
    /// shown evcxr's way from now on, which the prelude's does not follow.
    pub value_format: bool,
    /// A magic this kernel cannot carry out, and why: the cell is refused.
    pub refused: Option<&'static str>,
}

/// Why `:allow_static_linking 0` is refused.
pub const NO_DYNAMIC_LINKING: &str = "`:allow_static_linking 0` is not available in this kernel: \
     evcxr would then build every dependency as a dynamic library, which fails for `no_std` \
     crates such as `unicode-ident` (behind `#[derive(Serialize)]`), `cfg-if` and `smallvec` \
     (behind the prelude's locks), so no cell would compile again. Dependencies stay \
     statically linked: a `static` inside a `:dep` crate has a copy in each cell; keep shared \
     state in a variable instead.";

impl Cell {
    /// Reads the kernel's magics in a cell's `text`.
    pub fn parse(text: &str) -> Cell {
        match documentation_topic(text) {
            Some(topic) => Cell::Doc {
                topic: topic.to_owned(),
            },
            None => Cell::Code(CodeCell::parse(text)),
        }
    }
}

/// The NAME of a cell that is just `:doc NAME`.
fn documentation_topic(text: &str) -> Option<&str> {
    let topic = text.trim().strip_prefix(":doc")?.trim();
    (!topic.is_empty() && !topic.contains('\n')).then_some(topic)
}

impl CodeCell {
    /// Reads the magics a cell of code may hold (all but `:doc`).
    pub fn parse(text: &str) -> CodeCell {
        let mut cell = CodeCell {
            code: String::with_capacity(text.len()),
            timeline: false,
            restart: false,
            clear: false,
            value_format: false,
            refused: None,
        };
        for (index, line) in text.split('\n').enumerate() {
            if index > 0 {
                cell.code.push('\n');
            }
            match line.trim() {
                ":timeline" if index == 0 => cell.timeline = true,
                ":restart" => cell.restart = true,
                ":clear" => {
                    cell.clear = true;
                    cell.code.push_str(line);
                }
                ":allow_static_linking 0" => cell.refused = Some(NO_DYNAMIC_LINKING),
                trimmed => {
                    cell.value_format |= is_value_format_command(trimmed);
                    cell.code.push_str(line);
                }
            }
        }
        keep_a_leading_doc_comment(&mut cell.code);
        cell
    }

    /// Whether nothing is left to compile once the kernel's magics are done.
    pub fn code_is_blank(&self) -> bool {
        self.code.trim().is_empty()
    }
}

/// Whether `line` is evcxr's `:fmt FORMAT` or `:types`.
fn is_value_format_command(line: &str) -> bool {
    [":fmt", ":types"].iter().any(|command| {
        line.strip_prefix(command)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with(char::is_whitespace))
    })
}

/// evcxr drops a doc comment that starts the cell's code at the start of a
/// line (its item then has no documentation for `:doc` or a hover); indented
/// by one space it is kept. Only that comment line moves, by one column.
fn keep_a_leading_doc_comment(code: &mut String) {
    let first_line = code.len() - code.trim_start_matches('\n').len();
    if code[first_line..].starts_with("///") || code[first_line..].starts_with("/**") {
        code.insert(first_line, ' ');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code_cell(text: &str) -> CodeCell {
        match Cell::parse(text) {
            Cell::Code(cell) => cell,
            doc => panic!("not a code cell: {doc:?}"),
        }
    }

    #[test]
    fn magics_are_read_and_their_lines_blanked() {
        let timeline = code_cell(":timeline\nsleep(0.1);");
        assert!(timeline.timeline && !timeline.restart && !timeline.clear);
        assert_eq!(timeline.code, "\nsleep(0.1);");
        assert!(code_cell("  :timeline  ").timeline);
        // Only a first line arms the timeline.
        let late = code_cell("sleep(0.1);\n:timeline");
        assert!(!late.timeline);
        assert_eq!(late.code, "sleep(0.1);\n:timeline");

        let restart = code_cell(":restart\nlet a = 1;");
        assert!(restart.restart);
        assert_eq!(restart.code, "\nlet a = 1;");
        assert!(code_cell(":restart").code_is_blank());

        let clear = code_cell(":clear");
        assert!(clear.clear);
        assert_eq!(clear.code, ":clear", "evcxr carries out :clear itself");
        assert!(!code_cell("let clear = 1;").clear);
        assert_eq!(
            code_cell(":allow_static_linking 0").refused,
            Some(NO_DYNAMIC_LINKING)
        );
        assert_eq!(code_cell(":allow_static_linking 1").refused, None);
    }

    #[test]
    fn evcxr_value_format_commands_are_noted_and_kept() {
        for text in [
            ":fmt {:#?}",
            "  :types",
            ":types\n42",
            "let a = 1;\n:fmt {}",
        ] {
            let cell = code_cell(text);
            assert!(cell.value_format, "{text:?}");
            assert_eq!(cell.code, text, "evcxr carries them out");
        }
        for text in ["42", ":fmtx", ":typesetting", "let fmt = 1; // :types"] {
            assert!(!code_cell(text).value_format, "{text:?}");
        }
    }

    #[test]
    fn a_doc_comment_that_starts_the_code_is_kept() {
        assert_eq!(code_cell("/// A\nstruct A;").code, " /// A\nstruct A;");
        assert_eq!(
            code_cell(":timeline\n/** B */\nstruct B;").code,
            "\n /** B */\nstruct B;"
        );
        // Already indented, or not first: evcxr keeps it as it is.
        assert_eq!(code_cell("  /// C\nstruct C;").code, "  /// C\nstruct C;");
        assert_eq!(
            code_cell("let d = 1;\n/// E\nstruct E;").code,
            "let d = 1;\n/// E\nstruct E;"
        );
        assert_eq!(code_cell("// a plain comment").code, "// a plain comment");
    }

    #[test]
    fn doc_is_a_cell_of_its_own() {
        assert_eq!(
            Cell::parse("  :doc threading::Lock \n"),
            Cell::Doc {
                topic: "threading::Lock".to_owned()
            }
        );
        // Without a name, or beside code, it is left to evcxr.
        assert_eq!(code_cell(":doc").code, ":doc");
        assert_eq!(code_cell(":doc a\nlet b = 1;").code, ":doc a\nlet b = 1;");
    }
}
