//! What cells show: streams, results, displays, errors, stop_on_error.

use std::sync::{Mutex, OnceLock};

use jupyter_protocol::{JupyterMessageContent, ReplyStatus};

use crate::kernel::harness::{execute_request, shared, Exchange, Kernel};

static KERNEL: OnceLock<Mutex<Kernel>> = OnceLock::new();

#[test]
fn lines_printed_together_are_coalesced_and_kept_in_order() {
    let kernel = shared(&KERNEL);
    let exchange = kernel.run_ok("for i in 0..2000 { println!(\"line {i}\"); }");
    let expected: String = (0..2000).map(|i| format!("line {i}\n")).collect();
    assert_eq!(exchange.stream_text("stdout"), expected);
    let streams = exchange
        .output_types()
        .iter()
        .filter(|kind| *kind == "stream")
        .count();
    assert!(streams < 100, "2000 lines took {streams} stream messages");
}

#[test]
fn stdout_and_stderr_each_keep_their_order() {
    let kernel = shared(&KERNEL);
    let exchange =
        kernel.run_ok(r#"for i in 0..50 { println!("out {i}"); eprintln!("err {i}"); }"#);
    let out: String = (0..50).map(|i| format!("out {i}\n")).collect();
    let err: String = (0..50).map(|i| format!("err {i}\n")).collect();
    assert_eq!(exchange.stream_text("stdout"), out);
    assert_eq!(exchange.stream_text("stderr"), err);
}

#[test]
fn a_final_expression_is_the_result_and_variables_persist() {
    let kernel = shared(&KERNEL);
    kernel.run_ok("let answer_base = 40;");
    let exchange = kernel.run_ok("answer_base + 2");
    assert_eq!(exchange.result_text().as_deref(), Some("42"));
}

#[test]
fn final_values_follow_evcxr_types_and_fmt_once_a_cell_sets_them() {
    // A kernel of its own: the settings stay for the session.
    let kernel = Kernel::start();
    let shown = |code: &str| kernel.run_ok(code).result_text();
    // Shown by the prelude's `ShowFinalValue`, after one build.
    assert_eq!(shown("vec![1, 2]").as_deref(), Some("[1, 2]"));
    assert!(shown(":types").is_some_and(|text| text.contains("Types: true")));
    assert_eq!(shown("Some(1)").as_deref(), Some(": Option<i32> = Some(1)"));
    shown(":types");
    shown(":fmt {:#?}");
    assert_eq!(shown("(1, 2)").as_deref(), Some("(\n    1,\n    2,\n)"));
    // `:clear` keeps evcxr's settings, so the kernel keeps following them.
    kernel.run_ok(":clear");
    assert_eq!(shown("(3, 4)").as_deref(), Some("(\n    3,\n    4,\n)"));
    let not_debug = kernel.execute("struct NotDebug;\nNotDebug");
    assert_eq!(not_debug.status(), ReplyStatus::Error);
}

#[test]
fn a_unit_final_value_shows_nothing() {
    let kernel = shared(&KERNEL);
    let exchange = kernel.run_ok("for i in 0..2 { println!(\"{i}\") }");
    assert_eq!(exchange.output_types(), ["execute_input", "stream"]);
}

#[test]
fn a_compile_error_is_one_error_with_rustc_diagnostics() {
    let kernel = shared(&KERNEL);
    let exchange = kernel.execute("let wrong: i32 = \"text\";");
    assert_eq!(exchange.status(), ReplyStatus::Error);
    assert_eq!(
        exchange
            .output_types()
            .iter()
            .filter(|t| *t == "error")
            .count(),
        1
    );
    let JupyterMessageContent::ErrorOutput(error) = &exchange
        .outputs()
        .into_iter()
        .find(|message| message.message_type() == "error")
        .unwrap()
        .content
    else {
        unreachable!()
    };
    assert_eq!(error.ename, "CompileError");
    assert_eq!(error.evalue, "mismatched types");
    assert!(error.traceback.join("\n").contains("E0308"));
    let JupyterMessageContent::ExecuteReply(reply) = &exchange.reply.content else {
        unreachable!()
    };
    let reply_error = reply.error.as_ref().expect("the reply carries the error");
    assert_eq!(reply_error.ename, "CompileError");
    assert_eq!(reply_error.evalue, "mismatched types");
}

#[test]
fn a_panic_is_an_error_and_earlier_variables_survive() {
    let kernel = shared(&KERNEL);
    kernel.run_ok("let survivor = String::from(\"still here\");");
    let exchange = kernel.execute("panic!(\"this cell fails\");");
    assert_eq!(exchange.status(), ReplyStatus::Error);
    assert_eq!(
        exchange.errors(),
        [("panic".to_owned(), "this cell fails".to_owned())]
    );
    assert_eq!(exchange.output_types(), ["execute_input", "error"]);
    let after = kernel.run_ok("survivor.clone()");
    assert_eq!(after.result_text().as_deref(), Some("\"still here\""));
}

#[test]
fn displays_show_while_the_cell_runs() {
    let kernel = shared(&KERNEL);
    let exchange = kernel
        .run_ok(r#"display::html("<b>first</b>"); sleep(0.3); println!("after"); clear_output();"#);
    assert_eq!(
        exchange.output_types(),
        ["execute_input", "display_data", "stream", "clear_output"]
    );
}

#[test]
fn a_display_is_updated_in_place_from_threads_and_processes() {
    let kernel = shared(&KERNEL);
    let exchange = kernel.run_ok(
        r#"let shown = display::html("<i>0</i>");
           shown.update_html("<i>1</i>");
           let from_thread = shown.clone();
           let thread = threading::Thread::new(move || from_thread.update_html("<i>2</i>"));
           thread.start();
           thread.join();
           let from_child = shown.clone();
           let child = mp::Process::new(move || from_child.update_markdown("**3**"));
           child.start();
           child.join();
           display::clear_output(true);
           shown"#,
    );
    // (display id, kind, html or markdown) of each display message, in order.
    let displays: Vec<(String, String, String)> = displays(&exchange)
        .into_iter()
        .filter_map(|(id, kind, data)| {
            let shown = data["text/html"]
                .as_str()
                .or(data["text/markdown"].as_str())?;
            Some((id, kind.to_owned(), shown.to_owned()))
        })
        .collect();
    let id = &displays[0].0;
    assert_eq!(
        displays,
        [
            (id.clone(), "display_data".to_owned(), "<i>0</i>".to_owned()),
            (
                id.clone(),
                "update_display_data".to_owned(),
                "<i>1</i>".to_owned()
            ),
            (
                id.clone(),
                "update_display_data".to_owned(),
                "<i>2</i>".to_owned()
            ),
            (
                id.clone(),
                "update_display_data".to_owned(),
                "**3**".to_owned()
            ),
        ]
    );
    // The last clear is the cell's (the kernel's compiling notice may clear before).
    let clear = exchange
        .outputs()
        .into_iter()
        .rev()
        .find_map(|message| match &message.content {
            JupyterMessageContent::ClearOutput(clear) => Some(clear.wait),
            _ => None,
        });
    assert_eq!(clear, Some(true));
    // A handle as the cell's value shows nothing more.
    assert_eq!(exchange.result_text(), None);
}

/// (display id, `display_data` or `update_display_data`, MIME bundle) of
/// each display message, in order.
fn displays(exchange: &Exchange) -> Vec<(String, &'static str, serde_json::Value)> {
    exchange
        .outputs()
        .into_iter()
        .filter_map(|message| {
            let (kind, data, transient) = match &message.content {
                JupyterMessageContent::DisplayData(display) => {
                    ("display_data", &display.data, display.transient.as_ref())
                }
                JupyterMessageContent::UpdateDisplayData(update) => {
                    ("update_display_data", &update.data, Some(&update.transient))
                }
                _ => return None,
            };
            let id = transient?.display_id.clone()?;
            Some((id, kind, serde_json::to_value(data).ok()?))
        })
        .collect()
}

#[test]
fn progress_from_three_pool_workers_ends_at_its_total() {
    let kernel = shared(&KERNEL);
    kernel.run_ok(
        "fn progress_task((bar, n): (display::Progress, u64)) -> u64 {
             for _ in 0..n { bar.inc(1); sleep(0.002); }
             n
         }",
    );
    let exchange = kernel.run_ok(
        r#"{
               let pool = mp::Pool::new(3);
               let bar = display::progress(300, "pool");
               let jobs: Vec<_> = (0..3).map(|_| (bar.clone(), 100)).collect();
               let done: u64 = pool.map(progress_task, jobs).iter().sum();
               pool.close();
               pool.join();
               println!("done {done}");
           };"#,
    );
    assert_eq!(exchange.stream_text("stdout"), "done 300\n");
    let displays = displays(&exchange);
    let (id, kind, first) = &displays[0];
    assert_eq!(*kind, "display_data");
    assert!(first["text/plain"]
        .as_str()
        .is_some_and(|text| text.contains("| 0/300 [")));
    let (_, kind, last) = displays
        .iter()
        .rev()
        .find(|(shown, _, _)| shown == id)
        .expect("the bar's last drawing");
    assert_eq!(*kind, "update_display_data");
    let text = last["text/plain"].as_str().unwrap_or_default();
    assert!(
        text.starts_with("pool: 100%|") && text.contains("| 300/300 ["),
        "{text}"
    );
    let html = last["text/html"].as_str().unwrap_or_default();
    assert!(html.contains("100% 300/300"), "{html}");
}

