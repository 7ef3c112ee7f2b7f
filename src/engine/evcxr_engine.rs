//! The real engine: cells compiled and run by evcxr. The only module that imports evcxr.
//!
//! evcxr's context is created on, and never leaves, one actor thread: making
//! it takes seconds (it starts the runtime and rust-analyzer), so the kernel
//! answers `kernel_info` while this thread warms up, and the first request
//! that needs the engine waits for it. The warm-up also loads the prelude
//! (`:dep multitask`, `use multitask::prelude::*`, `multitask::attach()`).
//!
//! The runtime subprocess is started in its own process group, so that one
//! `kill` ends it and every process a cell forked. Its stdout lines go
//! straight to the output pump; its stderr lines go through a forwarder that
//! picks out the runtime's cell markers (see [`crate::runtime`]), which tell
//! when a cell's code started (compiling is over) and when all of its output
//! has been written.

use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use crossbeam_channel::{Receiver, Sender};
use evcxr::{CommandContext, EvalCallbacks, EvalContext, EvalOutputs};
use jupyter_protocol::{ErrorOutput, Media, MediaType};
use multitask::host::{INTERRUPT_TAKEN, NO_STDIN_REPLY};

use super::completion;
use super::{
    CellOutcome, Completion, Completions, Engine, InputPrompt, InputSource, Inspection, Interrupter,
};
use crate::cell::CodeCell;
use crate::diagnostic::{self, Diagnostic, Label};
use crate::media;
use crate::ports::{CellOutput, StreamName};
use crate::runtime::{CELL_FINISHED, CELL_STARTED, KERNEL_PID_ENV};

/// The optimisation level cells (and the prelude) are compiled at: level 1
/// keeps a cell that defines a variable under half a second, while loops in
/// CPU-bound lessons still run at a useful fraction of full speed.
const OPT_LEVEL: &str = "1";

/// evcxr's compile cache (`~/.cache/evcxr`), shared by all work slots: a
/// kernel in a new slot copies the prelude's dependencies instead of
/// compiling them again.
const CACHE_MIB: u32 = 1024;

/// The `use` lines evcxr keeps for every cell. The macros need their own,
/// named import: a glob-imported macro that std's prelude also defines is
/// ambiguous, a compile error.
const PRELUDE_IMPORTS: &str =
    "use multitask::prelude::*;\nuse multitask::{print, println, eprint, eprintln};";

/// What the kernel runs, as its own small cell, before a `:timeline` cell.
const TIMELINE_BEGIN: &str = "multitask::timeline::begin();";

/// What the kernel runs after a `:timeline` cell whose code never ran.
const TIMELINE_CANCEL: &str = "multitask::timeline::cancel();";

/// What ties the prelude to a new runtime.
const ATTACH: &str = "multitask::attach();";

/// The result of a cell that only held `:restart`.
const RESTARTED: &str = "The Rust runtime was restarted: variables are gone; functions, \
                         types, `use` lines and :dep crates are kept.";

/// A completion request that makes rust-analyzer load the prelude.
const WARM_UP_QUERY: &str = "let warm_up = mp::cpu_count(); threading::";

/// How long to wait for a cell's last stderr lines once evcxr says it is done.
const FINISH_GRACE: Duration = Duration::from_secs(2);

/// Calls the binary makes before anything else, when evcxr runs it as a helper.
pub fn subprocess_hook() {
    // Our own runtime loop has already taken over if this is the runtime;
    // what is left for evcxr here is its rustc wrapper.
    if std::env::var_os(RUSTC_WRAPPER_ENV).is_some() {
        crate::cache::lock_evcxr_cache_for_this_compile();
    }
    evcxr::runtime_hook();
}

/// Set by evcxr when it runs this binary as its rustc wrapper (evcxr's
/// `runtime::WRAP_RUSTC_ENV`).
const RUSTC_WRAPPER_ENV: &str = "EVCXR_RUSTC_WRAPPER";

