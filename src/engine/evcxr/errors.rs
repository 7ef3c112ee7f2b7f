//! The errors a learner reads: evcxr's errors (compile errors drawn against
//! the cell's own lines, a lost runtime explained), and the kernel's own
//! failures (an engine that could not start or stopped, a refused or
//! interrupted cell), each an `error` in plain words.

use jupyter_protocol::ErrorOutput;

use crate::diagnostic::{self, Diagnostic, Label};

/// The error for a cell evcxr failed to compile or run. `code` is what evcxr
/// compiled; `escalated` whether the interrupter killed the runtime.
pub(super) fn cell_error(error: evcxr::Error, code: &str, escalated: bool) -> ErrorOutput {
    match error {
        evcxr::Error::CompilationErrors(errors) => compile_error(&errors, code),
        evcxr::Error::SubprocessTerminated(status) => runtime_lost(escalated, &status),
        error => plain_error("Error", &error.to_string()),
    }
}

fn compile_error(errors: &[evcxr::CompilationError], code: &str) -> ErrorOutput {
    let evalue = errors
        .first()
        .map(|error| error.message())
        .unwrap_or_else(|| "compilation failed".to_owned());
    let traceback = errors
        .iter()
        .map(|error| diagnostic::render(&to_diagnostic(error), code))
        .collect();
    ErrorOutput {
        ename: "CompileError".to_owned(),
        evalue,
        traceback,
    }
}

/// evcxr's view of a compile error, in the cell's own coordinates.
fn to_diagnostic(error: &evcxr::CompilationError) -> Diagnostic {
    let mut labels = Vec::new();
    let mut notes = Vec::new();
    for spanned in error.spanned_messages().iter().chain(error.help_spanned()) {
        match &spanned.span {
            Some(span) => labels.push(Label {
                line: span.start_line,
                start_column: span.start_column,
                end_line: span.end_line,
                end_column: span.end_column,
                text: spanned.label.clone(),
                primary: spanned.is_primary,
            }),
            None if !spanned.label.is_empty() => notes.push(spanned.label.clone()),
            None => {}
        }
    }
    notes.extend(error.help().into_iter().map(|help| format!("help: {help}")));
    notes.extend(error.evcxr_extra_hint().map(|hint| format!("note: {hint}")));
    notes.dedup();
    Diagnostic {
        code: error.code().map(str::to_owned),
        message: error.message(),
        labels,
        notes,
    }
}

fn runtime_lost(escalated: bool, status: &str) -> ErrorOutput {
    let (ename, explanation) = if escalated {
        (
            "KeyboardInterrupt",
            "The cell did not stop at an interruptible point (a prelude call such as \
             sleep, join or get), so the Rust runtime was restarted to stop it.",
        )
    } else {
        (
            "RuntimeStopped",
            "The Rust runtime stopped while running this cell (std::process::exit, \
             abort, a crash such as a segmentation fault, or a killed process).",
        )
    };
    let consequence = "Variables were lost; functions, types, `use` lines and :dep \
                       crates are kept. The next cell runs in a fresh runtime.";
    let detail = status.trim();
    ErrorOutput {
        ename: ename.to_owned(),
        evalue: format!("{explanation} {consequence}"),
        traceback: vec![
            format!("{ename}: {explanation}"),
            consequence.to_owned(),
            format!("({detail})"),
        ],
    }
}

/// A cell interrupted while it waited for the engine: nothing of it ran.
pub(super) fn interrupted_before_start() -> ErrorOutput {
    let explanation = "The cell was interrupted before its code started: nothing ran, \
                       and nothing was lost.";
    ErrorOutput {
        ename: "KeyboardInterrupt".to_owned(),
        evalue: explanation.to_owned(),
        traceback: vec![format!("KeyboardInterrupt: {explanation}")],
    }
}

/// A step of the kernel's own failed or refused the cell, for `why`.
pub(super) fn kernel_step(why: &str) -> ErrorOutput {
    plain_error("KernelError", why)
}

/// What every cell gets when the session could not start.
pub(super) fn startup_failed(startup_error: &anyhow::Error) -> ErrorOutput {
    ErrorOutput {
        ename: "KernelStartupError".to_owned(),
        evalue: "the Rust engine could not start".to_owned(),
        traceback: vec![format!(
            "the Rust engine could not start: {startup_error:#}"
        )],
    }
}

/// What a cell gets when the engine's actor thread is gone.
pub(super) fn engine_stopped() -> ErrorOutput {
    kernel_step("the Rust engine stopped; restart the kernel (Kernel → Restart Kernel…)")
}

fn plain_error(ename: &str, message: &str) -> ErrorOutput {
    ErrorOutput {
        ename: ename.to_owned(),
        evalue: message.to_owned(),
        traceback: vec![message.to_owned()],
    }
}
