//! The Rust runtime process: our side of evcxr's runtime protocol.
//!
//! evcxr runs cells in a subprocess that re-executes this binary with
//! `EVCXR_IS_RUNTIME` set, sends it `LOAD_AND_RUN <library> <function>` lines
//! on stdin and waits for `EVCXR_EXECUTION_COMPLETE` on stdout. We answer that
//! protocol ourselves instead of calling evcxr's loop, because the runtime has
//! to do three things evcxr's does not: own the prelude's [`Host`] block (one
//! per process, exported as a dynamic symbol), turn SIGINT into a flag the
//! prelude polls (so an interrupt unwinds the cell and keeps its variables),
//! and run the prelude's cell-end hook before reporting the cell complete (so
//! children joined there still stream into their cell).
//!
//! A guardian process watches the runtime, so nothing a cell started outlives
//! it (see [`start_group_guardian`]).
//!
//! This module never imports evcxr and never touches sockets; it runs before
//! anything else in `main`, in a process that has no threads yet.

use std::ffi::{c_void, CString};
use std::io::{BufRead, Write};
use std::sync::atomic::Ordering;

use multitask::host::Host;

/// Set by evcxr in the environment of the runtime subprocess it starts.
const RUNTIME_ENV: &str = "EVCXR_IS_RUNTIME";

/// Set by the kernel to its own pid for the runtime it starts, so the
/// runtime can tell whether the kernel died before PDEATHSIG was armed.
pub const KERNEL_PID_ENV: &str = "MULTITASK_KERNEL_PID";

/// What evcxr waits for on stdout after each `LOAD_AND_RUN`.
const EXECUTION_COMPLETE: &str = "EVCXR_EXECUTION_COMPLETE";

/// Written on stderr when a cell's compiled code starts running.
pub const CELL_STARTED: &str = "\u{1e}multitask-runtime:cell-started";

/// Written on stderr after a cell and its end-of-cell work are done, before
/// the cell is reported complete: everything the cell wrote is in the pipes.
pub const CELL_FINISHED: &str = "\u{1e}multitask-runtime:cell-finished";

/// The one [`Host`] block of this process. Exported under
/// [`multitask::host::HOST_SYMBOL`] (`build.rs` puts it in the binary's
/// dynamic symbol table), where every cell's copy of the prelude finds it.
#[export_name = "multitask_host"]
static HOST: Host = Host::new();

/// Becomes the runtime and never returns when this process was started as one.
pub fn run_if_runtime() {
    if std::env::var_os(RUNTIME_ENV).is_none() {
        return;
    }
    die_with_parent();
    start_group_guardian();
    install_interrupt_flag();
    std::process::exit(serve_cells());
}

/// The runtime must not outlive the kernel, however the kernel ends.
fn die_with_parent() {
    let kernel_pid = std::env::var(KERNEL_PID_ENV)
        .ok()
        .and_then(|pid| pid.parse::<libc::pid_t>().ok());
    std::env::remove_var(KERNEL_PID_ENV);
    // SAFETY: plain prctl/getppid calls with valid arguments.
    unsafe {
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
        // The kernel may have died before PDEATHSIG was armed. Its orphans go
        // to a subreaper (a container's init, a systemd user session), not
        // always to pid 1: compare with the kernel's own pid.
        if kernel_pid.is_some_and(|kernel| libc::getppid() != kernel) {
            libc::_exit(1);
        }
    }
}

/// Forks a guardian that outlives this runtime just long enough to kill its
/// whole process group.
///
/// Processes a cell starts with `std::process::Command` do not die with
/// their parent on their own. When the runtime dies, however it dies (the
/// kernel killed by `kill -9` takes the runtime with it through
/// PDEATHSIG), the guardian is told by its own PDEATHSIG and kills every
/// process left in the group, itself last.
fn start_group_guardian() {
    // SAFETY: fork in a single-threaded process; the child only calls
    // async-signal-safe functions before it exits.
    unsafe {
        let mut parent_death: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut parent_death);
        libc::sigaddset(&mut parent_death, libc::SIGUSR1);
        let runtime_pid = libc::getpid();
        if libc::fork() != 0 {
            return;
        }
        libc::sigprocmask(libc::SIG_BLOCK, &parent_death, std::ptr::null_mut());
        libc::signal(libc::SIGINT, libc::SIG_IGN);
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGUSR1);
        // Still the runtime's child: wait for it to die (a subreaper, not
        // only pid 1, may have adopted us if it is gone already).
        if libc::getppid() == runtime_pid {
            let mut received: libc::c_int = 0;
            libc::sigwait(&parent_death, &mut received);
        }
        libc::kill(0, libc::SIGKILL);
        libc::_exit(0);
    }
}

