//! Unit tests of the recorder (through real programs in a fresh runtime,
//! as the kernel runs cells) and of the SVG renderer (thinning, escaping).

use std::sync::atomic::Ordering;

use super::marks::escape;
use super::recorder::{LaneDump, Record, EXACT};
use super::svg::render;
use super::Kind;
use crate::host::{host, Event, EVENT_PREFIX};
use crate::prelude::*;
use crate::println;
use crate::tests::{run_program, Run};

/// Arms the timeline as the kernel does: `begin` in one cell, then the next cell starts.
fn arm() {
    super::begin();
    host().cell.fetch_add(1, Ordering::SeqCst);
}

/// The SVG of the one timeline display `run` sent, checking there is exactly one.
fn the_picture(run: &Run) -> String {
    let pictures: Vec<String> = run
        .events()
        .into_iter()
        .filter_map(|event| match event {
            Event::Display { data, .. } => data
                .into_iter()
                .find(|(mime, _)| mime == "image/svg+xml")
                .map(|(_, svg)| svg),
            _ => None,
        })
        .collect();
    assert_eq!(pictures.len(), 1, "one picture expected in {}", run.stdout);
    pictures.into_iter().next().expect("one picture")
}

#[test]
fn a_recorded_cell_draws_its_threads_processes_and_events() {
    let run = run_program(|| {
        arm();
        let lock = threading::Lock::new();
        let worker = {
            let lock = lock.clone();
            threading::Thread::new(move || {
                for _ in 0..3 {
                    lock.acquire();
                    sleep(0.002);
                    lock.release();
                }
            })
            .name("locker")
        };
        worker.start();
        let queue = mp::Queue::<u32>::new();
        let child = {
            let queue = queue.clone();
            mp::Process::new(move || {
                let helper = threading::Thread::new(|| sleep(0.001)).name("helper");
                helper.start();
                for item in 0..3 {
                    println!("line {item} <&>");
                    queue.put(item);
                    // Apart enough not to merge into one mark.
                    sleep(0.001);
                }
                helper.join();
            })
        };
        child.start();
        println!("child pid {}", child.pid().expect("started"));
        for _ in 0..3 {
            queue.get();
        }
        child.join();
        worker.join();
    });
    run.assert_ok();
    let svg = the_picture(&run);
    let child_pid = run
        .stdout
        .lines()
        .find_map(|line| line.strip_prefix("child pid "))
        .expect("the child's pid printed");
    for expected in [
        ">MainThread<",
        ">locker<",
        ">Process-1<",
        ">Process-1: helper<",
        // Lanes claimed for others (a thread by its starter, a child by its
        // parent) belong to the right process and are named in marks.
        &format!("process Process-1 (pid {child_pid})"),
        &format!("thread Process-1: helper (pid {child_pid})"),
        "start thread locker",
        "join: waiting for thread locker",
        "start thread Process-1: helper",
        "join: waiting for thread Process-1: helper",
        "line 0 &lt;&amp;&gt;",
        "lock acquired",
        "lock released",
        "queue put",
        "queue get",
        "exited with exit code 0",
        "join: waiting for process Process-1",
    ] {
        assert!(svg.contains(expected), "{expected} missing in {svg}");
    }
    let summary = run.events().into_iter().find_map(|event| match event {
        Event::Display { data, .. } => data
            .into_iter()
            .find(|(mime, _)| mime == "text/plain")
            .map(|(_, text)| text),
        _ => None,
    });
    assert!(
        summary.is_some_and(|text| text.starts_with("<timeline: 4 lanes")),
        "{}",
        run.stdout
    );
}

#[test]
fn a_thread_queue_draws_its_puts_gets_and_waits() {
    let run = run_program(|| {
        arm();
        let queue = queue::Queue::<u32>::new();
        let consumer = {
            let queue = queue.clone();
            threading::Thread::new(move || {
                // Nothing arrives in time: a drawn wait, no get.
                assert!(queue.get_timeout(0.005).is_err());
                // Waits until the producer puts.
                for _ in 0..3 {
                    queue.get();
                }
            })
            .name("consumer")
        };
        consumer.start();
        sleep(0.02);
        for item in 0..3 {
            queue.put(item);
        }
        consumer.join();
    });
    run.assert_ok();
    let svg = the_picture(&run);
    let lane = |name: &str| {
        svg.split("<g class=\"lane\">")
            .find(|lane| lane.contains(&format!(">{name}<")))
            .unwrap_or_else(|| panic!("no lane {name} in {svg}"))
            .to_string()
    };
    let (consumer, main) = (lane("consumer"), lane("MainThread"));
    // The timed-out get and the wait for the first put (more if the
    // producer is descheduled between its puts).
    assert!(
        consumer.matches("queue get: waiting for an item").count() >= 2,
        "{consumer}"
    );
    assert!(consumer.contains("queue get"), "{consumer}");
    assert!(main.contains("queue put"), "{main}");
    assert!(!main.contains("queue put: waiting"), "{main}");
}

