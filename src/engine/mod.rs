//! What the dispatcher needs from whatever runs Rust code: the [`Engine`] trait.
//!
//! The real engine (in [`evcxr`], the only module that imports evcxr)
//! compiles and runs cells in a runtime subprocess; tests drive the
//! dispatcher with a fake engine instead. This module also owns the
//! [`Interrupter`], which the control thread uses while the shell thread is
//! busy running a cell.

mod completion;
pub mod evcxr;
mod interrupt;

pub use interrupt::{Interrupter, Ticket, Waiting};

use std::sync::Arc;

use jupyter_protocol::{ErrorOutput, Media};

use crate::cell::CodeCell;
use crate::ports::CellOutput;

/// A request for a line of input from the person at the notebook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputPrompt {
    /// The text shown before the input box.
    pub prompt: String,
    /// Whether the answer should be hidden as it is typed.
    pub password: bool,
}

/// Answers input prompts during a cell; `None` when the frontend allows no input.
pub type InputSource = Box<dyn Fn(InputPrompt) -> Option<String> + Send>;

/// How a cell ended, as far as the engine can tell.
///
/// Errors reported by the prelude from inside the cell (a panic, a
/// `KeyboardInterrupt`) arrive as output events and take precedence.
#[derive(Debug, Clone)]
pub enum CellOutcome {
    /// The cell ran; its final expression's value, if it had one.
    Finished(Option<Media>),
    /// The cell could not run, or its runtime was lost.
    Failed(ErrorOutput),
}

/// One completion candidate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Completion {
    /// What replaces the completed text, e.g. `cpu_count`.
    pub text: String,
    /// Its kind as JupyterLab names kinds: `function`, `struct`, `module`,
    /// `magic`, … (shown beside the match).
    pub kind: String,
    /// How rust-analyzer shows it, e.g. `fn cpu_count() -> usize`; empty
    /// when that says no more than `text`.
    pub signature: String,
}

/// Completion candidates replacing `cursor_start..cursor_end` of the code.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Completions {
    /// The candidates, best first.
    pub matches: Vec<Completion>,
    /// Byte offset where the replaced text starts.
    pub cursor_start: usize,
    /// Byte offset where the replaced text ends.
    pub cursor_end: usize,
}

impl Completions {
    /// No candidates, replacing nothing at byte offset `cursor`.
    pub fn nothing_at(cursor: usize) -> Completions {
        Completions {
            matches: Vec::new(),
            cursor_start: cursor,
            cursor_end: cursor,
        }
    }
}

/// Documentation for the name under the cursor, as a MIME bundle.
pub type Inspection = Media;

/// Runs Rust cells for the dispatcher.
pub trait Engine: Send + 'static {
    /// Runs `cell` (its magics already read); output goes to `output` while
    /// the cell runs. Blocks until the cell (and its end-of-cell work) is done.
    fn execute(
        &mut self,
        cell: CodeCell,
        output: Arc<dyn CellOutput>,
        input: InputSource,
    ) -> CellOutcome;

    /// Completion candidates at byte offset `cursor` of `code`.
    fn complete(&mut self, code: &str, cursor: usize) -> Completions;

    /// Documentation for the item at byte offset `cursor` of `code`.
    fn inspect(&mut self, code: &str, cursor: usize) -> Option<Inspection>;

    /// The handle the control thread uses to interrupt or stop the runtime.
    fn interrupter(&self) -> Interrupter;

    /// The version of the Rust compiler cells are built with (e.g. `1.95.0`).
    fn rust_version(&self) -> String;
}
