//! Starting a session: the runtime subprocess, evcxr's context and
//! settings, and the prelude loaded into it.
//!
//! The runtime is this binary (evcxr re-runs it in that role, see
//! [`subprocess_hook`]), started in its own process group so that one `kill`
//! ends it and every process a cell forked, with `LD_LIBRARY_PATH` pointing
//! at the toolchain's `libstd`. Its stdout goes straight to the cell output;
//! its stderr through the marker forwarder.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use evcxr::{CommandContext, EvalContext};

use super::analyzer_std::AnalyzerStd;
use super::known_types::KnownTypes;
use super::markers;
use super::prelude_extern;
use super::rustc_types::Askings;
use super::session::{Repair, Session};
use crate::engine::Interrupter;
use crate::ports::CellOutput;
use crate::runtime::KERNEL_PID_ENV;
use crate::seed::Seed;

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

/// What ties the prelude to a new runtime.
pub(super) const ATTACH: &str = "multitask::attach();";

/// Set by evcxr when it runs this binary as its rustc wrapper (evcxr's
/// `runtime::WRAP_RUSTC_ENV`).
const RUSTC_WRAPPER_ENV: &str = "EVCXR_RUSTC_WRAPPER";

/// Where the engine finds things.
pub struct EngineSetup {
    /// The unpacked prelude crate.
    pub prelude_dir: PathBuf,
    /// evcxr's work directory (the kernel's work slot).
    pub work_dir: PathBuf,
    /// The install's seed, copied into the work slot before evcxr starts
    /// (here, in the engine's thread, so `kernel_info` need not wait for it).
    pub seed: Option<Seed>,
    /// Receives the runtime's output from the first moment.
    pub output: Arc<dyn CellOutput>,
    /// The standard library's sources rust-analyzer is shown once a cell
    /// needs them, through the link `RUST_SRC_PATH` names
    /// ([`super::analyzer_std`]); `None`: it reads what it finds from the start.
    pub std_library: Option<PathBuf>,
}

/// Calls the binary makes before anything else, when evcxr runs it as a helper.
pub fn subprocess_hook() {
    // Our own runtime loop has already taken over if this is the runtime;
    // what is left for evcxr here is its rustc wrapper, which for a cell's
    // compile is ours (it does not return then).
    if std::env::var_os(RUSTC_WRAPPER_ENV).is_some() {
        super::cell_cache::serve_cell_compile();
        crate::cache::lock_evcxr_cache_for_this_compile();
    }
    evcxr::runtime_hook();
}

/// Whether a session's builds use evcxr's compile cache shared by all kernels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CompileCache {
    Shared,
    /// Everything built in the work slot, for a second try after a failure.
    Off,
}

impl Session {
    /// A session with the prelude loaded, or why there can be none.
    pub(super) fn launch(setup: &EngineSetup, interrupter: Interrupter) -> anyhow::Result<Session> {
        if let Some(seed) = &setup.seed {
            seed.plant(&setup.work_dir)?;
        }
        Session::start(setup, interrupter.clone(), CompileCache::Shared).or_else(|first_error| {
            // A slot a killed or older kernel left half-built fails the same
            // way every time: build it again from nothing, once.
            eprintln!("multitask-kernel: loading the prelude failed ({first_error:#}); rebuilding its work directory");
            crate::cache::WorkSlot::empty(&setup.work_dir);
            Session::start(setup, interrupter, CompileCache::Off)
        })
    }

    fn start(
        setup: &EngineSetup,
        interrupter: Interrupter,
        compile_cache: CompileCache,
    ) -> anyhow::Result<Session> {
        let analyzer_std = AnalyzerStd::stubbed(&setup.work_dir, setup.std_library.as_deref())?;
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
        let markers = markers::forward_stderr(
            outputs.stderr,
            Arc::clone(&setup.output),
            interrupter.clone(),
        );
        let prelude_path = setup.prelude_dir.display().to_string();
        // A slot whose prelude is built links it without the `:dep` until
        // the analyzer is shown the real standard library (and with it the
        // prelude): the analyzer then skips ~2 s of work at launch.
        let prelude_dep_deferred = analyzer_std.is_stub()
            && compile_cache == CompileCache::Shared
            && prelude_extern::prebuilt(&setup.work_dir, &setup.prelude_dir);
        let mut session = Session {
            context: CommandContext::with_eval_context(eval_context),
            markers,
            interrupter,
            runtime_pid: 0,
            prelude_dep: format!(":dep multitask = {{ path = {prelude_path:?} }}"),
            prelude_dep_deferred,
            prelude_use: format!("{PRELUDE_IMPORTS}\n{ATTACH}"),
            // The same dependency spelt differently: it changes the cell
            // crate's `Cargo.toml` (so the analyzer reloads its workspace)
            // and nothing cargo builds.
            workspace_reload: format!(":dep multitask = {{path = {prelude_path:?}}}"),
            analyzer_std,
            known_types: KnownTypes::new(
                &setup.work_dir,
                &[
                    setup.prelude_dir.as_os_str(),
                    setup
                        .std_library
                        .as_deref()
                        .map_or(std::ffi::OsStr::new(""), Path::as_os_str),
                ],
            ),
            rustc_askings: Askings::default(),
            repair: Repair::Nothing,
        };
        session.note_runtime_pid();
        // evcxr ran a cell of its own while making the context (`42`): its
        // markers are taken now, so that each later step waits for its own.
        session.wait_for_cell_output();
        let cache_mib = match compile_cache {
            CompileCache::Shared => CACHE_MIB,
            CompileCache::Off => 0,
        };
        // `:clear` keeps these settings, so they are not part of `prelude_load`.
        let settings = format!(":opt {OPT_LEVEL}\n:cache {cache_mib}\n");
        session
            .run_kernel_step(&format!("{settings}{}", session.prelude_load()))
            .map_err(|error| anyhow::anyhow!("loading the prelude failed: {error}"))?;
        Ok(session)
    }
}

/// The directory holding the toolchain's `libstd-*.so`.
fn rust_library_dir() -> anyhow::Result<PathBuf> {
    let (Some(sysroot), Some(target)) = (
        crate::std_sources::sysroot(),
        crate::std_sources::host_tuple(),
    ) else {
        anyhow::bail!("`rustc --print sysroot --print host-tuple` gave no sysroot or host");
    };
    Ok(sysroot.join("lib/rustlib").join(target).join("lib"))
}

/// `LD_LIBRARY_PATH` with `dir` in front of what the kernel inherited.
fn library_path_with(dir: &Path) -> std::ffi::OsString {
    let mut paths = vec![dir.to_path_buf()];
    if let Some(inherited) = std::env::var_os("LD_LIBRARY_PATH") {
        paths.extend(std::env::split_paths(&inherited));
    }
    std::env::join_paths(paths).unwrap_or_else(|_| dir.as_os_str().to_owned())
}

/// The version of `rustc` on the PATH, e.g. `1.95.0`.
pub(super) fn rustc_version() -> String {
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
