//! The cell cache's parts on their own: recognising a cell's compile, its key,
//! the canonical source, and storing, restoring and evicting entries.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use super::source::canonical_source;
use super::store::{reads_only, CellCache, Replay};
use super::CellCompile;

fn words(line: &str) -> Vec<OsString> {
    line.split_whitespace().map(OsString::from).collect()
}

const CELL_COMPILE: &str = "/toolchain/bin/rustc --crate-name ctx --edition=2024 src/lib.rs \
    --error-format=json --crate-type cdylib --emit=dep-info,link -C opt-level=1 \
    -C metadata=670c4f575db7fb6c --out-dir /slot/target/debug/deps \
    -C incremental=/slot/target/debug/incremental \
    --extern multitask=/slot/target/debug/deps/libmultitask-58.rlib";

#[test]
fn only_a_cells_linked_build_is_a_cell_compile() {
    let compile = CellCompile::recognise(&words(CELL_COMPILE)).expect("a cell's compile");
    assert_eq!(compile.source, Path::new("src/lib.rs"));
    assert_eq!(compile.out_dir, Path::new("/slot/target/debug/deps"));
    assert_eq!(
        compile.externs,
        [Path::new("/slot/target/debug/deps/libmultitask-58.rlib")]
    );
    // rustc gets what cargo passed, then the cells' own link options.
    assert_eq!(
        compile.rustc_arguments,
        [
            &words(CELL_COMPILE)[1..],
            &words(&super::CELL_LINK_ARGUMENTS.join(" "))
        ]
        .concat()
    );
    let check = CELL_COMPILE.replace("--emit=dep-info,link", "--emit=dep-info,metadata");
    assert!(CellCompile::recognise(&words(&check)).is_none());
    let dependency = CELL_COMPILE.replace("--crate-name ctx", "--crate-name serde");
    assert!(CellCompile::recognise(&words(&dependency)).is_none());
    assert!(CellCompile::recognise(&words("/toolchain/bin/rustc -vV")).is_none());
}

/// A work slot with a cell source and one extern crate.
struct Slot {
    dir: tempfile::TempDir,
}