extern "C" fn on_sigint(_signal: libc::c_int) {
    // Only an atomic store: async-signal-safe.
    HOST.interrupted.store(true, Ordering::SeqCst);
}

fn install_interrupt_flag() {
    // SAFETY: installs a handler that only stores to an atomic.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = on_sigint as *const () as libc::sighandler_t;
        action.sa_flags = libc::SA_RESTART;
        libc::sigemptyset(&mut action.sa_mask);
        libc::sigaction(libc::SIGINT, &action, std::ptr::null_mut());
    }
}

/// Runs cells until evcxr closes our stdin; returns the exit code.
fn serve_cells() -> i32 {
    let mut variable_store: *mut c_void = std::ptr::null_mut();
    let stdin = std::io::stdin();
    let mut line = String::new();
    loop {
        line.clear();
        match stdin.lock().read_line(&mut line) {
            Ok(0) => return 0,
            Ok(_) => {}
            Err(error) => {
                eprintln!("multitask runtime: cannot read commands: {error}");
                return 99;
            }
        }
        let Some((library, function)) = parse_load_and_run(line.trim_end()) else {
            eprintln!("multitask runtime: unrecognised command {line:?}");
            return 99;
        };
        match run_cell(library, function, variable_store) {
            Ok(store) => variable_store = store,
            Err(message) => {
                eprintln!("multitask runtime: {message}");
                return 99;
            }
        }
    }
}

fn parse_load_and_run(line: &str) -> Option<(&str, &str)> {
    let mut words = line.strip_prefix("LOAD_AND_RUN ")?.split(' ');
    let library = words.next()?;
    let function = words.next()?;
    Some((library, function))
}

type CellFunction = extern "C" fn(*mut c_void) -> *mut c_void;

fn run_cell(library: &str, function: &str, store: *mut c_void) -> Result<*mut c_void, String> {
    let cell_function = load(library, function)?;
    HOST.interrupted.store(false, Ordering::SeqCst);
    HOST.cell.fetch_add(1, Ordering::SeqCst);
    eprintln!("{CELL_STARTED}");
    let store = cell_function(store);
    if let Some(cell_end) = HOST.cell_end_hook() {
        cell_end();
    }
    eprintln!("{CELL_FINISHED}");
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{EXECUTION_COMPLETE}")
        .and_then(|()| stdout.flush())
        .map_err(|error| format!("cannot report completion: {error}"))?;
    Ok(store)
}

/// Opens a cell's library (never closed: its code and statics live on) and finds its entry point.
fn load(library: &str, function: &str) -> Result<CellFunction, String> {
    let library_path = CString::new(library).map_err(|_| "library path has a NUL".to_owned())?;
    let function_name = CString::new(function).map_err(|_| "function has a NUL".to_owned())?;
    // SAFETY: dlopen/dlsym with valid C strings; the symbol is the
    // `extern "C" fn(*mut c_void) -> *mut c_void` evcxr generates for each cell.
    unsafe {
        let handle = libc::dlopen(library_path.as_ptr(), libc::RTLD_LAZY | libc::RTLD_LOCAL);
        if handle.is_null() {
            return Err(format!("cannot load {library}: {}", dl_error()));
        }
        let symbol = libc::dlsym(handle, function_name.as_ptr());
        if symbol.is_null() {
            return Err(format!("{function} not found in {library}: {}", dl_error()));
        }
        Ok(std::mem::transmute::<*mut c_void, CellFunction>(symbol))
    }
}

fn dl_error() -> String {
    // SAFETY: dlerror returns null or a valid C string owned by libc.
    unsafe {
        let message = libc::dlerror();
        if message.is_null() {
            "unknown error".to_owned()
        } else {
            std::ffi::CStr::from_ptr(message)
                .to_string_lossy()
                .into_owned()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::parse_load_and_run;

    #[test]
    fn load_and_run_lines_are_parsed() {
        assert_eq!(
            parse_load_and_run("LOAD_AND_RUN /tmp/x/libcode_3.so run_user_code_3"),
            Some(("/tmp/x/libcode_3.so", "run_user_code_3"))
        );
        assert_eq!(parse_load_and_run("SOMETHING else"), None);
        assert_eq!(parse_load_and_run("LOAD_AND_RUN only-one"), None);
    }
}
