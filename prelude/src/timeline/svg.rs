//! Draws a recorded cell as one SVG: a time axis, one lane per thread of
//! every process (the runtime's first, then children in the order they
//! started), each lane's life as a pale bar, waits and sleeps as coloured
//! stretches on it and instant events as small marks above it; every
//! element has a `<title>` (what, and its exact time). The picture has its
//! own white background and explicit colours (readable in light and dark
//! themes and in exported HTML), `width="100%"` and a `viewBox`. Where lanes
//! and items go, and how many events stay legible, is `layout`'s; how each
//! kind looks, `marks`'.

use std::fmt::Write as _;

use super::layout::{
    arrange, merge, seconds, Item, Lane, Scale, BUCKET, GAP, PLOT_LEFT, PLOT_RIGHT,
};
use super::marks::{class_name, escape, is_stretch, legend, mark, stretch_style};
use super::recorder::LaneDump;
use super::Kind;

/// Width of the picture in viewBox units.
pub(super) const WIDTH: f64 = 1000.0;
/// Height of one lane, and of the axis above the first.
const LANE: f64 = 24.0;
const TOP: f64 = 34.0;
/// Longest lane label, in characters.
const LABEL_CHARS: usize = 28;

/// The rendered picture and what it holds.
pub(crate) struct Picture {
    pub(crate) svg: String,
    pub(crate) lanes: usize,
    pub(crate) events: u64,
}

/// Draws `dumps`; `runtime` is the pid whose lanes come first, `finished` the end of the cell.
pub(crate) fn render(dumps: Vec<LaneDump>, runtime: u32, finished: u64, dropped: u64) -> Picture {
    let (lanes, hidden) = arrange(dumps, runtime, finished);
    // Every lane's life and every item, as (start, end): the picture spans them all.
    let spans = lanes.iter().flat_map(|lane| {
        std::iter::once((lane.start, lane.end))
            .chain(lane.items.iter().map(|item| (item.start, item.end)))
    });
    let (origin, last) = spans
        .reduce(|(origin, last), (start, end)| (origin.min(start), last.max(end)))
        .unwrap_or((finished, finished));
    let last = last.max(origin + 1_000_000);
    let events: u64 = lanes
        .iter()
        .flat_map(|lane| &lane.items)
        .map(|item| item.count)
        .sum();
    let scale = Scale {
        origin,
        span: (last - origin) as f64,
    };
    let height = TOP + LANE * lanes.len() as f64 + 44.0;
    let mut svg = String::with_capacity(16 << 10);
    let _ = write!(
        svg,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"100%\" viewBox=\"0 0 {WIDTH} {height}\" \
         font-family=\"sans-serif\" font-size=\"11\" role=\"img\">\
         <title>timeline: {} lanes, {events} events, {} s</title>\
         <rect x=\"0\" y=\"0\" width=\"{WIDTH}\" height=\"{height}\" fill=\"#ffffff\" stroke=\"#cbd5e1\"/>",
        lanes.len(),
        seconds(last - origin),
    );
    axis(&mut svg, &scale, height);
    for (row, lane) in lanes.iter().enumerate() {
        let boundary = row > 0 && lanes[row - 1].pid != lane.pid;
        draw_lane(&mut svg, lane, TOP + LANE * row as f64, &scale, boundary);
    }
    legend(&mut svg, height - 16.0, dropped, hidden);
    svg.push_str("</svg>");
    Picture {
        svg,
        lanes: lanes.len(),
        events,
    }
}

fn axis(svg: &mut String, scale: &Scale, height: f64) {
    let step = tick_step(scale.span / 1e9);
    let mut tick = 0.0;
    while tick * 1e9 <= scale.span + 1.0 {
        let x = PLOT_LEFT + tick * 1e9 / scale.span * (PLOT_RIGHT - PLOT_LEFT);
        let _ = write!(
            svg,
            "<line x1=\"{x:.1}\" y1=\"{}\" x2=\"{x:.1}\" y2=\"{}\" stroke=\"#e2e8f0\"/>\
             <text x=\"{x:.1}\" y=\"{}\" fill=\"#334155\" text-anchor=\"middle\">{}</text>",
            TOP - 10.0,
            height - 34.0,
            TOP - 14.0,
            trim_number(tick)
        );
        tick += step;
    }
    let _ = write!(
        svg,
        "<text x=\"8\" y=\"{}\" fill=\"#334155\">time (s)</text>",
        TOP - 14.0
    );
}

/// A round tick interval giving 4 to 10 ticks over `seconds`.
fn tick_step(seconds: f64) -> f64 {
    let mut step = 1e-6;
    for factor in [2.0, 2.5, 2.0].iter().cycle() {
        if seconds / step <= 10.0 {
            return step;
        }
        step *= factor;
    }
    unreachable!("the cycle never ends")
}

fn trim_number(value: f64) -> String {
    let text = format!("{value:.6}");
    let text = text.trim_end_matches('0');
    text.trim_end_matches('.').to_string()
}

