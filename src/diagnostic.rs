//! Compile errors drawn against the learner's own cell.
//!
//! rustc's rendered text points into the crate evcxr generates around a cell
//! (`src/lib.rs:102:14`, lines the learner never wrote). This module draws
//! the same diagnostic, rustc-style and in colour (notebooks render ANSI in
//! tracebacks), against the cell's source with the cell's line numbers.

use std::fmt::Write as _;

const RED: &str = "\x1b[1;31m";
const BLUE: &str = "\x1b[1;34m";
const CYAN: &str = "\x1b[1;36m";
const BOLD: &str = "\x1b[1m";
const RESET: &str = "\x1b[0m";

/// A span of the cell's source, 1-based, end column exclusive (characters).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Label {
    /// Line where the span starts.
    pub line: usize,
    /// Column where the span starts.
    pub start_column: usize,
    /// Line where the span ends.
    pub end_line: usize,
    /// Column just after the span's end.
    pub end_column: usize,
    /// What the compiler says about this span (may be empty).
    pub text: String,
    /// Whether this is the main span (`^^^`) or a secondary one (`---`).
    pub primary: bool,
}

/// One compiler diagnostic in cell coordinates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// The error code, like `E0308`.
    pub code: Option<String>,
    /// The headline.
    pub message: String,
    /// Spans of the cell the message points at.
    pub labels: Vec<Label>,
    /// `help:` and `note:` lines.
    pub notes: Vec<String>,
}

/// Renders `diagnostic` against `source` (the cell), rustc-style, with colours.
pub fn render(diagnostic: &Diagnostic, source: &str) -> String {
    let mut out = String::new();
    let code = diagnostic
        .code
        .as_ref()
        .map(|code| format!("[{code}]"))
        .unwrap_or_default();
    let _ = writeln!(
        out,
        "{RED}error{code}{RESET}{BOLD}: {}{RESET}",
        diagnostic.message
    );

    let lines: Vec<&str> = source.lines().collect();
    let mut labels: Vec<&Label> = diagnostic.labels.iter().collect();
    labels.sort_by_key(|label| (label.line, label.start_column));
    let gutter = labels
        .iter()
        .map(|label| label.line.to_string().len())
        .max()
        .unwrap_or(1);
    let pad = " ".repeat(gutter);

    if let Some(first) = labels.iter().find(|label| label.primary).or(labels.first()) {
        let _ = writeln!(
            out,
            "{pad}{BLUE}-->{RESET} cell:{}:{}",
            first.line, first.start_column
        );
        let _ = writeln!(out, "{pad} {BLUE}|{RESET}");
    }
    let mut shown_line = None;
    for label in &labels {
        let Some(text) = lines.get(label.line.wrapping_sub(1)) else {
            continue;
        };
        if shown_line != Some(label.line) {
            let _ = writeln!(out, "{BLUE}{:>gutter$} |{RESET} {text}", label.line);
            shown_line = Some(label.line);
        }
        let _ = writeln!(out, "{pad} {BLUE}|{RESET} {}", underline(label, text));
    }
    if !labels.is_empty() {
        let _ = writeln!(out, "{pad} {BLUE}|{RESET}");
    }
    for note in &diagnostic.notes {
        let _ = writeln!(out, "{pad} {BLUE}={RESET} {CYAN}{note}{RESET}");
    }
    out.trim_end().to_owned()
}

/// The marker line under `text` for `label`: padding, `^^^` or `---`, the label.
fn underline(label: &Label, text: &str) -> String {
    let characters: Vec<char> = text.chars().collect();
    let start = label.start_column.saturating_sub(1).min(characters.len());
    let end = if label.end_line > label.line {
        characters.len()
    } else {
        label
            .end_column
            .saturating_sub(1)
            .clamp(start, characters.len())
    };
    let offset: usize = characters[..start].iter().map(|c| display_width(*c)).sum();
    let width: usize = characters[start..end]
        .iter()
        .map(|c| display_width(*c))
        .sum::<usize>()
        .max(1);
    let (mark, colour) = if label.primary {
        ('^', RED)
    } else {
        ('-', BLUE)
    };
    let marks: String = std::iter::repeat_n(mark, width).collect();
    let indent = " ".repeat(offset);
    if label.text.is_empty() {
        format!("{indent}{colour}{marks}{RESET}")
    } else {
        format!("{indent}{colour}{marks} {}{RESET}", label.text)
    }
}

/// Columns a character takes in a monospace font: two for CJK and fullwidth forms.
fn display_width(character: char) -> usize {
    let code = character as u32;
    let wide = matches!(code,
        0x1100..=0x115F | 0x2E80..=0xA4CF | 0xAC00..=0xD7A3 | 0xF900..=0xFAFF
        | 0xFE30..=0xFE4F | 0xFF00..=0xFF60 | 0xFFE0..=0xFFE6 | 0x1F300..=0x1FAFF);
    if wide {
        2
    } else {
        1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strip_colours(text: &str) -> String {
        let mut out = String::new();
        let mut in_escape = false;
        for character in text.chars() {
            match (in_escape, character) {
                (false, '\x1b') => in_escape = true,
                (true, 'm') => in_escape = false,
                (true, _) => {}
                (false, other) => out.push(other),
            }
        }
        out
    }

    #[test]
    fn points_at_the_cells_own_lines() {
        let source = "let total = 1;\nlet wrong: i32 = \"text\";";
        let diagnostic = Diagnostic {
            code: Some("E0308".to_owned()),
            message: "mismatched types".to_owned(),
            labels: vec![
                Label {
                    line: 2,
                    start_column: 18,
                    end_line: 2,
                    end_column: 24,
                    text: "expected `i32`, found `&str`".to_owned(),
                    primary: true,
                },
                Label {
                    line: 2,
                    start_column: 12,
                    end_line: 2,
                    end_column: 15,
                    text: "expected due to this".to_owned(),
                    primary: false,
                },
            ],
            notes: vec!["help: try `.parse()`".to_owned()],
        };
        let expected = "\
error[E0308]: mismatched types
 --> cell:2:18
  |
2 | let wrong: i32 = \"text\";
  |            --- expected due to this
  |                  ^^^^^^ expected `i32`, found `&str`
  |
  = help: try `.parse()`";
        assert_eq!(strip_colours(&render(&diagnostic, source)), expected);
    }

    #[test]
    fn wide_characters_shift_the_markers() {
        let label = Label {
            line: 1,
            start_column: 6,
            end_line: 1,
            end_column: 7,
            text: String::new(),
            primary: true,
        };
        assert_eq!(strip_colours(&underline(&label, "名字 = x")), "       ^");
    }
}
