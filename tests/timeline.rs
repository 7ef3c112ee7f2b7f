//! `:timeline` through the real kernel: a cell whose first line is
//! `:timeline` ends with exactly one SVG picture of its lanes and events;
//! any other cell draws nothing.

use std::sync::{Mutex, OnceLock};

use jupyter_protocol::{JupyterMessageContent, ReplyStatus};

use crate::kernel::harness::{is_compiling_notice, shared, Exchange};

static KERNEL: OnceLock<Mutex<crate::kernel::harness::Kernel>> = OnceLock::new();

/// A named thread taking a lock three times, and a child process printing
/// three lines and putting three items on a queue the cell takes.
const CELL: &str = r#"{
    let lock = threading::Lock::new();
    let worker = {
        let lock = lock.clone();
        threading::Thread::new(move || for _ in 0..3 {
            lock.acquire();
            sleep(0.02);
            lock.release();
            sleep(0.02);
        }).name("locker")
    };
    worker.start();
    let queue = mp::Queue::<u32>::new();
    let child = {
        let queue = queue.clone();
        mp::Process::new(move || for item in 0..3 {
            println!("line {item} <&>");
            queue.put(item);
            sleep(0.02);
        })
    };
    child.start();
    let got: Vec<u32> = (0..3).map(|_| queue.get()).collect();
    child.join();
    worker.join();
    println!("got {got:?}");
};"#;

/// The `image/svg+xml` of every display in `exchange`, with its `text/plain`.
fn pictures(exchange: &Exchange) -> Vec<(String, String)> {
    exchange
        .outputs()
        .into_iter()
        .filter_map(|message| match &message.content {
            JupyterMessageContent::DisplayData(display) => {
                let data = serde_json::to_value(&display.data).ok()?;
                let svg = data["image/svg+xml"].as_str()?.to_owned();
                let text = data["text/plain"].as_str().unwrap_or_default().to_owned();
                Some((svg, text))
            }
            _ => None,
        })
        .collect()
}

/// The seconds a hover title gives (`at 0.1 s` or `0.1–0.2 s`: the start).
fn time_of(title: &str) -> f64 {
    let tail = title.rsplit(", ").next().expect("a time");
    let number = tail
        .trim_start_matches("at ")
        .split(['–', ' '])
        .next()
        .expect("a number");
    number
        .parse()
        .unwrap_or_else(|_| panic!("no time in {title:?}"))
}

/// One lane as drawn: its label and its marks (class, hover title), in drawing order.
struct Lane {
    label: String,
    marks: Vec<(String, String)>,
}

fn lanes(svg: &str) -> Vec<Lane> {
    let document = roxmltree::Document::parse(svg).expect("the picture is well-formed XML");
    let root = document.root_element();
    assert_eq!(root.tag_name().name(), "svg");
    assert_eq!(root.attribute("width"), Some("100%"));
    assert!(root.attribute("viewBox").is_some());
    root.descendants()
        .filter(|node| node.attribute("class") == Some("lane"))
        .map(|lane| {
            let label = lane
                .descendants()
                .find(|node| node.attribute("class") == Some("lane-label"))
                .and_then(|node| node.text())
                .expect("a lane has a label")
                .to_owned();
            let marks = lane
                .children()
                .filter(|node| node.tag_name().name() == "g")
                .map(|mark| {
                    let title = mark
                        .children()
                        .find(|node| node.tag_name().name() == "title")
                        .and_then(|node| node.text())
                        .expect("every mark has a hover title");
                    (
                        mark.attribute("class").unwrap_or_default().to_owned(),
                        title.to_owned(),
                    )
                })
                .collect();
            Lane { label, marks }
        })
        .collect()
}

fn marks_of<'lane>(lane: &'lane Lane, class: &str) -> Vec<&'lane str> {
    lane.marks
        .iter()
        .filter(|(kind, _)| kind == class)
        .map(|(_, title)| title.as_str())
        .collect()
}

