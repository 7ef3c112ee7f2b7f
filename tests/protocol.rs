//! Each message type, over the wire, against one shared kernel.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use jupyter_protocol::{
    CommInfoRequest, CompleteRequest, HistoryRequest, InspectRequest, IsCompleteReplyStatus,
    IsCompleteRequest, JupyterMessage, JupyterMessageContent, KernelInfoRequest,
};

use crate::kernel::harness::{execute_request, shared, Kernel};

static KERNEL: OnceLock<Mutex<Kernel>> = OnceLock::new();

fn status_sequence(messages: &[JupyterMessage]) -> Vec<String> {
    messages
        .iter()
        .map(|message| match &message.content {
            JupyterMessageContent::Status(status) => status.execution_state.as_str().to_owned(),
            _ => message.message_type().to_owned(),
        })
        .collect()
}

#[test]
fn kernel_info_describes_rust_between_busy_and_idle() {
    let kernel = shared(&KERNEL);
    let exchange = kernel.exchange(KernelInfoRequest {});
    let JupyterMessageContent::KernelInfoReply(info) = &exchange.reply.content else {
        panic!("{:?}", exchange.reply);
    };
    let language = &info.language_info;
    assert_eq!(language.name, "rust");
    assert_eq!(language.file_extension.as_deref(), Some(".rs"));
    assert_eq!(language.mimetype.as_deref(), Some("text/rust"));
    assert_eq!(language.pygments_lexer.as_deref(), Some("rust"));
    assert!(language.version.starts_with("1."), "{}", language.version);
    assert_eq!(info.protocol_version, "5.3");
    assert_eq!(status_sequence(&exchange.iopub), ["busy", "idle"]);
}

#[test]
fn kernel_info_is_also_answered_on_control() {
    let kernel = shared(&KERNEL);
    let request = kernel.send(&kernel.control, KernelInfoRequest {});
    let reply = kernel.reply_to(&kernel.control, &request);
    assert_eq!(reply.message_type(), "kernel_info_reply");
}