impl Slot {
    fn new() -> Slot {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("src")).unwrap();
        std::fs::write(dir.path().join("src/lib.rs"), "fn f() -> i32 { 1 }").unwrap();
        std::fs::write(dir.path().join("libprelude.rlib"), "prelude v1").unwrap();
        std::fs::write(dir.path().join("rustc"), "the compiler").unwrap();
        Slot { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn source(&self) -> String {
        std::fs::read_to_string(self.path("src/lib.rs")).unwrap()
    }

    fn compile(&self) -> CellCompile {
        let line = format!(
            "{} --crate-name ctx src/lib.rs --emit=dep-info,link --out-dir {} --extern multitask={}",
            self.path("rustc").display(),
            self.path("out").display(),
            self.path("libprelude.rlib").display()
        );
        CellCompile::recognise(&words(&line)).unwrap()
    }

    fn key(&self, environment: &[(&str, &str)]) -> String {
        let environment: Vec<(OsString, OsString)> = environment
            .iter()
            .map(|(name, value)| (name.into(), value.into()))
            .collect();
        let keys = self.compile().keys(&self.source(), &environment).unwrap();
        assert_eq!(keys.len(), 1, "a cell without written types has one key");
        keys[0].clone()
    }
}

#[test]
fn the_key_changes_with_the_source_the_crates_and_cargos_environment_only() {
    let slot = Slot::new();
    let first = slot.key(&[
        ("CARGO_PKG_NAME", "ctx"),
        ("CARGO_MAKEFLAGS", "-j --jobserver-fds=8,9"),
    ]);
    assert_eq!(
        first,
        slot.key(&[
            ("CARGO_PKG_NAME", "ctx"),
            ("CARGO_MAKEFLAGS", "-j --jobserver-fds=3,4")
        ]),
        "the jobserver's descriptors change nothing"
    );
    assert_eq!(
        first,
        slot.key(&[("CARGO_PKG_NAME", "ctx"), ("HOME", "/elsewhere")])
    );
    assert_ne!(first, slot.key(&[("CARGO_PKG_NAME", "other")]));

    std::fs::write(slot.path("src/lib.rs"), "fn f() -> i32 { 2 }").unwrap();
    let edited_cell = slot.key(&[("CARGO_PKG_NAME", "ctx")]);
    assert_ne!(first, edited_cell);

    std::fs::write(slot.path("libprelude.rlib"), "prelude v2").unwrap();
    assert_ne!(edited_cell, slot.key(&[("CARGO_PKG_NAME", "ctx")]));

    std::fs::remove_file(slot.path("libprelude.rlib")).unwrap();
    assert!(
        slot.compile().keys(&slot.source(), &[]).is_none(),
        "an unreadable input is no key"
    );
}

#[test]
fn a_cell_with_written_types_is_looked_up_under_its_own_key_then_as_written() {
    let slot = Slot::new();
    std::fs::write(slot.path("src/lib.rs"), "fn f() { let x = 1; }").unwrap();
    let as_written = slot.key(&[]);
    std::fs::write(
        slot.path("src/lib.rs"),
        "fn f() { let x/*known:*/: i32/*:known*/ = 1; }",
    )
    .unwrap();
    let keys = slot.compile().keys(&slot.source(), &[]).unwrap();
    assert_eq!(keys.len(), 2);
    assert_ne!(keys[0], as_written, "its own build is kept apart");
    assert_eq!(keys[1], as_written, "the cell as written's build serves it");
}

#[test]
fn the_order_of_items_does_not_change_the_source_where_it_means_nothing() {
    let evcxr_wrote = "#![allow(unused)]\nuse a::b;\nfn f() -> i32 { 1 }\nuse c::d;\n";
    let after_restart = "#![allow(unused)]\nuse c::d;\nuse a::b;\nfn f() -> i32 { 1 }\n";
    assert_eq!(
        canonical_source(evcxr_wrote),
        canonical_source(after_restart)
    );
    let other_body = "#![allow(unused)]\nuse c::d;\nuse a::b;\nfn f() -> i32 { 2 }\n";
    assert_ne!(canonical_source(evcxr_wrote), canonical_source(other_body));

    let with_macros = "macro_rules! m { () => {} }\nfn f() { m!(); }\n";
    let reordered = "fn f() { m!(); }\nmacro_rules! m { () => {} }\n";
    assert_ne!(canonical_source(with_macros), canonical_source(reordered));
    let broken = "fn f( {\nfn g() {}\n";
    assert_eq!(canonical_source(broken), [broken]);
}

#[test]
fn evcxrs_variable_statements_are_sorted_within_their_runs() {
    let stored = |names: [&str; 2]| {
        let [first, second] = names;
        format!(
            "fn run() {{\n\
             vars_ok &= evcxr_variable_store.check_variable::<i32>(stringify!({first}));\n\
             vars_ok &= evcxr_variable_store.check_variable::<i32>(stringify!({second}));\n\
             let {first} = evcxr_variable_store.take_variable::<i32>(stringify!({first}));\n\
             let {second} = evcxr_variable_store.take_variable::<i32>(stringify!({second}));\n\
             user_code();\n\
             evcxr_variable_store.put_variable::<i32>(stringify!({first}), {first});\n\
             evcxr_variable_store.put_variable::<i32>(stringify!({second}), {second});\n\
             }}\n"
        )
    };
    assert_eq!(
        canonical_source(&stored(["a", "b"])),
        canonical_source(&stored(["b", "a"]))
    );
    let users_own = "fn run() {\nlet a = 1;\nlet b = 2;\n}\n";
    let users_swapped = "fn run() {\nlet b = 2;\nlet a = 1;\n}\n";
    assert_ne!(canonical_source(users_own), canonical_source(users_swapped));
}

#[test]
fn dep_info_that_names_another_file_or_an_environment_variable_is_not_stored() {
    let source = Path::new("src/lib.rs");
    let plain = "/s/deps/ctx.d: src/lib.rs\n\n/s/deps/libctx.so: src/lib.rs\n\nsrc/lib.rs:\n";
    assert!(reads_only(plain, source));
    let included =
        "/s/deps/ctx.d: src/lib.rs /home/me/data.txt\n\nsrc/lib.rs:\n/home/me/data.txt:\n";
    assert!(!reads_only(included, source));
    let environment = format!("{plain}\n# env-dep:HOME=/root\n");
    assert!(!reads_only(&environment, source));
}

fn rustc_printed(out_dir: &Path) -> Replay {
    let stderr = format!(
        "{{\"$message_type\":\"artifact\",\"artifact\":\"{0}/ctx.d\",\"emit\":\"dep-info\"}}\n\
         {{\"$message_type\":\"artifact\",\"artifact\":\"{0}/libctx.so\",\"emit\":\"link\"}}\n",
        out_dir.display()
    );
    Replay {
        stdout: Vec::new(),
        stderr: stderr.into_bytes(),
    }
}

fn build_into(out_dir: &Path, library: &str, dep_info: &str) {
    std::fs::create_dir_all(out_dir).unwrap();
    std::fs::write(out_dir.join("libctx.so"), library).unwrap();
    std::fs::write(out_dir.join("ctx.d"), dep_info).unwrap();
}

#[test]
fn a_stored_build_is_restored_in_place_and_what_rustc_printed_is_replayed() {
    let slot = Slot::new();
    let out_dir = slot.path("out");
    let cache = CellCache::new(slot.path("cell-cache"), 1 << 20);
    let printed = rustc_printed(&out_dir);
    assert!(cache.restore("k1").is_none());

    build_into(&out_dir, "library one", "ctx.d: src/lib.rs\n");
    cache.store("k1", &printed, Path::new("src/lib.rs"));
    build_into(&out_dir, "something else", "");

    assert_eq!(cache.restore("k1"), Some(printed));
    assert_eq!(
        std::fs::read_to_string(out_dir.join("libctx.so")).unwrap(),
        "library one"
    );
    assert_eq!(
        std::fs::read_to_string(out_dir.join("ctx.d")).unwrap(),
        "ctx.d: src/lib.rs\n"
    );
}

#[test]
fn a_build_that_read_another_file_is_not_stored() {
    let slot = Slot::new();
    let out_dir = slot.path("out");
    let cache = CellCache::new(slot.path("cell-cache"), 1 << 20);
    build_into(&out_dir, "library", "ctx.d: src/lib.rs /data.txt\n");
    cache.store("k1", &rustc_printed(&out_dir), Path::new("src/lib.rs"));
    assert!(cache.restore("k1").is_none());
}

#[test]
fn past_the_size_limit_the_least_recently_used_entries_go() {
    let slot = Slot::new();
    let out_dir = slot.path("out");
    // Room for two entries of ~2.2 kB each, not three (the third's size
    // times three tells); an eviction leaves at most three quarters of it
    // used, still room for two.
    let cache = CellCache::new(slot.path("cell-cache"), 6500);
    let printed = rustc_printed(&out_dir);
    for key in ["old", "used", "new"] {
        build_into(&out_dir, &"x".repeat(2000), "ctx.d: src/lib.rs\n");
        cache.store(key, &printed, Path::new("src/lib.rs"));
        if key == "used" {
            // `old` was used last, after `used` was stored.
            std::thread::sleep(std::time::Duration::from_millis(20));
            assert!(cache.restore("old").is_some());
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }
    assert!(
        cache.restore("used").is_none(),
        "the least recently used entry went"
    );
    assert!(cache.restore("old").is_some());
    assert!(cache.restore("new").is_some());
}
