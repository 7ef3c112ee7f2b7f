//! Draws a recorded cell as one SVG: a time axis, one lane per thread of
//! every process (the runtime's first, then children in the order they
//! started), each lane's life as a pale bar, waits and sleeps as coloured
//! stretches on it and instant events as small marks above it; every
//! element has a `<title>` (what, and its exact time). The picture has its
//! own white background and explicit colours (readable in light and dark
//! themes and in exported HTML), `width="100%"` and a `viewBox`. Many events
//! stay legible: marks of one kind falling within [`BUCKET`] units of each
//! other on a lane merge into one (its title counts them), as do stretches
//! of one kind closer than [`GAP`].

use std::collections::HashMap;
use std::fmt::Write as _;

use super::marks::{class_name, escape, is_stretch, legend, mark, stretch_style};
use super::recorder::LaneDump;
use super::Kind;

/// Width of the picture in viewBox units.
pub(super) const WIDTH: f64 = 1000.0;
/// Where the plot area starts and ends.
const PLOT_LEFT: f64 = 190.0;
const PLOT_RIGHT: f64 = 985.0;
/// Height of one lane, and of the axis above the first.
const LANE: f64 = 24.0;
const TOP: f64 = 34.0;
/// Marks of one kind closer than this (units) on a lane merge.
pub(crate) const BUCKET: f64 = 3.0;
/// Stretches of one kind closer than this (units) merge, if one is thin.
pub(crate) const GAP: f64 = 1.0;
/// Stretches narrower than this (units) are thin.
const THIN_STRETCH: f64 = 3.0;
/// Most lanes drawn; the rest are counted under the picture.
const MAX_DRAWN: usize = 64;
/// Longest lane label, in characters.
const LABEL_CHARS: usize = 28;

/// The rendered picture and what it holds.
pub(crate) struct Picture {
    pub(crate) svg: String,
    pub(crate) lanes: usize,
    pub(crate) events: u64,
}

/// One thing drawn (possibly several merged): kind, first and last time, how many.
#[derive(Debug, Clone)]
struct Item {
    kind: Kind,
    class: Option<Kind>,
    start: u64,
    end: u64,
    count: u64,
    /// A process's exit code (for `ProcessExit`).
    code: i32,
    text: String,
    arg: i64,
}

/// A lane ready to draw.
struct Lane {
    pid: u32,
    main: bool,
    name: String,
    start: u64,
    end: u64,
    exit: Option<i32>,
    items: Vec<Item>,
}

