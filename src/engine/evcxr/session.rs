//! One evcxr session on the actor thread: runs cells, carries out the
//! kernel's magics around them, and answers completion and inspection.
//!
//! A `:timeline` cell is run as two: the prelude's `timeline::begin()` (which
//! arms the recorder for the next cell), then the cell with that line
//! blanked. `:restart` is carried out here, not by evcxr (whose own keeps
//! stale variable records). After a cell that replaced the runtime (a crash,
//! `:restart`) the prelude is attached to the new one, and after `:clear` it
//! is loaded again, before the next cell. **Invariant:** a cell's outcome is
//! returned only once the runtime's cell-finished marker says that all of
//! its output is in the pipes (or a grace period passed).

use std::time::Duration;

use crossbeam_channel::Receiver;
use evcxr::{CommandContext, EvalCallbacks, EvalOutputs};
use jupyter_protocol::{Media, MediaType};
use multitask::host::NO_STDIN_REPLY;

use super::analyzer_std::AnalyzerStd;
use super::errors;
use super::known_types::{write_types, KnownTypes};
use super::launch::ATTACH;
use super::markers::Marker;
use super::rustc_types::Askings;
use crate::cell::CodeCell;
use crate::engine::{
    completion, CellOutcome, Completion, Completions, InputPrompt, InputSource, Inspection,
    Interrupter, Ticket, Waiting,
};
use crate::media;
use crate::ports::CellOutput;

/// What the kernel runs, as its own small cell, before a `:timeline` cell.
const TIMELINE_BEGIN: &str = "multitask::timeline::begin();";

/// What the kernel runs after a `:timeline` cell whose code never ran.
const TIMELINE_CANCEL: &str = "multitask::timeline::cancel();";

/// The result of a cell that only held `:restart`.
const RESTARTED: &str = "The Rust runtime was restarted: variables are gone; functions, \
                         types, `use` lines and :dep crates are kept.";

/// Makes the prelude's `evcxr_display` for final values ambiguous, so that
/// evcxr shows them its own way, which follows `:fmt` and `:types`.
const EVCXR_SHOWS_FINAL_VALUES: &str = "use multitask::display::EvcxrShowsFinalValues as _;";

/// How long to wait for a cell's last stderr lines once evcxr says it is done.
const FINISH_GRACE: Duration = Duration::from_secs(2);

/// evcxr's context and what the kernel keeps beside it.
pub(super) struct Session {
    pub(super) context: CommandContext,
    pub(super) markers: Receiver<Marker>,
    pub(super) interrupter: Interrupter,
    /// The runtime's pid as last seen; another pid means it was replaced.
    pub(super) runtime_pid: u32,
    /// The prelude's `:dep` line.
    pub(super) prelude_dep: String,
    /// Whether the `:dep` waits for the analyzer's turn to the real
    /// standard library, the prelude linked by the rustc wrapper until then
    /// (`prelude_extern.rs`).
    pub(super) prelude_dep_deferred: bool,
    /// The rest of what brings the prelude into the session: `use` lines,
    /// attach.
    pub(super) prelude_use: String,
    /// What makes rust-analyzer load its workspace again (a `:dep` line).
    pub(super) workspace_reload: String,
    /// Which standard library rust-analyzer sees.
    pub(super) analyzer_std: AnalyzerStd,
    /// The variable types remembered from earlier sessions.
    pub(super) known_types: KnownTypes,
    /// What asking rustc for variable types has cost.
    pub(super) rustc_askings: Askings,
    /// What the next cell needs done first.
    pub(super) repair: Repair,
}

/// What a session needs before its next cell, after a cell replaced the
/// runtime or cleared evcxr's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Repair {
    Nothing,
    /// A new runtime (a crash, `:restart`): attach the prelude to it.
    Attach,
    /// `:clear` dropped the prelude's `:dep` and `use` lines: load it again.
    Reload,
}

impl Session {
    /// Tells the interrupter the current runtime's pid; returns whether the
    /// runtime changed since the last call.
    pub(super) fn note_runtime_pid(&mut self) -> bool {
        let runtime = self.context.process_handle();
        let Ok(pid) = runtime.lock().map(|child| child.id()) else {
            return false;
        };
        self.interrupter.set_runtime_pid(pid);
        std::mem::replace(&mut self.runtime_pid, pid) != pid
    }

