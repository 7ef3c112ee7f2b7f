//! The live-process budget's size: [`MAX_LIVE_PROCESSES`], or what the
//! teacher's [`MAX_PROCESSES_VARIABLE`] asks for (`State` keeps the count).

/// Most processes (children and pool workers) one process may have alive at
/// once: a fork storm becomes a clear error instead of a frozen machine.
pub(crate) const MAX_LIVE_PROCESSES: usize = 256;

/// The variable a teacher (or a spawner's `environment`) sets to change
/// [`MAX_LIVE_PROCESSES`] for one kernel: on a shared machine each learner's
/// fork storm should end well before the machine's own `ulimit -u`.
pub(crate) const MAX_PROCESSES_VARIABLE: &str = "MULTITASK_MAX_PROCESSES";

/// The live-process limit `value` (the variable's text, if set) asks for:
/// unset or blank is the default; anything but a whole number from 1 up is
/// refused with the reason, so the caller can say so and keep the default.
pub(crate) fn process_limit_from(value: Option<&std::ffi::OsStr>) -> Result<usize, String> {
    let Some(value) = value else {
        return Ok(MAX_LIVE_PROCESSES);
    };
    let text = value
        .to_str()
        .map(str::trim)
        .ok_or_else(|| format!("{MAX_PROCESSES_VARIABLE} is not valid UTF-8 ({value:?})"))?;
    if text.is_empty() {
        return Ok(MAX_LIVE_PROCESSES);
    }
    match text.parse::<usize>() {
        Ok(0) => Err(format!(
            "{MAX_PROCESSES_VARIABLE}=0 would refuse every process; it must be 1 or more"
        )),
        Ok(limit) => Ok(limit),
        Err(_) => Err(format!(
            "{MAX_PROCESSES_VARIABLE}={text:?} is not a whole number of processes"
        )),
    }
}

/// The runtime's limit, read once from the environment; a bad value is said
/// on stderr (the kernel shows it under the cell) and the default is kept,
/// since a typo in a spawner's settings must not stop every learner's cells.
pub(super) fn runtime_process_limit() -> usize {
    process_limit_from(std::env::var_os(MAX_PROCESSES_VARIABLE).as_deref()).unwrap_or_else(
        |reason| {
            eprintln!(
                "multitask-kernel: {reason}; using the default of {MAX_LIVE_PROCESSES} live processes"
            );
            MAX_LIVE_PROCESSES
        },
    )
}

#[cfg(test)]
mod tests {
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;

    use super::{process_limit_from, MAX_LIVE_PROCESSES};

    #[test]
    fn unset_or_blank_is_the_default() {
        assert_eq!(process_limit_from(None), Ok(MAX_LIVE_PROCESSES));
        assert_eq!(
            process_limit_from(Some(OsStr::new(" "))),
            Ok(MAX_LIVE_PROCESSES)
        );
    }

    #[test]
    fn a_whole_number_is_the_limit() {
        assert_eq!(process_limit_from(Some(OsStr::new("3"))), Ok(3));
        assert_eq!(process_limit_from(Some(OsStr::new(" 1000\n"))), Ok(1000));
    }

    #[test]
    fn anything_else_is_refused_with_the_reason() {
        for (value, reason) in [
            ("0", "must be 1 or more"),
            ("-4", "is not a whole number"),
            ("ten", "is not a whole number"),
            ("2.5", "is not a whole number"),
            ("99999999999999999999999", "is not a whole number"),
        ] {
            let refusal = process_limit_from(Some(OsStr::new(value))).unwrap_err();
            assert!(refusal.contains("MULTITASK_MAX_PROCESSES"), "{refusal}");
            assert!(refusal.contains(reason), "{value}: {refusal}");
        }
        let not_utf8 = process_limit_from(Some(OsStr::from_bytes(b"\xff"))).unwrap_err();
        assert!(not_utf8.contains("not valid UTF-8"), "{not_utf8}");
    }
}
