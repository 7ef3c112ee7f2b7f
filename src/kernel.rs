//! Wiring: one kernel process from its connection file to shutdown.
//!
//! Order matters here. The work slot is claimed and announced to evcxr
//! (`EVCXR_TMPDIR`) before any thread starts, since the environment may only
//! be changed while the process is single-threaded. Then the output pump, the
//! engine (which warms up in the background) and the socket threads start;
//! `kernel_info` is answered at once while the engine is still warming up.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context as _;
use jupyter_protocol::ConnectionInfo;
use signal_hook::consts::SIGINT;
use signal_hook::iterator::Signals;

use crate::cache;
use crate::cell::CodeCell;
use crate::dispatch::{ControlHandler, KernelIdentity, ShellHandler};
use crate::engine::evcxr::{analyzer_sources_path, EngineSetup, EvcxrEngine};
use crate::engine::{Engine, Interrupter};
use crate::ports::{CellOutput, Publisher};
use crate::pump::OutputPump;
use crate::seed::{self, Seed};
use crate::std_sources;
use crate::transport::{IopubQueue, Sockets, StdinQueue};

/// Puts the toolchain's own `bin/` before the rest of `PATH`, before any
/// thread starts: rust-analyzer and cargo start `rustc` and `cargo` a dozen
/// times when the analyzer loads its workspace, each through rustup's proxy
/// (~25 ms a run) unless the toolchain's binaries come first. The toolchain
/// is the one rustup chose at the kernel's start, as each proxy run would.
fn put_toolchain_first_on_path() {
    let Some(bin) = std_sources::sysroot().map(|sysroot| sysroot.join("bin")) else {
        return;
    };
    if !bin.join("rustc").is_file() {
        return;
    }
    let inherited = std::env::var_os("PATH").unwrap_or_default();
    let paths = std::iter::once(bin).chain(std::env::split_paths(&inherited));
    if let Ok(path) = std::env::join_paths(paths) {
        std::env::set_var("PATH", path);
    }
}

/// Serves the kernel described by `connection_file` until a shutdown request.
pub fn run(connection_file: &Path) -> anyhow::Result<()> {
    let connection_text = std::fs::read_to_string(connection_file)
        .with_context(|| format!("reading {}", connection_file.display()))?;
    let connection: ConnectionInfo = serde_json::from_str(&connection_text)
        .with_context(|| format!("parsing {}", connection_file.display()))?;

    let seed = Seed::beside_this_binary();
    let slot = cache::claim_work_slot(seed.as_ref())?;
    std::env::set_var("EVCXR_TMPDIR", &slot.dir);
    // Also before any thread starts: evcxr's rust-analyzer reads it. It
    // names a link the engine points at the trimmed sources once a cell
    // needs them (engine/evcxr/analyzer_std.rs).
    let mut std_library = None;
    if std::env::var_os(std_sources::SOURCES_ENV).is_none() {
        let seed_dir = seed.as_ref().map(Seed::dir);
        std_library = std_sources::trimmed_library(seed_dir, &cache::cache_root());
        if std_library.is_some() {
            std::env::set_var(std_sources::SOURCES_ENV, analyzer_sources_path(&slot.dir));
        }
    }
    put_toolchain_first_on_path();
    let prelude = cache::prelude_dir(seed.as_ref())?;
    // Only disk work, possibly hundreds of MiB: not in the first cell's way.
    std::thread::Builder::new()
        .name("cache-cleanup".to_owned())
        .spawn(|| seed::remove_slots_of_gone_seeds(&cache::work_root()))
        .context("starting the cache cleanup")?;

    let sockets = Sockets::new(connection)?;
    let (iopub_queue, iopub_messages) = IopubQueue::channel();
    let publisher: Arc<dyn Publisher> = Arc::new(iopub_queue);
    let (stdin_queue, input_requests) = StdinQueue::channel();
    let output: Arc<dyn CellOutput> = Arc::new(OutputPump::start(Arc::clone(&publisher)));
    let engine = EvcxrEngine::start(EngineSetup {
        prelude_dir: prelude.dir.clone(),
        work_dir: slot.dir.clone(),
        seed,
        output: Arc::clone(&output),
        std_library,
    });
    let interrupter = engine.interrupter();
    forward_sigint(interrupter.clone())?;
    exit_with_launcher(interrupter.clone())?;

    let identity = KernelIdentity {
        rust_version: engine.rust_version(),
    };
    let control = ControlHandler::new(
        interrupter.clone(),
        identity.clone(),
        Arc::clone(&publisher),
    );
    let shell = ShellHandler::new(engine, identity, publisher, output, Arc::new(stdin_queue));
    let served = sockets.serve(shell, control, iopub_messages, input_requests);
    interrupter.kill_runtime();
    drop((slot, prelude));
    served
}

