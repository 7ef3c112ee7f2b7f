//! `display::progress`: counts from threads, forked children and pool
//! workers reach the total; updates are throttled; the final state is always
//! drawn (total, close, drop, the cell's end, an interrupt).

use std::time::{Duration, Instant};

use super::runtime::interrupt_after;
use super::{run_program, Run};
use crate::host::Event;
use crate::prelude::*;
use crate::println;

/// Each drawing of the run's first display, as (is an update, plain text, html).
fn drawings(run: &Run) -> Vec<(bool, String, String)> {
    drawings_of(run, &first_display_id(run))
}

fn first_display_id(run: &Run) -> String {
    run.events()
        .into_iter()
        .find_map(|event| match event {
            Event::Display { display_id, .. } => display_id,
            _ => None,
        })
        .unwrap_or_else(|| panic!("no display in {}", run.stdout))
}

fn drawings_of(run: &Run, id: &str) -> Vec<(bool, String, String)> {
    run.events()
        .into_iter()
        .filter_map(|event| match event {
            Event::Display {
                data,
                display_id,
                update,
            } if display_id.as_deref() == Some(id) => {
                let form = |mime: &str| {
                    data.iter()
                        .find(|(kind, _)| kind == mime)
                        .map(|(_, content)| content.clone())
                        .unwrap_or_default()
                };
                Some((update, form("text/plain"), form("text/html")))
            }
            _ => None,
        })
        .collect()
}

/// The plain text of the last drawing.
fn last_text(drawings: &[(bool, String, String)]) -> &str {
    &drawings.last().expect("at least one drawing").1
}

#[test]
fn threads_count_a_bar_to_its_total() {
    let run = run_program(|| {
        let bar = display::progress(10_000, "threads");
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let bar = bar.clone();
                threading::Thread::new(move || {
                    for _ in 0..2_500 {
                        bar.inc(1);
                    }
                })
            })
            .collect();
        for thread in &threads {
            thread.start();
        }
        for thread in &threads {
            thread.join();
        }
        assert_eq!(bar.n(), 10_000);
    });
    run.assert_ok();
    let drawings = drawings(&run);
    assert!(!drawings[0].0, "the first drawing is a display_data");
    assert!(drawings[1..].iter().all(|drawing| drawing.0));
    let last = &drawings.last().expect("drawn");
    assert!(last.1.starts_with("threads: 100%|"), "{}", last.1);
    assert!(last.1.contains("| 10000/10000 ["), "{}", last.1);
    assert!(last.2.contains("10000/10000"), "{}", last.2);
}

#[test]
fn quick_counts_are_drawn_about_ten_times_a_second_and_the_last_always() {
    let run = run_program(|| {
        let bar = display::progress(10_000, "");
        let started = Instant::now();
        for _ in 0..10_000 {
            bar.inc(1);
        }
        println!("took {} ms", started.elapsed().as_millis());
    });
    run.assert_ok();
    let took: u64 = run
        .stdout
        .lines()
        .find_map(|line| {
            line.strip_prefix("took ")?
                .strip_suffix(" ms")?
                .parse()
                .ok()
        })
        .expect("the loop's duration");
    let drawings = drawings(&run);
    // One per 100 ms at most while counting, plus: the first display, the
    // one reaching the total, the dropped handle's and the cell end's.
    let most = took / 100 + 1 + 4;
    assert!(
        drawings.len() as u64 <= most,
        "{} drawings for 10,000 counts in {took} ms",
        drawings.len()
    );
    assert!(last_text(&drawings).starts_with("100%|"), "{drawings:?}");
}

#[test]
fn set_and_close_draw_where_the_bar_stops() {
    let run = run_program(|| {
        let bar = display::progress(100, "set");
        bar.set(37);
        bar.close();
        // Counted, not drawn: the bar stays where close() drew it.
        bar.inc(10);
        assert_eq!(bar.n(), 47);
    });
    run.assert_ok();
    let drawings = drawings(&run);
    assert_eq!(drawings.len(), 2, "{drawings:?}");
    assert!(
        last_text(&drawings).starts_with("set:  37%|"),
        "{drawings:?}"
    );
    assert!(last_text(&drawings).contains("| 37/100 ["));
    assert!(!last_text(&drawings).contains("interrupted"));
}

