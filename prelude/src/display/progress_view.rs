//! How a [`Progress`](super::Progress) bar looks: one HTML line for the
//! notebook and a tqdm-like text line for consoles, both drawn from a
//! [`Snapshot`] (pure functions: nothing here reads shared memory).

use std::fmt::Write;

/// Where a bar stands, as its shared counter says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Status {
    /// Counting; redrawn as the count moves.
    Running,
    /// `close()` was called: drawn where it stopped, no more redraws.
    Closed,
    /// An interrupt (■) stopped the cell before the bar was full.
    Interrupted,
}

/// What one drawing of a bar shows.
#[derive(Debug, Clone, Copy)]
pub(super) struct Snapshot<'a> {
    pub(super) description: &'a str,
    pub(super) count: u64,
    pub(super) total: u64,
    /// From the bar's creation to now, or to when it finished.
    pub(super) elapsed_seconds: f64,
    pub(super) status: Status,
}

/// Width of the text form's bar, in characters.
const TEXT_WIDTH: usize = 20;

impl Snapshot<'_> {
    /// The fraction done, 0 to 1 (a bar with a total of 0 is full).
    fn fraction(&self) -> f64 {
        if self.total == 0 {
            1.0
        } else {
            (self.count as f64 / self.total as f64).min(1.0)
        }
    }

    /// Whole percent, rounded down as tqdm does (99.9 % is not yet 100 %).
    fn percent(&self) -> u64 {
        (self.fraction() * 100.0).floor() as u64
    }

    /// `n/total [elapsed, rate]`, shared by both forms.
    fn numbers(&self) -> String {
        let rate = if self.elapsed_seconds > 0.0 {
            format_rate(self.count as f64 / self.elapsed_seconds)
        } else {
            "? it/s".to_string()
        };
        format!(
            "{}/{} [{}, {rate}]",
            self.count,
            self.total,
            format_elapsed(self.elapsed_seconds)
        )
    }

    fn mark(&self) -> &'static str {
        match self.status {
            Status::Interrupted => " ■ interrupted",
            Status::Closed | Status::Running => "",
        }
    }
}

/// The notebook's form: description, a bar, `n/total`, percent, elapsed, rate.
pub(super) fn html(snapshot: &Snapshot<'_>) -> String {
    let color = match snapshot.status {
        Status::Interrupted => "#dc2626",
        _ if snapshot.fraction() >= 1.0 => "#16a34a",
        Status::Closed => "#d97706",
        Status::Running => "#2563eb",
    };
    let mut html = String::from(
        "<div style=\"display:flex;align-items:center;gap:0.6em;\
         font-family:monospace;font-size:13px;line-height:1.8\">",
    );
    if !snapshot.description.is_empty() {
        let _ = write!(
            html,
            "<span style=\"min-width:7em\">{}</span>",
            crate::timeline::escape(snapshot.description)
        );
    }
    let _ = write!(
        html,
        "<span style=\"display:inline-block;width:20em;height:1em;background:#e5e7eb;\
         border-radius:3px;overflow:hidden\"><span style=\"display:block;height:100%;\
         width:{:.1}%;background:{color}\"></span></span><span>{:>3}% {}{}</span></div>",
        snapshot.fraction() * 100.0,
        snapshot.percent(),
        snapshot.numbers(),
        snapshot.mark()
    );
    html
}

/// The console's form, tqdm's: `desc: 37%|███████▍            | 37/100 [00:03, 12.3 it/s]`.
pub(super) fn text(snapshot: &Snapshot<'_>) -> String {
    const EIGHTHS: [char; 8] = [' ', '▏', '▎', '▍', '▌', '▋', '▊', '▉'];
    let eighths = (snapshot.fraction() * (TEXT_WIDTH * 8) as f64).floor() as usize;
    let mut bar = "█".repeat(eighths / 8);
    if eighths / 8 < TEXT_WIDTH {
        bar.push(EIGHTHS[eighths % 8]);
    }
    let filled = bar.chars().count();
    bar.extend(std::iter::repeat_n(' ', TEXT_WIDTH - filled));
    let label = if snapshot.description.is_empty() {
        String::new()
    } else {
        format!("{}: ", snapshot.description)
    };
    format!(
        "{label}{:>3}%|{bar}| {}{}",
        snapshot.percent(),
        snapshot.numbers(),
        snapshot.mark()
    )
}

/// `mm:ss`, or `h:mm:ss` past an hour.
fn format_elapsed(seconds: f64) -> String {
    let whole = seconds.max(0.0) as u64;
    let (hours, minutes, seconds) = (whole / 3600, whole / 60 % 60, whole % 60);
    if hours > 0 {
        format!("{hours}:{minutes:02}:{seconds:02}")
    } else {
        format!("{minutes:02}:{seconds:02}")
    }
}

/// Items per second with three significant digits, `k`/`M` for large rates.
fn format_rate(per_second: f64) -> String {
    let (value, unit) = if per_second >= 1e6 {
        (per_second / 1e6, "M")
    } else if per_second >= 1e4 {
        (per_second / 1e3, "k")
    } else {
        (per_second, "")
    };
    let digits = if value >= 100.0 {
        0
    } else if value >= 10.0 {
        1
    } else {
        2
    };
    format!("{value:.digits$}{unit} it/s")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snapshot(count: u64, total: u64, status: Status) -> Snapshot<'static> {
        Snapshot {
            description: "数<质数>",
            count,
            total,
            elapsed_seconds: 3.0,
            status,
        }
    }

    #[test]
    fn the_text_form_is_tqdms() {
        assert_eq!(
            text(&snapshot(37, 100, Status::Running)),
            "数<质数>:  37%|███████▍            | 37/100 [00:03, 12.3 it/s]"
        );
        assert_eq!(
            text(&snapshot(100, 100, Status::Running)),
            "数<质数>: 100%|████████████████████| 100/100 [00:03, 33.3 it/s]"
        );
        assert!(text(&snapshot(37, 100, Status::Interrupted)).ends_with("it/s] ■ interrupted"));
    }

    #[test]
    fn the_html_form_escapes_the_description_and_colours_the_state() {
        let running = html(&snapshot(37, 100, Status::Running));
        assert!(running.contains(">数&lt;质数&gt;</span>"), "{running}");
        assert!(running.contains("width:37.0%"), "{running}");
        assert!(
            running.contains(" 37% 37/100 [00:03, 12.3 it/s]"),
            "{running}"
        );
        let done = html(&snapshot(100, 100, Status::Running));
        assert!(done.contains("#16a34a"), "{done}");
        let stopped = html(&snapshot(37, 100, Status::Interrupted));
        assert!(stopped.contains("#dc2626") && stopped.contains("■ interrupted"));
    }

    #[test]
    fn elapsed_times_and_rates_read_like_tqdms() {
        assert_eq!(format_elapsed(3.7), "00:03");
        assert_eq!(format_elapsed(3725.0), "1:02:05");
        assert_eq!(format_rate(5.0), "5.00 it/s");
        assert_eq!(format_rate(45_600.0), "45.6k it/s");
        assert_eq!(format_rate(2_500_000.0), "2.50M it/s");
        assert_eq!(
            text(&snapshot(0, 0, Status::Running)).split('|').next(),
            Some("数<质数>: 100%")
        );
    }
}
