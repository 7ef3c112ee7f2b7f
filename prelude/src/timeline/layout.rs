//! Where a recorded cell's events go in the picture, before any SVG is
//! written: each lane's records become items, the lanes are put in order
//! (the runtime's first, then children in the order they started), a
//! [`Scale`] turns times into x, and many events stay legible: marks of one
//! kind falling within [`BUCKET`] units of each other on a lane merge into
//! one (its title counts them), as do stretches of one kind closer than
//! [`GAP`].

use std::collections::HashMap;

use super::recorder::LaneDump;
use super::Kind;

/// Where the plot area starts and ends.
pub(super) const PLOT_LEFT: f64 = 190.0;
pub(super) const PLOT_RIGHT: f64 = 985.0;
/// Marks of one kind closer than this (units) on a lane merge.
pub(crate) const BUCKET: f64 = 3.0;
/// Stretches of one kind closer than this (units) merge, if one is thin.
pub(crate) const GAP: f64 = 1.0;
/// Stretches narrower than this (units) are thin.
const THIN_STRETCH: f64 = 3.0;
/// Most lanes drawn; the rest are counted under the picture.
const MAX_DRAWN: usize = 64;

/// One thing drawn (possibly several merged): kind, first and last time, how many.
#[derive(Debug, Clone)]
pub(super) struct Item {
    pub(super) kind: Kind,
    pub(super) class: Option<Kind>,
    pub(super) start: u64,
    pub(super) end: u64,
    pub(super) count: u64,
    /// A process's exit code (for `ProcessExit`).
    code: i32,
    pub(super) text: String,
    pub(super) arg: i64,
}

/// A lane ready to draw.
pub(super) struct Lane {
    pub(super) pid: u32,
    pub(super) main: bool,
    pub(super) name: String,
    pub(super) start: u64,
    pub(super) end: u64,
    pub(super) exit: Option<i32>,
    pub(super) items: Vec<Item>,
}

/// The lanes of `dumps` in the order they are drawn (the lanes of `runtime`,
/// the runtime's pid, first), at most [`MAX_DRAWN`] of them, and how many
/// more there were; a lane still open ends at `finished`.
pub(super) fn arrange(dumps: Vec<LaneDump>, runtime: u32, finished: u64) -> (Vec<Lane>, usize) {
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
    (lanes, hidden)
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

/// Turns times into x: `origin` at the plot's left, `span` nanoseconds across it.
pub(super) struct Scale {
    pub(super) origin: u64,
    pub(super) span: f64,
}

impl Scale {
    pub(super) fn x(&self, time: u64) -> f64 {
        PLOT_LEFT + (time.saturating_sub(self.origin)) as f64 / self.span * (PLOT_RIGHT - PLOT_LEFT)
    }

    pub(super) fn at(&self, time: u64) -> String {
        seconds(time.saturating_sub(self.origin))
    }
}

/// Nanoseconds as seconds with microsecond precision.
pub(super) fn seconds(nanos: u64) -> String {
    format!("{:.6}", nanos as f64 / 1e9)
}

/// Merges items of one kind (and burst class) closer than `distance` units;
/// marks merge by their start, stretches when one starts near the other's end.
pub(super) fn merge(items: Vec<&Item>, scale: &Scale, distance: f64, marks: bool) -> Vec<Item> {
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