#[test]
fn dynamic_linking_is_refused_with_a_reason_and_nothing_breaks() {
    let kernel = shared(&KERNEL);
    let refused = kernel.execute(":allow_static_linking 0");
    assert_eq!(refused.status(), ReplyStatus::Error);
    let (ename, evalue) = refused.errors().remove(0);
    assert_eq!(ename, "KernelError");
    assert!(evalue.contains("no_std"), "{evalue}");
    kernel.run_ok("println!(\"{}\", mp::cpu_count());");
}

#[test]
fn stop_on_error_answers_queued_cells_without_running_them() {
    let kernel = shared(&KERNEL);
    let failing = kernel.send(&kernel.shell, execute_request("panic!(\"first fails\");"));
    let queued = kernel.send(
        &kernel.shell,
        execute_request("println!(\"must not run\");"),
    );
    let failing_reply = kernel.reply_to(&kernel.shell, &failing);
    let queued_reply = kernel.reply_to(&kernel.shell, &queued);
    let status = |message: &jupyter_protocol::JupyterMessage| match &message.content {
        JupyterMessageContent::ExecuteReply(reply) => reply.status.clone(),
        _ => panic!("not an execute_reply"),
    };
    assert_eq!(status(&failing_reply), ReplyStatus::Error);
    assert_eq!(status(&queued_reply), ReplyStatus::Error);
    kernel.iopub_until_idle(&failing);
    let queued_iopub = kernel.iopub_until_idle(&queued);
    assert!(queued_iopub
        .iter()
        .all(|message| message.message_type() == "status"));
}