#[test]
fn a_timeline_cell_shows_one_picture_of_its_lanes_and_events() {
    let kernel = shared(&KERNEL);
    let exchange = kernel.run_ok(&format!(":timeline\n{CELL}"));
    assert_eq!(
        exchange.stream_text("stdout"),
        "line 0 <&>\nline 1 <&>\nline 2 <&>\ngot [0, 1, 2]\n"
    );
    let pictures = pictures(&exchange);
    assert_eq!(pictures.len(), 1, "exactly one picture");
    let (svg, text) = &pictures[0];
    assert!(text.starts_with("<timeline: 3 lanes, "), "{text}");
    let lanes = lanes(svg);
    let labels: Vec<&str> = lanes.iter().map(|lane| lane.label.as_str()).collect();
    assert_eq!(labels[..2], ["MainThread", "locker"], "{labels:?}");
    assert!(labels[2].starts_with("Process-"), "{labels:?}");
    assert_eq!(labels.len(), 3, "{labels:?}");

    let (main, locker, child) = (&lanes[0], &lanes[1], &lanes[2]);
    assert_eq!(marks_of(main, "queue-get").len(), 3);
    assert_eq!(marks_of(locker, "lock-acquire").len(), 3);
    assert_eq!(marks_of(locker, "lock-release").len(), 3);
    let printed = marks_of(child, "print");
    assert_eq!(printed.len(), 3);
    for (index, title) in printed.iter().enumerate() {
        assert!(
            title.starts_with(&format!("print: line {index} <&>, at ")),
            "{title}"
        );
    }
    assert_eq!(marks_of(child, "queue-put").len(), 3);
    assert!(marks_of(child, "exit")[0].contains("exit code 0"));
    for lane in &lanes {
        for class in [
            "lock-acquire",
            "lock-release",
            "print",
            "queue-put",
            "queue-get",
        ] {
            let times: Vec<f64> = marks_of(lane, class)
                .iter()
                .map(|title| time_of(title))
                .collect();
            assert!(
                times.windows(2).all(|pair| pair[0] <= pair[1]),
                "{class} out of order on {}: {times:?}",
                lane.label
            );
        }
    }
    // Acquire and release alternate on the locker's lane.
    let mut lock_events: Vec<(f64, &str)> = ["lock-acquire", "lock-release"]
        .iter()
        .flat_map(|class| {
            marks_of(locker, class)
                .into_iter()
                .map(move |title| (time_of(title), *class))
        })
        .collect();
    lock_events.sort_by(|a, b| a.0.total_cmp(&b.0));
    let order: Vec<&str> = lock_events.iter().map(|(_, class)| *class).collect();
    assert_eq!(
        order,
        [
            "lock-acquire",
            "lock-release",
            "lock-acquire",
            "lock-release",
            "lock-acquire",
            "lock-release"
        ]
    );
}

#[test]
fn a_cell_without_timeline_shows_no_picture() {
    let kernel = shared(&KERNEL);
    let exchange = kernel.run_ok(CELL);
    // (The kernel's own "compiling…" notice may show as a display.)
    assert!(pictures(&exchange).is_empty());
    assert!(!exchange.stream_text("stdout").contains("timeline"));
}

#[test]
fn a_timeline_cell_that_never_runs_leaves_nothing_armed() {
    let kernel = shared(&KERNEL);
    let failed = kernel.execute(":timeline\nlet wrong: u32 = \"not a number\";");
    assert_eq!(failed.status(), ReplyStatus::Error);
    let next = kernel.run_ok("println!(\"after\");");
    assert!(pictures(&next).is_empty(), "the cell after drew a picture");
    // A cell of items only draws its own (empty) run or nothing; never the next.
    let items_only = kernel.run_ok(":timeline\nfn drawn_by_nobody() {}");
    assert!(pictures(&items_only).len() <= 1);
    let next = kernel.run_ok("println!(\"after\");");
    assert!(pictures(&next).is_empty(), "the cell after drew a picture");
}

#[test]
fn a_slowly_compiled_timeline_cell_keeps_its_compiling_notice_until_its_code_runs() {
    let kernel = shared(&KERNEL);
    // rustc's const evaluator interprets this loop for seconds: a compile
    // that is slow on demand. The kernel arms the recorder with a step of its
    // own before compiling the cell; that step must not end the notice, so
    // the notice is cleared when the cell's code starts, not seconds before.
    let exchange = kernel.run_ok(
        ":timeline
#[allow(long_running_const_eval)]
const SPUN: u64 = {
    let (mut round, mut mixed) = (0u64, 0u64);
    while round < 2_000_000 {
        mixed = mixed.wrapping_mul(31).wrapping_add(round);
        round += 1;
    }
    mixed
};
let started = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap();
println!(\"started {} spun {}\", started.as_millis(), SPUN % 10);",
    );
    let outputs = exchange.outputs();
    let types: Vec<&str> = outputs
        .iter()
        .map(|message| message.message_type())
        .collect();
    let position = |wanted: &dyn Fn(&JupyterMessageContent) -> bool| {
        outputs.iter().position(|message| wanted(&message.content))
    };
    let notice = position(&is_compiling_notice)
        .unwrap_or_else(|| panic!("no compiling notice in {types:?}"));
    let cleared = position(&|content| matches!(content, JupyterMessageContent::ClearOutput(_)))
        .expect("the notice is cleared");
    assert!(notice < cleared, "{types:?}");
    let printed = exchange.stream_text("stdout");
    let started_ms: i64 = printed
        .split_whitespace()
        .nth(1)
        .and_then(|millis| millis.parse().ok())
        .unwrap_or_else(|| panic!("unexpected output {printed:?}"));
    let cleared_ms = outputs[cleared].header.date.timestamp_millis();
    assert!(
        cleared_ms > started_ms - 1000,
        "the notice went {} ms before the code started",
        started_ms - cleared_ms
    );
    assert_eq!(pictures(&exchange).len(), 1);
}