enum Request {
    Execute {
        cell: CodeCell,
        output: Arc<dyn CellOutput>,
        input: InputSource,
        done: Sender<CellOutcome>,
    },
    Complete {
        code: String,
        cursor: usize,
        done: Sender<Completions>,
    },
    Inspect {
        code: String,
        cursor: usize,
        done: Sender<Option<Inspection>>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Marker {
    Started,
    Finished,
}

/// Handle on the actor thread that owns evcxr.
pub struct EvcxrEngine {
    requests: Sender<Request>,
    interrupter: Interrupter,
    rust_version: String,
}

/// Where the engine finds things.
pub struct EngineSetup {
    /// The unpacked prelude crate.
    pub prelude_dir: PathBuf,
    /// evcxr's work directory (the kernel's work slot).
    pub work_dir: PathBuf,
    /// Receives the runtime's output from the first moment.
    pub output: Arc<dyn CellOutput>,
}

impl EvcxrEngine {
    /// Starts warming up in the background and returns at once.
    pub fn start(setup: EngineSetup) -> EvcxrEngine {
        let (requests, incoming) = crossbeam_channel::unbounded();
        let interrupter = Interrupter::new();
        let actor_interrupter = interrupter.clone();
        thread::Builder::new()
            .name("engine".to_owned())
            .spawn(move || actor(setup, actor_interrupter, incoming))
            .expect("the engine thread starts");
        EvcxrEngine {
            requests,
            interrupter,
            rust_version: rustc_version(),
        }
    }

    /// Hands a request to the actor and waits for its answer; `gone` when
    /// the actor has stopped (it panicked), so the caller still gets one.
    fn ask<T>(&self, make: impl FnOnce(Sender<T>) -> Request, gone: impl FnOnce() -> T) -> T {
        let (done, answer) = crossbeam_channel::bounded(1);
        if self.requests.send(make(done)).is_err() {
            return gone();
        }
        answer.recv().unwrap_or_else(|_| gone())
    }
}

/// What a cell gets when the engine's actor thread is gone.
fn engine_stopped() -> CellOutcome {
    CellOutcome::Failed(plain_error(
        "KernelError",
        "the Rust engine stopped; restart the kernel (Kernel → Restart Kernel…)",
    ))
}

impl Engine for EvcxrEngine {
    fn execute(
        &mut self,
        cell: CodeCell,
        output: Arc<dyn CellOutput>,
        input: InputSource,
    ) -> CellOutcome {
        // From here on an interrupt belongs to this cell, even while the
        // engine is still busy with something else (it is then kept for it).
        self.interrupter.cell_waiting();
        let outcome = self.ask(
            |done| Request::Execute {
                cell,
                output,
                input,
                done,
            },
            engine_stopped,
        );
        // The actor ended the cell already, unless it is gone.
        self.interrupter.cell_finished();
        outcome
    }

    fn complete(&mut self, code: &str, cursor: usize) -> Completions {
        self.ask(
            |done| Request::Complete {
                code: code.to_owned(),
                cursor,
                done,
            },
            || Completions {
                matches: Vec::new(),
                cursor_start: cursor,
                cursor_end: cursor,
            },
        )
    }

    fn inspect(&mut self, code: &str, cursor: usize) -> Option<Inspection> {
        self.ask(
            |done| Request::Inspect {
                code: code.to_owned(),
                cursor,
                done,
            },
            || None,
        )
    }

    fn interrupter(&self) -> Interrupter {
        self.interrupter.clone()
    }

    fn rust_version(&self) -> String {
        self.rust_version.clone()
    }
}

/// The directory holding the toolchain's `libstd-*.so`.
fn rust_library_dir() -> anyhow::Result<PathBuf> {
    let sysroot = std::process::Command::new("rustc")
        .args(["--print", "sysroot"])
        .output()?;
    let target = std::process::Command::new("rustc")
        .args(["--print", "host-tuple"])
        .output()?;
    let sysroot = String::from_utf8_lossy(&sysroot.stdout).trim().to_owned();
    let target = String::from_utf8_lossy(&target.stdout).trim().to_owned();
    anyhow::ensure!(
        !sysroot.is_empty(),
        "`rustc --print sysroot` printed nothing"
    );
    Ok(PathBuf::from(sysroot)
        .join("lib/rustlib")
        .join(target)
        .join("lib"))
}

/// `LD_LIBRARY_PATH` with `dir` in front of what the kernel inherited.
fn library_path_with(dir: &std::path::Path) -> std::ffi::OsString {
    let mut paths = vec![dir.to_path_buf()];
    if let Some(inherited) = std::env::var_os("LD_LIBRARY_PATH") {
        paths.extend(std::env::split_paths(&inherited));
    }
    std::env::join_paths(paths).unwrap_or_else(|_| dir.as_os_str().to_owned())
}

/// The version of `rustc` on the PATH, e.g. `1.95.0`.
fn rustc_version() -> String {
    std::process::Command::new("rustc")
        .arg("--version")
        .output()
        .ok()
        .and_then(|output| {
            String::from_utf8_lossy(&output.stdout)
                .split_whitespace()
                .nth(1)
                .map(str::to_owned)
        })
        .unwrap_or_else(|| "unknown".to_owned())
}

/// Whether a session's builds use evcxr's compile cache shared by all kernels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CompileCache {
    Shared,
    /// Everything built in the work slot, for a second try after a failure.
    Off,
}

struct Session {
    context: CommandContext,
    markers: Receiver<Marker>,
    interrupter: Interrupter,
    /// The runtime's pid as last seen; another pid means it was replaced.
    runtime_pid: u32,
    /// What brings the prelude into the session (`:dep`, `use`, attach).
    prelude_load: String,
    /// What the next cell needs done first.
    repair: Repair,
}

/// What a session needs before its next cell, after a cell replaced the
/// runtime or cleared evcxr's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Repair {
    Nothing,
    /// A new runtime (a crash, `:restart`): attach the prelude to it.
    Attach,
    /// `:clear` dropped the prelude's `:dep` and `use` lines: load it again.
    Reload,
}