fn draw_lane(svg: &mut String, lane: &Lane, top: f64, scale: &Scale, boundary: bool) {
    let middle = top + LANE / 2.0;
    svg.push_str("<g class=\"lane\">");
    if boundary {
        let _ = write!(
            svg,
            "<line x1=\"4\" y1=\"{top}\" x2=\"{}\" y2=\"{top}\" stroke=\"#94a3b8\" stroke-dasharray=\"4 3\"/>",
            WIDTH - 4.0
        );
    }
    let label: String = if lane.name.chars().count() > LABEL_CHARS {
        let mut cut: String = lane.name.chars().take(LABEL_CHARS - 1).collect();
        cut.push('…');
        cut
    } else {
        lane.name.clone()
    };
    let what = if lane.main && lane.name != "MainThread" {
        "process"
    } else {
        "thread"
    };
    let _ = write!(
        svg,
        "<text class=\"lane-label\" x=\"8\" y=\"{:.1}\" fill=\"#0f172a\">{}<title>{what} {} (pid {}): {}–{} s</title></text>",
        middle + 4.0,
        escape(&label),
        escape(&lane.name),
        lane.pid,
        scale.at(lane.start),
        scale.at(lane.end),
    );
    let (left, right) = (
        scale.x(lane.start),
        scale.x(lane.end).max(scale.x(lane.start) + 1.0),
    );
    let _ = write!(
        svg,
        "<rect x=\"{left:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"8\" rx=\"2\" fill=\"#cfe0f3\"><title>{} alive {}–{} s</title></rect>",
        middle - 2.0,
        right - left,
        escape(&lane.name),
        scale.at(lane.start),
        scale.at(lane.end),
    );
    let (stretches, marks): (Vec<&Item>, Vec<&Item>) =
        lane.items.iter().partition(|item| is_stretch(item.kind));
    for item in merge(stretches, scale, GAP, false) {
        let x = scale.x(item.start);
        let width = (scale.x(item.end) - x).max(1.0);
        // A hairline between stretches that follow each other closely.
        let width = if width > 6.0 { width - 1.5 } else { width };
        let (fill, y, height) = stretch_style(item.kind);
        let _ = write!(
            svg,
            "<rect class=\"{}\" x=\"{x:.1}\" y=\"{:.1}\" width=\"{width:.1}\" height=\"{height}\" fill=\"{fill}\"><title>{}</title></rect>",
            class_name(item.kind),
            middle + y,
            describe(&item, scale),
        );
    }
    // Over the stretches, so a sleep that starts with the process does not hide it.
    if lane.main && lane.name != "MainThread" {
        mark(
            svg,
            "start",
            left,
            middle,
            &format!(
                "{} started at {} s",
                escape(&lane.name),
                scale.at(lane.start)
            ),
        );
        if let Some(code) = lane.exit {
            let shape = if code == 0 { "exit" } else { "exit-error" };
            mark(
                svg,
                shape,
                right,
                middle,
                &format!(
                    "{} exited with exit code {code} at {} s",
                    escape(&lane.name),
                    scale.at(lane.end)
                ),
            );
        }
    }
    for item in merge(marks, scale, BUCKET, true) {
        mark(
            svg,
            class_name(item.kind),
            scale.x(item.start),
            middle,
            &describe(&item, scale),
        );
    }
    svg.push_str("</g>");
}

/// `what` followed by the name it is about, or the names (in parentheses)
/// of the `count` merged items it stands for.
fn naming(what: &str, name: &str, count: u64) -> String {
    match (name.is_empty(), count > 1) {
        (true, _) => what.to_string(),
        (false, false) => format!("{what} {name}"),
        (false, true) => format!("{what} ({name})"),
    }
}

/// The hover text of an item (escaped for XML).
fn describe(item: &Item, scale: &Scale) -> String {
    let what = match item.kind {
        Kind::Sleep => "sleep".to_string(),
        Kind::JoinThread => naming("join: waiting for thread", &item.text, item.count),
        Kind::JoinProcess => naming("join: waiting for process", &item.text, item.count),
        Kind::LockWait => "waiting for a lock".to_string(),
        Kind::LockAcquire => "lock acquired".to_string(),
        Kind::LockRelease => "lock released".to_string(),
        Kind::QueuePut => "queue put".to_string(),
        Kind::QueueGet => "queue get".to_string(),
        Kind::QueueGetWait => "queue get: waiting for an item".to_string(),
        Kind::QueuePutWait => "queue put: waiting for room".to_string(),
        Kind::EventWait => "waiting for an Event".to_string(),
        Kind::ProcessStart => naming("start process", &item.text, item.count),
        Kind::ThreadStart => naming("start thread", &item.text, item.count),
        Kind::ProcessExit => "process exit".to_string(),
        Kind::Print if item.text.is_empty() => "printed lines".to_string(),
        Kind::Print => format!("print: {}", item.text),
        Kind::Task => format!("pool task #{}", item.arg),
        Kind::CellEnd => "end of cell: waiting for threads and processes".to_string(),
        Kind::ResultWait => "waiting for a pool task's result".to_string(),
        Kind::Burst => match item.class {
            Some(Kind::LockAcquire) => {
                "lock acquired and released (counted, not drawn one by one)".to_string()
            }
            Some(Kind::Print) => "printed lines (counted, not drawn one by one)".to_string(),
            Some(class) => format!("{} (counted, not drawn one by one)", class_name(class)),
            None => "events".to_string(),
        },
    };
    let when = if item.start == item.end {
        format!("at {} s", scale.at(item.start))
    } else {
        format!("{}–{} s", scale.at(item.start), scale.at(item.end))
    };
    let times = if item.kind == Kind::Burst {
        // Counted in steps (see `Thinning`): about this many.
        format!("≈{} × ", item.count)
    } else if item.count > 1 {
        format!("{} × ", item.count)
    } else {
        String::new()
    };
    escape(&format!("{times}{what}, {when}"))
}