#[test]
fn the_cell_end_draws_a_bar_that_was_never_dropped() {
    let run = run_program(|| {
        let bar = display::progress(100, "kept");
        // Within 100 ms of the first drawing: no update is due yet.
        bar.set(37);
        std::mem::forget(bar);
    });
    run.assert_ok();
    let drawings = drawings(&run);
    assert_eq!(
        drawings.len(),
        2,
        "the display and the cell end's: {drawings:?}"
    );
    assert!(last_text(&drawings).contains("| 37/100 ["), "{drawings:?}");
    assert!(!last_text(&drawings).contains("interrupted"));
}

#[test]
fn an_interrupt_leaves_the_bar_where_it_stood_marked() {
    let run = run_program(|| {
        let bar = display::progress(100, "long");
        bar.set(37);
        interrupt_after(Duration::from_millis(100));
        assert!(std::panic::catch_unwind(|| sleep(30.0)).is_err());
    });
    run.assert_ok();
    let drawings = drawings(&run);
    let last = last_text(&drawings);
    assert!(last.contains("| 37/100 ["), "{drawings:?}");
    assert!(last.ends_with("■ interrupted"), "{last}");
    assert!(drawings.last().expect("drawn").2.contains("interrupted"));
}

#[test]
fn children_count_on_after_the_creator_dropped_its_bar() {
    let run = run_program(|| {
        let bar = display::progress(300, "children");
        let children: Vec<_> = (0..3)
            .map(|_| {
                let bar = bar.clone();
                mp::Process::new(move || {
                    for _ in 0..100 {
                        bar.inc(1);
                        sleep(0.001);
                    }
                })
            })
            .collect();
        for child in &children {
            child.start();
        }
        // The children keep counting in the shared memory they mapped at the fork.
        drop(bar);
    });
    run.assert_ok();
    let drawings = drawings(&run);
    assert!(
        last_text(&drawings).starts_with("children: 100%|"),
        "{drawings:?}"
    );
    assert!(last_text(&drawings).contains("| 300/300 ["));
}

fn count_in_task((bar, n): (display::Progress, u64)) -> u64 {
    for _ in 0..n {
        bar.inc(1);
    }
    n
}

#[test]
fn pool_tasks_count_through_a_bar_sent_in_their_argument() {
    let run = run_program(|| {
        // The workers exist before the bar: it reaches them as an address.
        let pool = mp::Pool::new(3);
        let bar = display::progress(300, "pool");
        let jobs: Vec<_> = (0..3).map(|_| (bar.clone(), 100)).collect();
        assert_eq!(pool.map(count_in_task, jobs), [100, 100, 100]);
        pool.close();
        pool.join();
        assert_eq!(bar.n(), 300);
    });
    run.assert_ok();
    let drawings = drawings(&run);
    assert!(last_text(&drawings).contains("| 300/300 ["), "{drawings:?}");
}

#[test]
fn many_bars_keep_their_own_displays_and_counts() {
    let run = run_program(|| {
        let small = display::progress(10, "small");
        let large = display::progress(20, "large");
        assert_ne!(small.display_id(), large.display_id());
        for _ in 0..10 {
            small.inc(1);
            large.inc(2);
        }
        println!("ids {} {}", small.display_id(), large.display_id());
    });
    run.assert_ok();
    let ids: Vec<String> = run
        .stdout
        .lines()
        .find_map(|line| line.strip_prefix("ids "))
        .expect("the ids")
        .split(' ')
        .map(str::to_string)
        .collect();
    let small = drawings_of(&run, &ids[0]);
    let large = drawings_of(&run, &ids[1]);
    assert!(last_text(&small).starts_with("small: 100%|"), "{small:?}");
    assert!(last_text(&small).contains("| 10/10 ["));
    assert!(last_text(&large).starts_with("large: 100%|"), "{large:?}");
    assert!(last_text(&large).contains("| 20/20 ["));
}