fn actor(setup: EngineSetup, interrupter: Interrupter, requests: Receiver<Request>) {
    let session =
        Session::start(&setup, interrupter.clone(), CompileCache::Shared).or_else(|first_error| {
            // A slot a killed or older kernel left half-built fails the same
            // way every time: build it again from nothing, once.
            eprintln!("multitask-kernel: loading the prelude failed ({first_error:#}); rebuilding its work directory");
            crate::cache::WorkSlot::empty(&setup.work_dir);
            Session::start(&setup, interrupter, CompileCache::Off)
        });
    let mut session = match session {
        Ok(session) => session,
        Err(startup_error) => {
            let failure = ErrorOutput {
                ename: "KernelStartupError".to_owned(),
                evalue: "the Rust engine could not start".to_owned(),
                traceback: vec![format!(
                    "the Rust engine could not start: {startup_error:#}"
                )],
            };
            for request in requests {
                match request {
                    Request::Execute { done, .. } => {
                        let _ = done.send(CellOutcome::Failed(failure.clone()));
                    }
                    Request::Complete { done, .. } => {
                        let _ = done.send(Completions::default());
                    }
                    Request::Inspect { done, .. } => {
                        let _ = done.send(None);
                    }
                }
            }
            return;
        }
    };
    let mut analyzer_warm = false;
    loop {
        // rust-analyzer analyses the prelude the first time it is asked
        // anything (evcxr asks it for the type of every new variable): ask
        // while the learner is still reading, but never ahead of a waiting
        // request.
        if !analyzer_warm && requests.is_empty() {
            let _ = session
                .context
                .completions(WARM_UP_QUERY, WARM_UP_QUERY.len());
            analyzer_warm = true;
        }
        let Ok(request) = requests.recv() else {
            return;
        };
        match request {
            Request::Execute {
                cell,
                output,
                input,
                done,
            } => {
                let _ = done.send(session.execute(&cell, &*output, &input));
            }
            Request::Complete { code, cursor, done } => {
                let _ = done.send(session.complete(&code, cursor));
            }
            Request::Inspect { code, cursor, done } => {
                let _ = done.send(session.inspect(&code, cursor));
            }
        }
    }
}