#[test]
fn input_without_stdin_is_a_clear_error() {
    let kernel = shared(&KERNEL);
    let exchange = kernel.execute("let name = input(\"name? \");");
    assert_eq!(exchange.status(), ReplyStatus::Error);
    let (_, evalue) = &exchange.errors()[0];
    assert!(evalue.contains("input"), "{evalue}");
}

#[test]
fn input_asks_the_frontend_over_stdin() {
    let kernel = shared(&KERNEL);
    let mut request = execute_request("let name = input(\"name? \"); println!(\"hello {name}\");");
    request.allow_stdin = true;
    let sent = kernel.send(&kernel.shell, request);
    let asked = kernel
        .receive(&kernel.stdin, crate::kernel::harness::REPLY_TIMEOUT)
        .expect("an input_request");
    let JupyterMessageContent::InputRequest(ask) = &asked.content else {
        panic!("{asked:?}");
    };
    assert_eq!(ask.prompt, "name? ");
    let answer = jupyter_protocol::JupyterMessage::new(
        jupyter_protocol::InputReply {
            value: "Ada".to_owned(),
            status: ReplyStatus::Ok,
            error: None,
        },
        Some(&asked),
    );
    kernel.send_message(&kernel.stdin, &answer);
    let reply = kernel.reply_to(&kernel.shell, &sent);
    assert_eq!(reply.message_type(), "execute_reply");
    let iopub = kernel.iopub_until_idle(&sent);
    let printed: String = iopub
        .iter()
        .filter_map(|message| match &message.content {
            JupyterMessageContent::StreamContent(stream) => Some(stream.text.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(printed, "hello Ada\n");
}

#[test]
fn a_panic_the_cell_catches_itself_is_no_error() {
    let kernel = shared(&KERNEL);
    let exchange = kernel.run_ok(
        "let caught = std::panic::catch_unwind(|| panic!(\"handled\")).is_err(); println!(\"caught={caught}\");",
    );
    assert_eq!(exchange.stream_text("stdout"), "caught=true\n");
    assert!(exchange.errors().is_empty());
}

/// The compiled cells in a cache directory's first work slot.
fn cached_cells(cache_dir: &std::path::Path) -> usize {
    std::fs::read_dir(cache_dir.join("work/slot-0/cell-cache"))
        .map(|entries| entries.count())
        .unwrap_or(0)
}

/// Runs `cells` in a new kernel on `cache_dir`; what the last one printed.
fn run_in_new_kernel(cache_dir: &std::path::Path, cells: &[&str]) -> String {
    let kernel = Kernel::start_with_env(&[("MULTITASK_CACHE_DIR", cache_dir.as_os_str())]);
    let mut printed = String::new();
    for cell in cells {
        printed = kernel.run_ok(cell).stream_text("stdout");
    }
    printed
}

#[test]
fn a_restarted_kernel_reuses_compiled_cells_and_an_edited_early_cell_reaches_later_ones() {
    // A cache of its own, so that every kernel here gets the same work slot.
    let cache_dir = tempfile::tempdir().unwrap();
    let later_cells = ["let x = answer() + 1;", "println!(\"x = {x}\");"];
    let notebook = |first: &'static str| [&[first][..], &later_cells[..]].concat();

    // The slot's first kernel builds the prelude, as an install's seed does
    // once for every learner; kernels after it link the built prelude
    // without its `:dep` until a cell defines a variable.
    run_in_new_kernel(cache_dir.path(), &["println!(\"built\");"]);
    assert!(cache_dir
        .path()
        .join("work/slot-0/prelude-extern")
        .is_file());
    let before = cached_cells(cache_dir.path());

    let printed = run_in_new_kernel(cache_dir.path(), &notebook("fn answer() -> i32 { 41 }"));
    assert_eq!(printed, "x = 42\n");
    let first_run = cached_cells(cache_dir.path());
    assert!(first_run > before, "the notebook's builds are stored");
    assert!(first_run > later_cells.len(), "{first_run} cells cached");

    // Restart & Run All: the same builds, each found in the cache (a build
    // that missed would have been stored as one more entry).
    let printed = run_in_new_kernel(cache_dir.path(), &notebook("fn answer() -> i32 { 41 }"));
    assert_eq!(printed, "x = 42\n");
    assert_eq!(cached_cells(cache_dir.path()), first_run);

    // An edited first cell: the cells after it see the new function.
    let printed = run_in_new_kernel(cache_dir.path(), &notebook("fn answer() -> i32 { 1 }"));
    assert_eq!(printed, "x = 2\n");
    assert!(cached_cells(cache_dir.path()) > first_run);
}

#[test]
fn a_cell_whose_types_the_kernel_wrote_in_is_cached_under_its_own_key() {
    // A cache of its own, so that every kernel here gets the same work slot.
    let cache_dir = tempfile::tempdir().unwrap();
    run_in_new_kernel(cache_dir.path(), &["println!(\"built\");"]);
    let typed = ["let x: i32 = 6 * 7;", "println!(\"{x}\");"];
    assert_eq!(run_in_new_kernel(cache_dir.path(), &typed), "42\n");
    let after_typed = cached_cells(cache_dir.path());
    // The same cells with the type left to infer: rustc names it, the
    // kernel writes it in. Only the `let`'s build is new (the cell after it
    // is the same build as above), and it is stored under its own key...
    let inferred = ["let x = 6 * 7;", "println!(\"{x}\");"];
    assert_eq!(run_in_new_kernel(cache_dir.path(), &inferred), "42\n");
    assert_eq!(cached_cells(cache_dir.path()), after_typed + 1);
    // ...where Restart & Run All finds it, the same type remembered.
    assert_eq!(run_in_new_kernel(cache_dir.path(), &inferred), "42\n");
    assert_eq!(cached_cells(cache_dir.path()), after_typed + 1);
}

#[test]
fn restart_and_run_all_takes_variable_types_from_the_last_run_and_sees_an_edit() {
    use crate::protocol::{trimmed_copy_name, PRINT_ANALYZER_STD};

    // A cache of its own, so that every kernel here gets the same work slot.
    let cache_dir = tempfile::tempdir().unwrap();
    // `sq`'s type is one rustc names out of the cells' scope (`Square`), so
    // only the analyzer infers it, or the types remembered.
    let notebook = |first: &'static str| {
        [
            first,
            "let sq = shapes::Square(41);",
            "let x = sq.0 + 1;",
            "let kind = std::any::type_name_of_val(&x).to_owned();",
            PRINT_ANALYZER_STD,
            "println!(\"{kind} {x}\");",
        ]
    };
    // What the notebook's kernel printed: where the analyzer's link pointed
    // after the cells with variables, and the variable's type and value.
    let run = |first| {
        let kernel =
            Kernel::start_with_env(&[("MULTITASK_CACHE_DIR", cache_dir.path().as_os_str())]);
        notebook(first)
            .iter()
            .map(|cell| kernel.run_ok(cell).stream_text("stdout"))
            .collect::<String>()
    };
    // The slot's first kernel builds the prelude (as an install's seed does).
    run_in_new_kernel(cache_dir.path(), &["println!(\"built\");"]);

    let first_run = run("mod shapes { pub struct Square(pub u8); }");
    assert!(first_run.ends_with("u8 42\n"), "{first_run}");
    let Some(copy) = trimmed_copy_name() else {
        return;
    };
    assert!(first_run.contains(&copy), "types inferred: {first_run}");
    let cached = cached_cells(cache_dir.path());

    // Restart & Run All: the types are the last run's, the analyzer never
    // turns, and each build is found in the cache.
    let again = run("mod shapes { pub struct Square(pub u8); }");
    assert!(again.ends_with("u8 42\n"), "{again}");
    assert!(again.contains("rust-src-stub"), "no turn: {again}");
    assert_eq!(cached_cells(cache_dir.path()), cached);

    // An edited first cell: the later cells' types follow it.
    let edited = run("mod shapes { pub struct Square(pub i64); }");
    assert!(edited.ends_with("i64 42\n"), "{edited}");
    assert!(edited.contains(&copy), "types inferred: {edited}");
}