    /// What brings the prelude into the session: its `:dep` (unless
    /// deferred), `use` lines, attach.
    pub(super) fn prelude_load(&self) -> String {
        if self.prelude_dep_deferred {
            self.prelude_use.clone()
        } else {
            format!("{}\n{}", self.prelude_dep, self.prelude_use)
        }
    }

    /// Runs `cell`, its output going to `output`.
    pub(super) fn execute(
        &mut self,
        ticket: Ticket,
        cell: &CodeCell,
        output: &dyn CellOutput,
        input: &InputSource,
    ) -> CellOutcome {
        let outcome = self.execute_unless_interrupted(ticket, cell, output, input);
        // Whatever ran may have replaced the runtime (a crash, `:clear`) or
        // cleared evcxr's state (`:clear`).
        let runtime_replaced = self.note_runtime_pid();
        if cell.clear {
            self.repair = Repair::Reload;
        } else if runtime_replaced && self.repair == Repair::Nothing {
            self.repair = Repair::Attach;
        }
        outcome
    }

    /// A new runtime in place of the current one, as `:restart` asks.
    ///
    /// evcxr's own `:restart` keeps the variables' records while their values
    /// go with the old runtime, so the next cell aborts the new runtime
    /// looking for them. evcxr handles a runtime lost during a cell right, so
    /// the runtime (and every process of its group) is killed, and a cell is
    /// run for evcxr to find it gone and start a clean one.
    fn restart_runtime(&mut self) {
        self.interrupter.kill_runtime();
        let _ = self.run_kernel_step(ATTACH);
        if self.note_runtime_pid() {
            self.repair = Repair::Attach;
        }
    }

    /// Runs a step of the kernel's own (attaching the prelude, arming or
    /// cancelling `:timeline`) as a cell of its own, and waits for its
    /// cell-finished marker: the step's cell-started marker is then behind
    /// us, and cannot be taken for the start of the learner's code (which
    /// ends the compiling notice) however late the stderr forwarder reads it.
    pub(super) fn run_kernel_step(&mut self, code: &str) -> Result<(), evcxr::Error> {
        // Markers a cell left after its grace period are not this step's.
        while self.markers.try_recv().is_ok() {}
        let outputs = self.context.execute(code)?;
        if outputs.phases.iter().any(|phase| phase.name == "Execution") {
            self.wait_for_cell_output();
        }
        Ok(())
    }

    /// Brings the prelude back after a cell that replaced the runtime or
    /// cleared the session.
    fn repair(&mut self) -> Result<(), evcxr::Error> {
        let repair = std::mem::replace(&mut self.repair, Repair::Nothing);
        let result = match repair {
            Repair::Nothing => return Ok(()),
            Repair::Attach => self.run_kernel_step(ATTACH),
            Repair::Reload => self.run_kernel_step(&self.prelude_load()),
        };
        if result.is_err() {
            self.repair = repair;
        }
        result
    }