#[test]
fn threads_that_reuse_an_os_thread_get_lanes_of_their_own() {
    let run = run_program(|| {
        arm();
        for name in ["first", "second", "third"] {
            let thread = threading::Thread::new(|| {
                println!("ident {}", threading::get_ident());
                sleep(0.002);
            })
            .name(name);
            thread.start();
            thread.join();
            // Time for the OS thread to offer itself for the next one.
            sleep(0.01);
        }
    });
    run.assert_ok();
    let idents: Vec<&str> = run
        .stdout
        .lines()
        .filter_map(|line| line.strip_prefix("ident "))
        .collect();
    assert_eq!(idents.len(), 3, "{}", run.stdout);
    assert!(
        idents.iter().all(|ident| *ident == idents[0]),
        "one OS thread expected: {idents:?}"
    );
    let svg = the_picture(&run);
    for name in ["first", "second", "third"] {
        let lane = svg
            .split("<g class=\"lane\">")
            .find(|lane| lane.contains(&format!(">{name}<")))
            .unwrap_or_else(|| panic!("no lane {name} in {svg}"));
        assert_eq!(lane.matches("<title>sleep, ").count(), 1, "{name}: {lane}");
        assert_eq!(
            lane.matches("<title>print: ident ").count(),
            1,
            "{name}: {lane}"
        );
    }
}

#[test]
fn a_cell_without_timeline_draws_nothing() {
    let run = run_program(|| {
        super::begin();
        // Still the cell that armed it: the next one would be recorded.
        threading::Thread::new(|| sleep(0.01)).start();
    });
    run.assert_ok();
    assert!(run.events().is_empty(), "{}", run.stdout);
    let run = run_program(|| println!("plain"));
    assert!(!run.stdout.contains(EVENT_PREFIX), "{}", run.stdout);
}

#[test]
fn a_million_lock_operations_stay_a_small_picture() {
    let run = run_program(|| {
        arm();
        let counter = threading::Lock::with_value(0u64);
        let workers: Vec<_> = (0..2)
            .map(|_| {
                let counter = counter.clone();
                threading::Thread::new(move || {
                    for _ in 0..500_000 {
                        *counter.guard() += 1;
                    }
                })
            })
            .collect();
        workers.iter().for_each(threading::Thread::start);
        workers.iter().for_each(threading::Thread::join);
        println!("total {}", *counter.guard());
    });
    run.assert_ok();
    assert!(run.stdout.contains("total 1000000"));
    let svg = the_picture(&run);
    assert!(svg.len() < 200_000, "{} bytes", svg.len());
    assert!(svg.contains("counted, not drawn one by one"), "{svg}");
}

/// A lane dump of `records` (kind, start, text) on the runtime's main thread.
fn dump(name: &str, records: Vec<(Kind, u64, String)>) -> LaneDump {
    LaneDump {
        pid: 1,
        main: true,
        name: name.to_string(),
        start: 0,
        end: Some(1_000_000_000),
        exit: None,
        records: records
            .into_iter()
            .map(|(kind, start, text)| {
                let record = Record {
                    start,
                    end: start,
                    kind: kind as u8,
                    count: 1,
                    ..Record::default()
                };
                (record, text)
            })
            .collect(),
    }
}

#[test]
fn close_marks_merge_and_count() {
    // 10 000 prints within one second: at most one mark per bucket of the 1000-unit width.
    let records = (0..10_000)
        .map(|index| (Kind::Print, index * 100_000, format!("line {index}")))
        .collect();
    let picture = render(vec![dump("MainThread", records)], 1, 1_000_000_000, 0);
    let marks = picture.svg.matches("<g class=\"print\">").count();
    assert!((100..400).contains(&marks), "{marks} print marks");
    assert!(picture.svg.contains(" × printed lines"));
    assert_eq!(picture.events, 10_000);
    assert_eq!(picture.lanes, 1);
}

#[test]
fn thread_starts_name_the_lane_they_number() {
    let start = |time: u64, lane: i64| {
        let record = Record {
            start: time,
            end: time,
            arg: lane,
            kind: Kind::ThreadStart as u8,
            count: 1,
            ..Record::default()
        };
        (record, String::new())
    };
    let mut main = dump("MainThread", Vec::new());
    // Two starts close together merge into one mark naming both; five list
    // three names; a start far from the others stands alone.
    main.records = vec![start(5, 1), start(6, 2), start(500_000_000, 1)];
    main.records
        .extend((1..=5).map(|lane| start(900_000_000 + lane as u64, lane)));
    let lanes = ["sing", "dance", "x", "y", "z"]
        .into_iter()
        .map(|name| dump(name, Vec::new()));
    let lanes = std::iter::once(main).chain(lanes).collect();
    let picture = render(lanes, 1, 1_000_000_000, 0);
    assert!(
        picture
            .svg
            .contains("<title>2 × start thread (sing, dance), "),
        "{}",
        picture.svg
    );
    assert!(
        picture
            .svg
            .contains("<title>start thread sing, at 0.500000 s"),
        "{}",
        picture.svg
    );
}

#[test]
fn printed_text_is_escaped_in_titles() {
    let text = "<script>alert('x') & \"y\"</script>\u{7}".to_string();
    let picture = render(
        vec![dump("Main<Thread>", vec![(Kind::Print, 5, text)])],
        1,
        10,
        0,
    );
    assert!(!picture.svg.contains("<script>"));
    assert!(picture
        .svg
        .contains("print: &lt;script&gt;alert(&apos;x&apos;) &amp; &quot;y&quot;&lt;/script&gt;"));
    assert!(picture.svg.contains(">Main&lt;Thread&gt;<"));
    assert_eq!(escape("a\tb\u{1}c"), "a bc");
}

#[test]
fn kinds_round_trip_through_their_numbers() {
    for number in 1..=19 {
        let kind = Kind::from_u8(number).expect("a kind");
        assert_eq!(kind as u8, number);
    }
    assert_eq!(Kind::from_u8(0), None);
    assert_eq!(Kind::from_u8(20), None);
    const { assert!(EXACT >= 8, "small demonstrations are drawn event by event") };
}
