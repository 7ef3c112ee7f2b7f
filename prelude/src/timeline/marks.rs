//! How each kind of event looks in the `:timeline` picture: the shape and
//! colour of marks and stretches, their CSS classes, the legend, and XML
//! escaping of the texts that go into labels and hover titles.

use std::fmt::Write as _;

use super::svg::WIDTH;
use super::Kind;

/// Whether `kind` is drawn as a stretch (else as a mark).
pub(super) fn is_stretch(kind: Kind) -> bool {
    matches!(
        kind,
        Kind::Sleep
            | Kind::JoinThread
            | Kind::JoinProcess
            | Kind::LockWait
            | Kind::QueueGetWait
            | Kind::QueuePutWait
            | Kind::EventWait
            | Kind::Task
            | Kind::CellEnd
            | Kind::Burst
            | Kind::ResultWait
    )
}

/// Fill, vertical offset from the lane's middle, and height of a stretch.
pub(super) fn stretch_style(kind: Kind) -> (&'static str, f64, f64) {
    match kind {
        Kind::Sleep => ("#94a3b8", -4.0, 12.0),
        Kind::Task => ("#15803d", 5.0, 4.0),
        Kind::Burst => ("#a855f7", -6.0, 5.0),
        Kind::CellEnd => ("#fdba74", -4.0, 12.0),
        _ => ("#f97316", -4.0, 12.0),
    }
}

/// The CSS class (and legend entry) of a kind.
pub(super) fn class_name(kind: Kind) -> &'static str {
    match kind {
        Kind::Sleep => "sleep",
        Kind::JoinThread | Kind::JoinProcess => "join",
        Kind::LockWait => "lock-wait",
        Kind::LockAcquire => "lock-acquire",
        Kind::LockRelease => "lock-release",
        Kind::QueuePut => "queue-put",
        Kind::QueueGet => "queue-get",
        Kind::QueueGetWait | Kind::QueuePutWait => "queue-wait",
        Kind::EventWait => "event-wait",
        Kind::ProcessStart | Kind::ThreadStart => "start",
        Kind::ProcessExit => "exit",
        Kind::Print => "print",
        Kind::Task => "task",
        Kind::CellEnd => "cell-end",
        Kind::Burst => "burst",
        Kind::ResultWait => "result-wait",
    }
}

/// Draws one mark of `shape` at (`x`, lane middle `y`) with hover text `title` (escaped).
pub(super) fn mark(svg: &mut String, shape: &str, x: f64, y: f64, title: &str) {
    let top = y - 9.0;
    let body = match shape {
        "lock-acquire" => format!(
            "<path d=\"M{:.1} {top:.1}h7l-3.5 6z\" fill=\"#0f766e\"/>",
            x - 3.5
        ),
        "lock-release" => format!(
            "<path d=\"M{:.1} {:.1}h7l-3.5 -6z\" fill=\"#dc2626\"/>",
            x - 3.5,
            top + 6.0
        ),
        "print" => format!(
            "<circle cx=\"{x:.1}\" cy=\"{:.1}\" r=\"3\" fill=\"#2563eb\"/>",
            top + 3.0
        ),
        "queue-put" => format!(
            "<rect x=\"{:.1}\" y=\"{top:.1}\" width=\"6\" height=\"6\" fill=\"#7c3aed\"/>",
            x - 3.0
        ),
        "queue-get" => {
            format!("<path d=\"M{x:.1} {top:.1}l3.5 3.5l-3.5 3.5l-3.5 -3.5z\" fill=\"#0891b2\"/>")
        }
        "start" => format!(
            "<path d=\"M{x:.1} {:.1}v12l7 -6z\" fill=\"#111827\"/>",
            y - 6.0
        ),
        "exit" => format!(
            "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"6\" height=\"12\" fill=\"#111827\"/>",
            x - 6.0,
            y - 6.0
        ),
        _ => format!(
            "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"6\" height=\"12\" fill=\"#dc2626\"/>",
            x - 6.0,
            y - 6.0
        ),
    };
    let _ = write!(svg, "<g class=\"{shape}\">{body}<title>{title}</title></g>");
}

/// The key under the picture, and what is missing from it.
pub(super) fn legend(svg: &mut String, y: f64, dropped: u64, hidden: usize) {
    let entries: [(&str, &str); 11] = [
        ("print", "print"),
        ("lock-acquire", "lock acquire"),
        ("lock-release", "lock release"),
        ("queue-put", "queue put"),
        ("queue-get", "queue get"),
        ("start", "start"),
        ("exit", "exit"),
        ("sleep", "sleep"),
        ("wait", "blocked"),
        ("task", "pool task"),
        ("burst", "many, counted"),
    ];
    let mut x = 8.0;
    for (shape, text) in entries {
        let swatch = match shape {
            "sleep" => Some(stretch_style(Kind::Sleep)),
            "wait" => Some(stretch_style(Kind::LockWait)),
            "task" => Some(stretch_style(Kind::Task)),
            "burst" => Some(stretch_style(Kind::Burst)),
            _ => None,
        };
        match swatch {
            Some((fill, _, height)) => {
                let _ = write!(
                    svg,
                    "<rect x=\"{x}\" y=\"{:.1}\" width=\"14\" height=\"{height}\" fill=\"{fill}\"/>",
                    y - height / 2.0
                );
            }
            None => mark(svg, shape, x + 6.0, y + 6.0, text),
        }
        let _ = write!(
            svg,
            "<text x=\"{:.1}\" y=\"{:.1}\" fill=\"#334155\">{text}</text>",
            x + 18.0,
            y + 4.0
        );
        x += 22.0 + 6.5 * text.chars().count() as f64;
    }
    let mut missing = Vec::new();
    if hidden > 0 {
        missing.push(format!("{hidden} more lanes not drawn"));
    }
    if dropped > 0 {
        missing.push(format!("{dropped} events not recorded (no room)"));
    }
    if !missing.is_empty() {
        let _ = write!(
            svg,
            "<text x=\"{:.1}\" y=\"{:.1}\" fill=\"#b91c1c\" text-anchor=\"end\">{}</text>",
            WIDTH - 8.0,
            y - 12.0,
            missing.join(", ")
        );
    }
}

/// `text` with XML's special characters (and control characters) escaped.
pub(crate) fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for character in text.chars() {
        match character {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&apos;"),
            '\t' | '\n' => escaped.push(' '),
            control
                if (control as u32) < 0x20 || control == '\u{fffe}' || control == '\u{ffff}' => {}
            other => escaped.push(other),
        }
    }
    escaped
}