    fn execute_unless_interrupted(
        &mut self,
        ticket: Ticket,
        cell: &CodeCell,
        output: &dyn CellOutput,
        input: &InputSource,
    ) -> CellOutcome {
        if let Some(unwanted) = unless_wanted(self.interrupter.waiting(ticket), output) {
            return unwanted;
        }
        if let Some(why) = cell.refused {
            return self.step_failed(ticket, output, why);
        }
        if cell.restart {
            self.restart_runtime();
        }
        if let Err(error) = self.repair() {
            return self.step_failed(ticket, output, &error.to_string());
        }
        if cell.restart && cell.code_is_blank() {
            output.running();
            return CellOutcome::Finished(Some(Media::new(vec![MediaType::Plain(
                RESTARTED.to_owned(),
            )])));
        }
        if cell.value_format && !self.evcxr_shows_final_values() {
            if let Err(error) = self.let_evcxr_show_final_values() {
                return self.step_failed(ticket, output, &error.to_string());
            }
        }
        // Types remembered for this cell after the same cells, or named by
        // rustc, spare it the analyzer's turn.
        let annotated = if !cell.timeline && self.analyzer_std.is_stub() {
            self.known_types
                .annotate(&cell.code)
                .or_else(|| self.types_named_by_rustc(&cell.code))
        } else {
            None
        };
        let code = annotated.as_deref().unwrap_or(&cell.code);
        match self.prepare_for_variables(code) {
            Err(error) => return self.step_failed(ticket, output, &error.to_string()),
            // A step takes seconds (more on a busy machine): a cell
            // interrupted meanwhile was answered; the timeline stays unarmed.
            Ok(true) => {
                if let Some(unwanted) = unless_wanted(self.interrupter.waiting(ticket), output) {
                    return unwanted;
                }
            }
            Ok(false) => {}
        }
        if cell.timeline {
            // Arms the prelude's recorder for the cell that follows.
            if let Err(error) = self.run_kernel_step(TIMELINE_BEGIN) {
                return self.step_failed(ticket, output, &error.to_string());
            }
        }
        while self.markers.try_recv().is_ok() {}
        if let Some(unwanted) = unless_wanted(self.interrupter.cell_code_next(ticket), output) {
            if cell.timeline {
                let _ = self.run_kernel_step(TIMELINE_CANCEL);
            }
            return unwanted;
        }
        let mut callbacks = EvalCallbacks {
            input_reader: &|request| {
                input(InputPrompt {
                    prompt: request.prompt,
                    password: request.is_password,
                })
                .unwrap_or_else(|| NO_STDIN_REPLY.to_owned())
            },
        };
        let mut result = self.context.execute_with_callbacks(code, &mut callbacks);
        if annotated.is_some() && matches!(result, Err(evcxr::Error::CompilationErrors(_))) {
            // Never wrong: the cell as the learner wrote it, the analyzer
            // turned (evcxr undid the failed build's state).
            result = self.show_analyzer_the_real_std().and_then(|()| {
                self.context
                    .execute_with_callbacks(&cell.code, &mut callbacks)
            });
        }
        if result.is_ok() {
            self.known_types
                .remember(&cell.code, self.context.variables_and_types());
        }
        self.known_types.ran(&cell.code, result.is_ok());
        let ran = matches!(&result, Ok(outputs)
            if outputs.phases.iter().any(|phase| phase.name == "Execution"));
        if ran {
            self.wait_for_cell_output();
        } else {
            // Nothing ran (a compile error, items only, a `:` command alone):
            // compiling is over, and an armed timeline must not wait for the
            // next cell.
            output.running();
            if cell.timeline {
                let _ = self.run_kernel_step(TIMELINE_CANCEL);
            }
        }
        let escalated = self.interrupter.cell_finished().escalated;
        match result {
            Ok(outputs) => CellOutcome::Finished(final_value(outputs)),
            Err(error) => CellOutcome::Failed(errors::cell_error(error, &cell.code, escalated)),
        }
    }

    /// `code` with the types rustc names for its variables written into its
    /// `let`s, asked in a build that fails on purpose (`rustc_types.rs`).
    fn types_named_by_rustc(&mut self, code: &str) -> Option<String> {
        write_types(code, &self.rustc_askings.types(&mut self.context, code)?)
    }

    /// Ends cell `ticket`, whose code will not run because a step of the
    /// kernel's failed or refused it: its compiling notice goes, the reason
    /// is the error (unless the cell was answered while the step ran).
    fn step_failed(&self, ticket: Ticket, output: &dyn CellOutput, why: &str) -> CellOutcome {
        unless_wanted(self.interrupter.waiting(ticket), output).unwrap_or_else(|| {
            output.running();
            CellOutcome::Failed(errors::kernel_step(why))
        })
    }

    /// Whether a cell changed evcxr's display of values (`:fmt`, `:types`),
    /// so final values are shown evcxr's way for the rest of the session.
    fn evcxr_shows_final_values(&self) -> bool {
        self.prelude_use.contains(EVCXR_SHOWS_FINAL_VALUES)
    }

    /// Shows final values evcxr's way from now on, also after `:clear`
    /// (which keeps evcxr's `:fmt` and `:types` but drops every `use` line).
    fn let_evcxr_show_final_values(&mut self) -> Result<(), evcxr::Error> {
        self.run_kernel_step(EVCXR_SHOWS_FINAL_VALUES)?;
        self.prelude_use.push('\n');
        self.prelude_use.push_str(EVCXR_SHOWS_FINAL_VALUES);
        Ok(())
    }