#[test]
fn execution_publishes_in_protocol_order() {
    let kernel = shared(&KERNEL);
    let exchange = kernel.run_ok(r#"println!("one"); println!("two");"#);
    assert_eq!(
        status_sequence(&exchange.iopub),
        ["busy", "execute_input", "stream", "idle"]
    );
    assert_eq!(exchange.stream_text("stdout"), "one\ntwo\n");
}

#[test]
fn is_complete_reads_brackets_strings_and_comments() {
    let kernel = shared(&KERNEL);
    let cases = [
        ("let x = 1;", IsCompleteReplyStatus::Complete, ""),
        (
            "fn f() {\n    let v = vec![",
            IsCompleteReplyStatus::Incomplete,
            "        ",
        ),
        ("fn f() }", IsCompleteReplyStatus::Invalid, ""),
        ("let s = \"}\"; // {", IsCompleteReplyStatus::Complete, ""),
    ];
    for (code, status, indent) in cases {
        let exchange = kernel.exchange(IsCompleteRequest {
            code: code.to_owned(),
        });
        let JupyterMessageContent::IsCompleteReply(reply) = &exchange.reply.content else {
            panic!("{:?}", exchange.reply);
        };
        assert_eq!(reply.status, status, "{code}");
        assert_eq!(reply.indent, indent, "{code}");
    }
}

#[test]
fn completion_offers_prelude_names() {
    let kernel = shared(&KERNEL);
    let code = "let n = mp::cpu_c";
    let exchange = kernel.exchange(CompleteRequest {
        code: code.to_owned(),
        cursor_pos: code.chars().count(),
    });
    let JupyterMessageContent::CompleteReply(reply) = &exchange.reply.content else {
        panic!("{:?}", exchange.reply);
    };
    assert!(
        reply.matches.contains(&"cpu_count".to_owned()),
        "{:?}",
        reply.matches
    );
    assert_eq!(reply.cursor_start, code.len() - "cpu_c".len());
    assert_eq!(reply.cursor_end, code.len());
}

/// A cell that prints where the link `RUST_SRC_PATH` names points now.
pub(crate) const PRINT_ANALYZER_STD: &str = "match std::env::var(\"RUST_SRC_PATH\") {
    Ok(link) => println!(\"{}\", std::fs::read_link(link).unwrap().display()),
    Err(_) => println!(\"unset\"),
}";

/// A comment line no earlier kernel ran: cells after it have a history of
/// their own, so no variable type is remembered for them from an earlier
/// run (`known_types.rs`), as the machine's cache may hold one.
fn unseen_history() -> String {
    format!("// a history of its own: {}\n", uuid::Uuid::new_v4())
}

/// Runs `code`, then prints where the analyzer's link points (as
/// [`PRINT_ANALYZER_STD`]), in one cell; returns what it printed.
fn run_and_print_analyzer_std(kernel: &Kernel, code: &str) -> String {
    kernel
        .run_ok(&format!("{code}\n{PRINT_ANALYZER_STD}"))
        .stream_text("stdout")
}

/// The name of the trimmed standard library's copy for this toolchain, if
/// it has `rust-src` (without it nothing is trimmed and nothing is set).
pub(crate) fn trimmed_copy_name() -> Option<String> {
    let library = multitask_kernel::std_sources::toolchain_library()?;
    Some(multitask_kernel::std_sources::copy_name(&library).unwrap())
}

#[test]
fn the_analyzer_reads_the_trimmed_standard_library_and_still_knows_std() {
    let kernel = shared(&KERNEL);
    // A completion shows the analyzer the real library, whatever ran before.
    assert!(complete(&kernel, "let v: Vec<u8> = Vec::with_cap")
        .matches
        .contains(&"with_capacity".to_owned()));
    // The runtime inherits the kernel's environment, as evcxr's analyzer
    // sees it.
    let printed = kernel.run_ok(PRINT_ANALYZER_STD).stream_text("stdout");
    let Some(copy) = trimmed_copy_name() else {
        assert_eq!(printed, "unset\n");
        return;
    };
    assert!(
        printed.contains(&copy) && printed.trim_end().ends_with("library"),
        "{printed}"
    );
    kernel.run_ok("let grid = vec![vec![0u8; 3]; 2];");
    assert_eq!(
        kernel
            .run_ok("grid.len() * grid[0].len()")
            .result_text()
            .as_deref(),
        Some("6")
    );
}

/// A cell defining a variable whose type rustc names `Square` (its shortest
/// unique name), which the cell's scope does not have: the type is inferred
/// by the analyzer, after its turn.
const NAMED_OUT_OF_SCOPE: &str = "mod shapes { pub struct Square(pub u32); }\n\
                                  let square = shapes::Square(4);";

#[test]
fn the_analyzer_sees_a_stub_std_until_a_variable_needs_it() {
    // A kernel of its own: its first cells are what this is about. Each
    // cell is sent while the kernel is still busy, so no reading pause comes
    // between them.
    let kernel = Kernel::start();
    let items_only = format!(
        "{}fn words() -> Vec<String> {{ vec![\"ab\".into(), \"c\".into()] }}\n{PRINT_ANALYZER_STD}",
        unseen_history()
    );
    let printed = kernel.run_ok(&items_only).stream_text("stdout");
    let Some(copy) = trimmed_copy_name() else {
        assert_eq!(printed, "unset\n");
        return;
    };
    // Items and statements without `let` need no types from the analyzer,
    // nor do variables whose types rustc names in the cell's scope.
    assert!(printed.trim_end().ends_with("rust-src-stub"), "{printed}");
    let printed = run_and_print_analyzer_std(
        &kernel,
        "let lengths: Vec<usize> = words().iter().map(String::len).collect();\n\
         let joined = words().concat();",
    );
    assert!(printed.trim_end().ends_with("rust-src-stub"), "{printed}");
    // A type rustc names out of the cell's scope is the analyzer's to
    // infer, shown std before the cell.
    let printed = run_and_print_analyzer_std(&kernel, NAMED_OUT_OF_SCOPE);
    assert!(printed.contains(&copy), "{printed}");
    assert_eq!(
        kernel
            .run_ok("format!(\"{lengths:?} {joined} {}\", square.0)")
            .result_text()
            .as_deref(),
        Some("\"[2, 1] abc 4\"")
    );
    let exchange = kernel.exchange(InspectRequest {
        code: "joined".to_owned(),
        cursor_pos: 3,
        detail_level: Some(0),
    });
    let JupyterMessageContent::InspectReply(reply) = &exchange.reply.content else {
        panic!("{:?}", exchange.reply);
    };
    assert!(
        format!("{:?}", reply.data).contains("String"),
        "{:?}",
        reply.data
    );
}

#[test]
fn variables_whose_types_rustc_names_wait_for_no_turn_and_are_built_once() {
    // A kernel of its own, its cells sent back to back (no reading pause).
    let kernel = Kernel::start();
    let cell = format!(
        "{}let readings = vec![3, 1, 2];\n\
         let mean = readings.iter().sum::<i32>() as f64 / 3.0;\n\
         let small = 7;\n\
         let byte: u8 = small;\n\
         let label = {{ println!(\"ran\"); format!(\"n={{}}\", readings.len()) }};",
        unseen_history()
    );
    let ran = kernel.run_ok(&format!("{cell}\n{PRINT_ANALYZER_STD}"));
    let printed = ran.stream_text("stdout");
    // Asking rustc runs nothing: the cell's code ran once.
    assert_eq!(printed.matches("ran\n").count(), 1, "{printed}");
    if trimmed_copy_name().is_some() {
        assert!(printed.trim_end().ends_with("rust-src-stub"), "{printed}");
    }
    // `small` is a `u8` (settled by a later line), an unsettled literal
    // would be an `i32`, as rustc decides.
    assert_eq!(
        kernel
            .run_ok(
                "format!(\"{readings:?} {mean} {label} {} {}\", \
                 std::any::type_name_of_val(&small), std::any::type_name_of_val(&readings))"
            )
            .result_text()
            .as_deref(),
        Some("\"[3, 1, 2] 2 n=3 u8 alloc::vec::Vec<i32>\"")
    );
    // `byte` was kept too, as written.
    assert_eq!(
        kernel.run_ok("byte + 1").result_text().as_deref(),
        Some("8")
    );
}

#[test]
fn a_session_stops_asking_rustc_once_that_costs_what_the_turn_would() {
    // A kernel of its own, its cells sent back to back (no reading pause).
    let kernel = Kernel::start();
    let Some(link) = analyzer_link(&kernel) else {
        return;
    };
    kernel.run_ok(&format!("{}let first = 1;", unseen_history()));
    assert!(!analyzer_reads_std(&link));
    // Each asking is about two builds (tenths of a second): within the
    // budget of five seconds a few, never forty.
    let asked = (0..40)
        .take_while(|n| {
            kernel.run_ok(&format!("let v{n} = vec![{n}];"));
            !analyzer_reads_std(&link)
        })
        .count();
    assert!((2..40).contains(&asked), "{asked} cells asked rustc");
    assert_eq!(
        kernel
            .run_ok("v0.len() as i32 + first")
            .result_text()
            .as_deref(),
        Some("2")
    );
}

#[test]
fn variables_whose_types_are_spelled_out_wait_for_no_turn_and_outlive_it() {
    // A kernel of its own, its cells sent back to back (no reading pause).
    let kernel = Kernel::start();
    let printed = run_and_print_analyzer_std(
        &kernel,
        &format!(
            "{}struct Point(i32);\nlet origin: Point = Point(41);\n\
             let label: String = String::from(\"p\");",
            unseen_history()
        ),
    );
    let Some(copy) = trimmed_copy_name() else {
        assert_eq!(printed, "unset\n");
        return;
    };
    // evcxr takes the types as written: the analyzer stays on the stub.
    assert!(printed.trim_end().ends_with("rust-src-stub"), "{printed}");
    // A type for the analyzer to infer turns it. `origin`'s type was
    // defined by a cell, so it survives only if the prelude's dependency
    // came before the variable (the cell crate's `-C metadata`, and the
    // `TypeId`s, stay the same).
    let printed = run_and_print_analyzer_std(
        &kernel,
        &format!("let next = origin.0 + 1;\n{NAMED_OUT_OF_SCOPE}"),
    );
    assert!(printed.contains(&copy), "{printed}");
    assert_eq!(
        kernel
            .run_ok("format!(\"{label}{next} {} {}\", origin.0, square.0)")
            .result_text()
            .as_deref(),
        Some("\"p42 41 4\"")
    );
}

/// The link `RUST_SRC_PATH` names, as the kernel's runtime sees it; `None`
/// for a toolchain without `rust-src` (nothing is trimmed, nothing set).
pub(crate) fn analyzer_link(kernel: &Kernel) -> Option<PathBuf> {
    let printed = kernel
        .run_ok("println!(\"{}\", std::env::var(\"RUST_SRC_PATH\").unwrap_or_default());")
        .stream_text("stdout");
    let link = printed.trim_end();
    assert_eq!(link.is_empty(), trimmed_copy_name().is_none(), "{printed}");
    (!link.is_empty()).then(|| PathBuf::from(link))
}

/// Whether `link` points at the trimmed standard library (not the stub),
/// looked at from outside the kernel, so the look is no request to it.
pub(crate) fn analyzer_reads_std(link: &Path) -> bool {
    let target = std::fs::read_link(link).unwrap();
    assert!(
        target.ends_with("library") || target.to_string_lossy().ends_with("rust-src-stub"),
        "{target:?}"
    );
    target.ends_with("library")
}

/// Looks at `link` until the analyzer reads `std` or `limit` passed; how
/// long it took.
pub(crate) fn wait_for_the_read(link: &Path, limit: Duration) -> Option<Duration> {
    let started = Instant::now();
    while started.elapsed() < limit {
        if analyzer_reads_std(link) {
            return Some(started.elapsed());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    None
}

#[test]
fn the_analyzer_reads_std_while_the_learner_reads() {
    let kernel = Kernel::start();
    let Some(link) = analyzer_link(&kernel) else {
        return;
    };
    assert!(!analyzer_reads_std(&link));
    // No request for a while: the engine turns the analyzer by itself, at
    // once if a core is spare, after a long pause whatever the load.
    assert!(
        wait_for_the_read(&link, Duration::from_secs(120)).is_some(),
        "the analyzer still sees the stub after 120 s without a request"
    );
}

/// The complete_reply for `code` with the cursor at its end.
fn complete(
    kernel: &crate::kernel::harness::Kernel,
    code: &str,
) -> jupyter_protocol::CompleteReply {
    let exchange = kernel.exchange(CompleteRequest {
        code: code.to_owned(),
        cursor_pos: code.chars().count(),
    });
    match exchange.reply.content {
        JupyterMessageContent::CompleteReply(reply) => reply,
        other => panic!("{other:?}"),
    }
}

#[test]
fn completion_hides_internals_and_says_what_each_match_is() {
    let kernel = shared(&KERNEL);
    let reply = complete(&kernel, "threading::current_thread");
    assert!(
        reply.matches.contains(&"current_thread".to_owned()),
        "{:?}",
        reply.matches
    );
    assert!(
        !reply
            .matches
            .contains(&"current_thread_abandoned".to_owned()),
        "{:?}",
        reply.matches
    );
    let types = reply.metadata["_jupyter_types_experimental"]
        .as_array()
        .expect("a type for each match");
    assert_eq!(types.len(), reply.matches.len());
    let current_thread = types
        .iter()
        .find(|found| found["text"] == "current_thread")
        .expect("current_thread's type");
    assert_eq!(current_thread["type"], "function");

    // The trait that shows final values is the kernel's machinery.
    let reply = complete(&kernel, "display::");
    assert!(
        reply.matches.contains(&"progress".to_owned()),
        "{:?}",
        reply.matches
    );
    // Nor are display's own imports and private modules.
    for internal in [
        "ShowFinalValue",
        "Ordering",
        "AtomicU64",
        "Event",
        "progress_bar::",
    ] {
        assert!(
            !reply.matches.contains(&internal.to_owned()),
            "{internal} in {:?}",
            reply.matches
        );
    }

    let reply = complete(&kernel, "let store = evcxr_");
    assert!(
        reply
            .matches
            .iter()
            .all(|found| !found.starts_with("evcxr_")),
        "{:?}",
        reply.matches
    );

    let reply = complete(&kernel, ":timel");
    assert_eq!(reply.matches, [":timeline"]);
    assert_eq!(
        reply.metadata["_jupyter_types_experimental"][0]["type"],
        "magic"
    );
}

#[test]
fn inspection_shows_prelude_documentation() {
    let kernel = shared(&KERNEL);
    let code = "threading::Lock";
    let exchange = kernel.exchange(InspectRequest {
        code: code.to_owned(),
        cursor_pos: code.len(),
        detail_level: Some(0),
    });
    let JupyterMessageContent::InspectReply(reply) = &exchange.reply.content else {
        panic!("{:?}", exchange.reply);
    };
    assert!(reply.found);
    let data = serde_json::to_value(&reply.data).unwrap();
    let text = data["text/plain"].as_str().unwrap_or_default();
    assert!(text.contains("Lock"), "{text}");
}

#[test]
fn history_lists_what_ran() {
    let kernel = shared(&KERNEL);
    kernel.run_ok("let history_marker = 7;");
    let exchange = kernel.exchange(HistoryRequest::Search {
        pattern: "*history_marker*".to_owned(),
        unique: true,
        output: false,
        raw: true,
        n: 1,
    });
    let JupyterMessageContent::HistoryReply(reply) = &exchange.reply.content else {
        panic!("{:?}", exchange.reply);
    };
    let entries = serde_json::to_value(&reply.history).unwrap();
    assert_eq!(entries[0][2], "let history_marker = 7;");
}

#[test]
fn comm_info_is_empty() {
    let kernel = shared(&KERNEL);
    let exchange = kernel.exchange(CommInfoRequest { target_name: None });
    let JupyterMessageContent::CommInfoReply(reply) = &exchange.reply.content else {
        panic!("{:?}", exchange.reply);
    };
    assert!(reply.comms.is_empty());
}

#[test]
fn forged_and_garbled_messages_are_ignored() {
    let kernel = shared(&KERNEL);
    // A message signed with another key.
    let forger = multitask_kernel::wire::Signer::new("hmac-sha256", "wrong-key").unwrap();
    let forged = kernel.request(execute_request(r#"println!("forged ran");"#));
    kernel
        .shell
        .send_multipart(multitask_kernel::wire::encode(&forged, &forger), 0)
        .unwrap();
    // Frames that are not a message at all.
    kernel
        .shell
        .send_multipart(vec![b"<IDS|MSG>".to_vec(), b"x".to_vec()], 0)
        .unwrap();
    assert!(
        kernel
            .receive(&kernel.shell, Duration::from_millis(500))
            .is_none(),
        "a forged message was answered"
    );
    // The kernel still serves, and never ran the forged code.
    let exchange = kernel.run_ok(r#"println!("still here");"#);
    assert_eq!(exchange.stream_text("stdout"), "still here\n");
}

#[test]
fn heartbeat_echoes() {
    let kernel = shared(&KERNEL);
    kernel.heartbeat.send(&b"ping"[..], 0).unwrap();
    assert_eq!(kernel.heartbeat.poll(zmq::POLLIN, 5000).unwrap(), 1);
    assert_eq!(kernel.heartbeat.recv_bytes(0).unwrap(), b"ping");
}