/// Draws `dumps`; `runtime` is the pid whose lanes come first, `finished` the end of the cell.
pub(crate) fn render(dumps: Vec<LaneDump>, runtime: u32, finished: u64, dropped: u64) -> Picture {
    // Thread starts and joins name the lane they are about by its number.
    let names: Vec<String> = dumps.iter().map(|dump| dump.name.clone()).collect();
    let mut lanes: Vec<Lane> = dumps
        .into_iter()
        .map(|dump| lane(dump, finished, &names))
        .collect();
    // A reaped child's lane ends where its parent saw it end, with that exit code.
    let main_lanes: HashMap<u32, usize> = lanes
        .iter()
        .enumerate()
        .filter(|(_, lane)| lane.main)
        .map(|(index, lane)| (lane.pid, index))
        .collect();
    let exits: Vec<(u32, u64, i32)> = lanes
        .iter()
        .flat_map(|lane| &lane.items)
        .filter(|item| item.kind == Kind::ProcessExit)
        .map(|item| (item.arg as u32, item.start, item.code))
        .collect();
    for (pid, time, code) in exits {
        if let Some(&index) = main_lanes.get(&pid) {
            let child = &mut lanes[index];
            if child.exit.is_none() {
                child.exit = Some(code);
                child.end = child.end.min(time);
            }
        }
    }
    for lane in &mut lanes {
        lane.items.retain(|item| item.kind != Kind::ProcessExit);
    }
    let mut process_starts: HashMap<u32, u64> = HashMap::new();
    for lane in &lanes {
        process_starts
            .entry(lane.pid)
            .and_modify(|start| *start = (*start).min(lane.start))
            .or_insert(lane.start);
    }
    let keys: Vec<_> = lanes
        .iter()
        .map(|lane| {
            (
                lane.pid != runtime,
                process_starts[&lane.pid],
                lane.pid,
                !lane.main,
                lane.start,
            )
        })
        .collect();
    let mut order: Vec<usize> = (0..lanes.len()).collect();
    order.sort_by_key(|&index| keys[index]);
    let lanes: Vec<Lane> = {
        let mut slots: Vec<Option<Lane>> = lanes.into_iter().map(Some).collect();
        order
            .iter()
            .filter_map(|&index| slots[index].take())
            .collect()
    };
    let hidden = lanes.len().saturating_sub(MAX_DRAWN);
    let mut lanes = lanes;
    lanes.truncate(MAX_DRAWN);
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

/// Turns a dump into a lane: records become items, sorted and merged; a
/// thread start or join without text names the lane its argument numbers.
fn lane(dump: LaneDump, finished: u64, names: &[String]) -> Lane {
    let mut items: Vec<Item> = dump
        .records
        .into_iter()
        .filter_map(|(record, text)| {
            let kind = Kind::from_u8(record.kind)?;
            let names_lane =
                matches!(kind, Kind::ThreadStart | Kind::JoinThread) && text.is_empty();
            let text = match usize::try_from(record.arg)
                .ok()
                .and_then(|lane| names.get(lane))
            {
                Some(name) if names_lane => name.clone(),
                _ => text,
            };
            Some(Item {
                kind,
                class: Kind::from_u8(record.class),
                start: record.start,
                end: record.end.max(record.start),
                count: if kind == Kind::Burst {
                    record.count as u64
                } else {
                    1
                },
                code: record.count as i32,
                text,
                arg: record.arg,
            })
        })
        .collect();
    items.sort_by_key(|item| (item.start, item.end));
    Lane {
        pid: dump.pid,
        main: dump.main,
        name: dump.name,
        start: dump.start,
        end: dump.end.unwrap_or(finished).max(dump.start),
        exit: dump.exit,
        items,
    }
}

struct Scale {
    origin: u64,
    span: f64,
}

impl Scale {
    fn x(&self, time: u64) -> f64 {
        PLOT_LEFT + (time.saturating_sub(self.origin)) as f64 / self.span * (PLOT_RIGHT - PLOT_LEFT)
    }

    fn at(&self, time: u64) -> String {
        seconds(time.saturating_sub(self.origin))
    }
}

/// Nanoseconds as seconds with microsecond precision.
fn seconds(nanos: u64) -> String {
    format!("{:.6}", nanos as f64 / 1e9)
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

/// Merges items of one kind (and burst class) closer than `distance` units;
/// marks merge by their start, stretches when one starts near the other's end.
fn merge(items: Vec<&Item>, scale: &Scale, distance: f64, marks: bool) -> Vec<Item> {
    let mut merged: Vec<Item> = Vec::new();
    for item in items {
        let near = merged.iter_mut().rev().take(8).find(|previous| {
            previous.kind == item.kind
                && previous.class == item.class
                && if marks {
                    scale.x(item.start) - scale.x(previous.start) < distance
                } else {
                    // Only thin stretches merge: three sleeps in a row stay three.
                    let thin = |item: &Item| scale.x(item.end) - scale.x(item.start) < THIN_STRETCH;
                    scale.x(item.start) - scale.x(previous.end) < distance
                        && (thin(item) || thin(previous))
                }
        });
        match near {
            Some(previous) => {
                previous.end = previous.end.max(item.end);
                previous.count += item.count;
                if previous.text != item.text {
                    previous.text = if names_something(item.kind) {
                        add_name(&previous.text, &item.text)
                    } else {
                        String::new()
                    };
                }
            }
            None => merged.push(item.clone()),
        }
    }
    merged
}

/// Most names a merged start or join lists before an ellipsis.
const MAX_NAMES: usize = 3;

/// Whether items of `kind` name the thread or process they are about.
fn names_something(kind: Kind) -> bool {
    matches!(
        kind,
        Kind::ThreadStart | Kind::JoinThread | Kind::ProcessStart | Kind::JoinProcess
    )
}

/// The names of merged items, `names` (comma-separated) and then `name`.
fn add_name(names: &str, name: &str) -> String {
    let listed: Vec<&str> = names.split(", ").collect();
    if names.is_empty() || listed.contains(&name) || listed.last() == Some(&"…") {
        names.to_string()
    } else if listed.len() >= MAX_NAMES {
        format!("{names}, …")
    } else {
        format!("{names}, {name}")
    }
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