    /// Waits until the runtime has said that everything the cell wrote is in
    /// the pipes (its stderr marker may trail evcxr's end of the cell).
    pub(super) fn wait_for_cell_output(&self) {
        while let Ok(marker) = self.markers.recv_timeout(FINISH_GRACE) {
            if marker == Marker::Finished {
                return;
            }
        }
    }

    /// Completion candidates at byte offset `cursor` of `code`.
    pub(super) fn complete(&mut self, code: &str, cursor: usize) -> Completions {
        // Without it there would be nothing to offer; a failure leaves the
        // stub, and the completions then offer what they can.
        let _ = self.show_analyzer_the_real_std();
        let Ok(found) = self.context.completions(code, cursor) else {
            return Completions::nothing_at(cursor);
        };
        let start = found.start_offset.min(code.len());
        let found_here: Vec<Completion> = found
            .completions
            .into_iter()
            .map(|completion| Completion {
                text: completion.code,
                kind: completion.kind.to_owned(),
                signature: completion.label,
            })
            .collect();
        let mut matches = completion::shape(found_here, &code[..start]);
        let typed = &code[start..cursor.min(code.len()).max(start)];
        if typed.starts_with(':') {
            matches.extend(completion::kernel_magics(typed));
        }
        Completions {
            matches,
            cursor_start: found.start_offset,
            cursor_end: found.end_offset,
        }
    }

    /// A variable's type, or rust-analyzer's documentation, for the name at
    /// byte offset `cursor` of `code`.
    pub(super) fn inspect(&mut self, code: &str, cursor: usize) -> Option<Inspection> {
        let end = identifier_end(code, cursor);
        if end == 0 {
            return None;
        }
        let word_start = code[..end]
            .rfind(|character: char| !(character.is_alphanumeric() || character == '_'))
            .map_or(0, |index| index + 1);
        let word = &code[word_start..end];
        if let Some((_, type_name)) = self
            .context
            .variables_and_types()
            .find(|(name, _)| *name == word)
        {
            let text = format!("{word}: {type_name}");
            return Some(Media::new(vec![MediaType::Plain(text)]));
        }
        let _ = self.show_analyzer_the_real_std();
        let (plain, html) = self.context.hover_at(code, end).ok()?;
        if plain.trim().is_empty() {
            return None;
        }
        Some(Media::new(vec![
            MediaType::Plain(plain),
            MediaType::Html(html),
        ]))
    }
}

/// The byte offset where the identifier touching `cursor` ends.
fn identifier_end(code: &str, cursor: usize) -> usize {
    let cursor = cursor.min(code.len());
    code[cursor..]
        .find(|character: char| !(character.is_alphanumeric() || character == '_'))
        .map_or(code.len(), |offset| cursor + offset)
}

/// The outcome of a cell that is no longer wanted (see [`Waiting`]), if it
/// is not: a dropped cell's compiling notice goes; an answered cell's output
/// is no longer written to, and its outcome is not read.
fn unless_wanted(waiting: Waiting, output: &dyn CellOutput) -> Option<CellOutcome> {
    match waiting {
        Waiting::Go => None,
        Waiting::Dropped => Some(dropped(output)),
        Waiting::Answered => Some(CellOutcome::Failed(errors::interrupted_before_start())),
    }
}

/// Ends a cell interrupted before its code started: nothing of it runs.
pub(super) fn dropped(output: &dyn CellOutput) -> CellOutcome {
    output.running();
    CellOutcome::Failed(errors::interrupted_before_start())
}

/// The cell's value to show, if any.
fn final_value(outputs: EvalOutputs) -> Option<Media> {
    // A cell ending in a loop or a call without `;` has the value `()`:
    // nothing to show, as Python shows nothing for `None`.
    let plain = outputs.content_by_mime_type.get("text/plain");
    if outputs.content_by_mime_type.is_empty()
        || (outputs.content_by_mime_type.len() == 1 && plain.is_some_and(|text| text == "()"))
    {
        return None;
    }
    Some(media::from_pairs(
        outputs.content_by_mime_type.into_iter().collect(),
    ))
}
