//! The top-level helpers a tutorial program uses besides processes and
//! threads: `time.sleep`, `time.ctime`, `os.getpid`, `os.getppid`,
//! `random.random`, `random.randint`, `input` and `clear_output`.

use std::sync::atomic::Ordering;

use crate::host::{INPUT_REQUEST, NO_STDIN_REPLY};
use crate::interrupt::{deadline_after, wait_for};
use crate::output::{write_text, Stream};
use crate::state::{state, Role};

/// Sleeps `seconds` (fractions allowed), like Python's `time.sleep`; the
/// notebook's interrupt stops it.
pub fn sleep(seconds: f64) {
    let deadline = deadline_after(seconds);
    crate::timeline::waiting(crate::timeline::Kind::Sleep, String::new, || {
        wait_for(deadline, |slice| {
            std::thread::sleep(slice);
            None::<()>
        })
    });
}

/// The local time as text, like Python's `time.ctime()`: `Fri Nov 27 20:44:19 2026`.
pub fn ctime() -> String {
    // SAFETY: time/localtime_r/strftime get valid pointers to locals.
    unsafe {
        let now = libc::time(std::ptr::null_mut());
        let mut broken_down: libc::tm = std::mem::zeroed();
        libc::localtime_r(&now, &mut broken_down);
        let mut buffer = [0u8; 64];
        let format = c"%a %b %e %H:%M:%S %Y";
        let length = libc::strftime(
            buffer.as_mut_ptr().cast(),
            buffer.len(),
            format.as_ptr(),
            &broken_down,
        );
        String::from_utf8_lossy(&buffer[..length]).into_owned()
    }
}

/// This process's id, like Python's `os.getpid()`.
pub fn getpid() -> u32 {
    std::process::id()
}

/// The parent process's id, like Python's `os.getppid()`.
pub fn getppid() -> u32 {
    // SAFETY: getppid has no preconditions.
    unsafe { libc::getppid() as u32 }
}

/// A random number in `[0, 1)`, like Python's `random.random()`; every new
/// process gets a new seed, so children differ.
pub fn random() -> f64 {
    (next_random() >> 11) as f64 / (1u64 << 53) as f64
}

/// A random integer `a <= n <= b`, like Python's `random.randint(a, b)`.
pub fn randint(a: i64, b: i64) -> i64 {
    assert!(a <= b, "empty range for randint({a}, {b})");
    let span = (b as i128 - a as i128 + 1) as u128;
    (a as i128 + (next_random() as u128 % span) as i128) as i64
}

/// The next value of the process-wide splitmix64 generator.
fn next_random() -> u64 {
    let mut mixed = state()
        .random_state
        .fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed);
    mixed = (mixed ^ (mixed >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    mixed = (mixed ^ (mixed >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    mixed ^ (mixed >> 31)
}

/// Asks the notebook user for a line of text, like Python's `input(prompt)`;
/// the answer comes back without its newline.
pub fn input(prompt: &str) -> String {
    if state().role != Role::Runtime {
        panic!("input() cannot be used in a child process: its stdin is /dev/null (Python raises EOFError there)");
    }
    let prompt = prompt.replace('\n', " ");
    write_text(Stream::Stdout, &format!("{INPUT_REQUEST}:{prompt}\n"));
    let mut answer = String::new();
    // std's stdin is the runtime's command channel; its buffer is shared with evcxr.
    match std::io::stdin().read_line(&mut answer) {
        Ok(0) | Err(_) => panic!("input(): no input is available (EOFError)"),
        Ok(_) => {}
    }
    let answer = answer.strip_suffix('\n').unwrap_or(&answer);
    let answer = answer.strip_suffix('\r').unwrap_or(answer);
    // The kernel gives up waiting for the answer when the cell is
    // interrupted: that is a KeyboardInterrupt, not a missing frontend.
    crate::interrupt::check_interrupt();
    if answer == NO_STDIN_REPLY {
        panic!("input() is not available here: this notebook frontend does not accept input (StdinNotImplementedError)");
    }
    answer.to_string()
}

/// Clears the cell's output at once, like IPython's `clear_output()`
/// (`display::clear_output(true)` waits for the next output).
pub fn clear_output() {
    crate::display::clear_output(false);
}
