use std::ffi::OsStr;

use super::*;

/// A slot's remembered types, a session started in it.
fn session(dir: &tempfile::TempDir) -> KnownTypes {
    KnownTypes::new(dir.path(), &[OsStr::new("prelude-1"), OsStr::new("std-1")])
}

#[test]
fn types_evcxr_gave_are_written_into_the_same_cell_after_the_same_cells() {
    let dir = tempfile::tempdir().unwrap();
    let first = "fn answer() -> u8 { 42 }";
    let cell = ":dep rand\nlet mut total = answer();\nlet name: String = \"n\".into();";
    let mut before = session(&dir);
    before.ran(first, true);
    assert_eq!(before.annotate(cell), None, "nothing remembered yet");
    before.remember(
        cell,
        [("total", "u8"), ("name", "String"), ("old", "i32")].into_iter(),
    );
    before.ran(cell, true);

    let mut after = session(&dir);
    after.ran(first, true);
    let annotated = after.annotate(cell).unwrap();
    assert_eq!(
        annotated,
        ":dep rand\nlet mut total/*known:*/: u8/*:known*/ = answer();\nlet name: String = \"n\".into();"
    );
    assert_eq!(as_written(&annotated), cell);
    assert!(matches!(as_written(cell), Cow::Borrowed(_)));
}

#[test]
fn another_history_or_origin_remembers_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let cell = "let total = answer();";
    let mut before = session(&dir);
    before.ran("fn answer() -> u8 { 42 }", true);
    before.remember(cell, [("total", "u8")].into_iter());

    let mut edited = session(&dir);
    edited.ran("fn answer() -> i64 { 42 }", true);
    assert_eq!(edited.annotate(cell), None, "an edited earlier cell");
    let mut failed = session(&dir);
    failed.ran("fn answer() -> u8 { 42 }", false);
    assert_eq!(failed.annotate(cell), None, "an earlier cell that failed");
    let mut other = KnownTypes::new(dir.path(), &[OsStr::new("prelude-2"), OsStr::new("std-1")]);
    other.ran("fn answer() -> u8 { 42 }", true);
    assert_eq!(other.annotate(cell), None, "another prelude");
}

#[test]
fn only_a_let_binding_one_name_of_its_own_is_annotated() {
    let dir = tempfile::tempdir().unwrap();
    let known = [("a", "i32"), ("b", "i32"), ("v", "Vec<i32>")];
    for cell in [
        "let (a, b) = (1, 2);",
        "let a = 1;\nlet a = a + 1;",
        "let v: Vec<_> = vec![1];",
        "let a @ 1..=9 = 5 else { return };",
        "let b = 2;\nlet unknown = 3;",
        "let broken = (;",
    ] {
        let before = session(&dir);
        before.remember(cell, known.into_iter());
        assert_eq!(session(&dir).annotate(cell), None, "{cell}");
    }
}

#[test]
fn the_oldest_entries_go_past_the_limit() {
    let dir = tempfile::tempdir().unwrap();
    let mut known = session(&dir);
    known.limit = 8;
    for number in 0..=8 {
        known.remember(&format!("let x = {number};"), [("x", "i32")].into_iter());
        known.ran("", true);
    }
    let kept = std::fs::read_dir(dir.path().join(DIR)).unwrap().count();
    assert_eq!(kept, 7, "the oldest quarter of 9 gone");
}