/// Jupyter may interrupt by sending SIGINT to the kernel (`interrupt_mode:
/// signal`): treat it exactly like an `interrupt_request`.
fn forward_sigint(interrupter: Interrupter) -> anyhow::Result<()> {
    let mut signals = Signals::new([SIGINT]).context("listening for SIGINT")?;
    std::thread::Builder::new()
        .name("sigint".to_owned())
        .spawn(move || {
            for _ in signals.forever() {
                interrupter.interrupt();
            }
        })?;
    Ok(())
}

/// Ends the kernel when the process that launched it (the Jupyter server)
/// dies without shutting it down, as ipykernel's parent poller does: nothing
/// else would ever stop it.
fn exit_with_launcher(interrupter: Interrupter) -> anyhow::Result<()> {
    // SAFETY: getppid has no preconditions.
    let launcher = unsafe { libc::getppid() };
    std::thread::Builder::new()
        .name("launcher-watch".to_owned())
        .spawn(move || loop {
            std::thread::sleep(std::time::Duration::from_millis(500));
            // SAFETY: as above.
            if unsafe { libc::getppid() } != launcher {
                interrupter.kill_runtime();
                std::process::exit(0);
            }
        })?;
    Ok(())
}

/// Compiles the prelude in `prelude_dir` into the work directory `work_dir`
/// by running cells there (install builds its seed with it). Call it while
/// the process has no other thread: it sets `EVCXR_TMPDIR` (and the
/// analyzer's `RUST_SRC_PATH`).
pub fn warm_up(prelude_dir: &Path, work_dir: &Path) -> anyhow::Result<()> {
    std::env::set_var("EVCXR_TMPDIR", work_dir);
    // The analyzer on the stub, as in a learner's kernel, so that the
    // variable below has its type named by rustc in a check: the seed then
    // holds the prelude checked as well as built, which each learner's
    // first such check would otherwise pay (engine/evcxr/rustc_types.rs).
    let std_library = std_sources::toolchain_library();
    if std_library.is_some() {
        std::env::set_var(std_sources::SOURCES_ENV, analyzer_sources_path(work_dir));
    }
    let (iopub_queue, messages) = IopubQueue::channel();
    let output: Arc<dyn CellOutput> = Arc::new(OutputPump::start(Arc::new(iopub_queue)));
    let mut engine = EvcxrEngine::start(EngineSetup {
        prelude_dir: prelude_dir.to_path_buf(),
        work_dir: work_dir.to_path_buf(),
        seed: None,
        output: Arc::clone(&output),
        std_library,
    });
    let mut outcome = engine.execute(
        CodeCell::parse("getpid();"),
        Arc::clone(&output),
        Box::new(|_| None),
    );
    if matches!(outcome, crate::engine::CellOutcome::Finished(_)) {
        outcome = engine.execute(
            CodeCell::parse("let seeded = getpid();"),
            output,
            Box::new(|_| None),
        );
    }
    drop(messages);
    engine.interrupter().kill_runtime();
    match outcome {
        crate::engine::CellOutcome::Finished(_) => Ok(()),
        crate::engine::CellOutcome::Failed(error) => {
            anyhow::bail!("warming up failed: {}", error.traceback.join("\n"))
        }
    }
}