impl Session {
    fn start(
        setup: &EngineSetup,
        interrupter: Interrupter,
        compile_cache: CompileCache,
    ) -> anyhow::Result<Session> {
        let mut runtime = std::process::Command::new(std::env::current_exe()?);
        runtime.process_group(0);
        runtime.env(KERNEL_PID_ENV, std::process::id().to_string());
        // Cells link std dynamically. The rpath rustc writes into a cell's
        // library is relative to cargo's deps directory, not to where evcxr
        // copies the library, so the runtime is told where std lives.
        runtime.env("LD_LIBRARY_PATH", library_path_with(&rust_library_dir()?));
        let (eval_context, outputs) = EvalContext::with_subprocess_command(runtime)
            .map_err(|error| anyhow::anyhow!("{error}"))?;
        setup.output.attach_stdout(outputs.stdout);
        let markers = forward_stderr(outputs.stderr, setup.output.clone(), interrupter.clone());
        let mut session = Session {
            context: CommandContext::with_eval_context(eval_context),
            markers,
            interrupter,
            runtime_pid: 0,
            prelude_load: format!(
                ":dep multitask = {{ path = {:?} }}\n{PRELUDE_IMPORTS}\n{ATTACH}",
                setup.prelude_dir.display().to_string()
            ),
            repair: Repair::Nothing,
        };
        session.note_runtime_pid();
        let cache_mib = match compile_cache {
            CompileCache::Shared => CACHE_MIB,
            CompileCache::Off => 0,
        };
        // `:clear` keeps these settings, so they are not part of `prelude_load`.
        let settings = format!(":opt {OPT_LEVEL}\n:cache {cache_mib}\n");
        session
            .context
            .execute(&format!("{settings}{}", session.prelude_load))
            .map_err(|error| anyhow::anyhow!("loading the prelude failed: {error}"))?;
        Ok(session)
    }

    /// Tells the interrupter the current runtime's pid; returns whether the
    /// runtime changed since the last call.
    fn note_runtime_pid(&mut self) -> bool {
        let runtime = self.context.process_handle();
        let Ok(pid) = runtime.lock().map(|child| child.id()) else {
            return false;
        };
        self.interrupter.set_runtime_pid(pid);
        std::mem::replace(&mut self.runtime_pid, pid) != pid
    }

    fn execute(
        &mut self,
        plan: &CodeCell,
        output: &dyn CellOutput,
        input: &InputSource,
    ) -> CellOutcome {
        let outcome = self.execute_unless_interrupted(plan, output, input);
        // Whatever ran may have replaced the runtime (a crash, `:clear`) or
        // cleared evcxr's state (`:clear`).
        let runtime_replaced = self.note_runtime_pid();
        if plan.clear {
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
        let _ = self.context.execute(ATTACH);
        if self.note_runtime_pid() {
            self.repair = Repair::Attach;
        }
    }

    /// Brings the prelude back after a cell that replaced the runtime or
    /// cleared the session.
    fn repair(&mut self) -> Result<(), evcxr::Error> {
        let repair = std::mem::replace(&mut self.repair, Repair::Nothing);
        let result = match repair {
            Repair::Nothing => return Ok(()),
            Repair::Attach => self.context.execute(ATTACH),
            Repair::Reload => self.context.execute(&self.prelude_load),
        };
        if result.is_err() {
            self.repair = repair;
        }
        result.map(drop)
    }

    fn execute_unless_interrupted(
        &mut self,
        plan: &CodeCell,
        output: &dyn CellOutput,
        input: &InputSource,
    ) -> CellOutcome {
        if self.interrupter.interrupted_while_waiting() {
            output.running();
            return CellOutcome::Failed(interrupted_before_start());
        }
        if let Some(why) = plan.refused {
            return kernel_step_failed(output, why);
        }
        if plan.restart {
            self.restart_runtime();
        }
        if let Err(error) = self.repair() {
            return kernel_step_failed(output, &error.to_string());
        }
        if plan.restart && plan.code_is_blank() {
            output.running();
            return CellOutcome::Finished(Some(Media::new(vec![MediaType::Plain(
                RESTARTED.to_owned(),
            )])));
        }
        if plan.timeline {
            // Arms the prelude's recorder for the cell that follows.
            if let Err(error) = self.context.execute(TIMELINE_BEGIN) {
                return kernel_step_failed(output, &error.to_string());
            }
        }
        let code = plan.code.as_str();
        while self.markers.try_recv().is_ok() {}
        self.interrupter.cell_code_next();
        let mut callbacks = EvalCallbacks {
            input_reader: &|request| {
                input(InputPrompt {
                    prompt: request.prompt,
                    password: request.is_password,
                })
                .unwrap_or_else(|| NO_STDIN_REPLY.to_owned())
            },
        };
        let result = self.context.execute_with_callbacks(code, &mut callbacks);
        let ran = matches!(&result, Ok(outputs)
            if outputs.phases.iter().any(|phase| phase.name == "Execution"));
        if ran {
            self.wait_for_cell_output();
        } else {
            // Nothing ran (a compile error, items only, a `:` command alone):
            // compiling is over, and an armed timeline must not wait for the
            // next cell.
            output.running();
            if plan.timeline {
                let _ = self.context.execute(TIMELINE_CANCEL);
            }
        }
        let escalated = self.interrupter.cell_finished().escalated;
        match result {
            Ok(outputs) => CellOutcome::Finished(final_value(outputs)),
            Err(evcxr::Error::CompilationErrors(errors)) => {
                CellOutcome::Failed(compile_error(&errors, code))
            }
            Err(evcxr::Error::SubprocessTerminated(status)) => {
                CellOutcome::Failed(runtime_lost(escalated, &status))
            }
            Err(error) => CellOutcome::Failed(plain_error("Error", &error.to_string())),
        }
    }

    /// Waits until the runtime has said that everything the cell wrote is in
    /// the pipes (its stderr marker may trail evcxr's end of the cell).
    fn wait_for_cell_output(&self) {
        while let Ok(marker) = self.markers.recv_timeout(FINISH_GRACE) {
            if marker == Marker::Finished {
                return;
            }
        }
    }

    fn complete(&mut self, code: &str, cursor: usize) -> Completions {
        let Ok(found) = self.context.completions(code, cursor) else {
            return Completions {
                matches: Vec::new(),
                cursor_start: cursor,
                cursor_end: cursor,
            };
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

    fn inspect(&mut self, code: &str, cursor: usize) -> Option<Inspection> {
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

/// Forwards the runtime's stderr to the pump, keeping its cell markers for the engine.
fn forward_stderr(
    lines: Receiver<String>,
    output: Arc<dyn CellOutput>,
    interrupter: Interrupter,
) -> Receiver<Marker> {
    let (markers, marker_receiver) = crossbeam_channel::unbounded();
    thread::Builder::new()
        .name("runtime-stderr".to_owned())
        .spawn(move || {
            for line in lines {
                match line.as_str() {
                    CELL_STARTED => {
                        // Steps the kernel runs before a cell (attaching the
                        // prelude, arming :timeline) do not end its compiling.
                        if interrupter.code_started() {
                            output.running();
                        }
                        let _ = markers.send(Marker::Started);
                    }
                    INTERRUPT_TAKEN => interrupter.interrupt_taken(),
                    CELL_FINISHED => {
                        let _ = markers.send(Marker::Finished);
                    }
                    _ => output.line(StreamName::Stderr, line),
                }
            }
        })
        .expect("the stderr forwarder starts");
    marker_receiver
}

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

/// Ends a cell whose code will not run because a step of the kernel's
/// failed or refused it: its compiling notice goes, the reason is the error.
fn kernel_step_failed(output: &dyn CellOutput, why: &str) -> CellOutcome {
    output.running();
    CellOutcome::Failed(plain_error("KernelError", why))
}

fn interrupted_before_start() -> ErrorOutput {
    let explanation = "The cell was interrupted before its code started: nothing ran, \
                       and nothing was lost.";
    ErrorOutput {
        ename: "KeyboardInterrupt".to_owned(),
        evalue: explanation.to_owned(),
        traceback: vec![format!("KeyboardInterrupt: {explanation}")],
    }
}

fn plain_error(ename: &str, message: &str) -> ErrorOutput {
    ErrorOutput {
        ename: ename.to_owned(),
        evalue: message.to_owned(),
        traceback: vec![message.to_owned()],
    }
}
