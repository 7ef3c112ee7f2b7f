"""evcxr 0.22's own integration tests (evcxr/tests/integration_tests.rs),
translated into what a notebook can see: cells and their replies, outputs,
completions and inspections. Each case keeps the name of the evcxr test it
stands for; a case runs after `:clear`, as each evcxr test starts from a new
context.

Left out, with the reason: `crate_deps` first turns static linking off
(`:allow_static_linking 0`) and then checks that a `static` inside a
dependency keeps its value from one cell to the next. In that mode evcxr's
rustc wrapper builds every library crate as a dynamic library too, which
fails for `no_std` crates that have no `std` feature to fall back on:
`unicode-ident` (under `serde`'s derive, which the course's queues use) and
`cfg-if` and `smallvec` (under the prelude's locks). This kernel refuses the
setting with that reason, so the translation keeps the rest of the test: a
missing crate and a missing feature fail, two path crates work.

What evcxr checks through its Rust API only is checked here through what the
kernel shows: variables and their types through `:vars`, a dropped variable
by the error of using it. Not translated, because no Jupyter message reaches
them: `check_for_errors` (evcxr's `check()`, diagnostics without running).
`printing` is checked per stream: a kernel's stdout and stderr are two pipes,
so the order between them is not kept (nor by evcxr_jupyter).
"""

from dataclasses import dataclass, field


@dataclass
class Step:
    """One thing to do in the notebook, and what must come of it."""

    kind: str  # "ok", "value", "stdout", "stderr", "shows", "fails", "complete", "inspect"
    code: str
    # value: the text/plain result; stdout/stderr: text the stream holds;
    # shows: text any output, result, page or error of the cell holds.
    text: str = ""
    # fails: texts the error (name, value, traceback) contains.
    needles: tuple = ()
    # complete: matches that must be there / must not be there; a prefix
    # every match starts with; a match's expected type.
    has: tuple = ()
    lacks: tuple = ()
    prefix: str = ""
    types: dict = field(default_factory=dict)
    # complete/inspect: where the cursor is (default: the end of the code).
    cursor: int = -1
    # complete: whether no match at all is expected.
    empty: bool = False


def ok(code):
    return Step("ok", code)


def value(code, text):
    return Step("value", code, text=text)


def stdout(code, text):
    return Step("stdout", code, text=text)


def stderr(code, text):
    return Step("stderr", code, text=text)


def shows(code, text):
    return Step("shows", code, text=text)


def fails(code, *needles):
    return Step("fails", code, needles=needles)


def complete(code, **expect):
    return Step("complete", code, **expect)


def inspect(code, cursor=-1, **expect):
    return Step("inspect", code, cursor=cursor, **expect)


def crate_source(name):
    """Marker for a temporary crate the runner writes (see `TEMP_CRATES`)."""
    return "{" + name + "}"


# Temporary crates some cases depend on: name -> (package name, lib.rs).
TEMP_CRATES = {
    "crate1": (
        "crate1",
        """use std::sync::atomic::AtomicU32;
static FOO: AtomicU32 = AtomicU32::new(0);
pub fn r20() -> i32 { 20 }
pub fn set_value(v: u32) { FOO.store(v, std::sync::atomic::Ordering::SeqCst); }
pub fn get_value() -> u32 { FOO.load(std::sync::atomic::Ordering::SeqCst) }
""",
    ),
    "crate2": ("crate2", "pub fn r22() -> i32 { 22 }\n"),
    "hyphens": ("crate-name-with-hyphens", "pub fn r42() -> i32 { 42 }\n"),
}

QUESTION_MARK_SETUP = """let owned = "owned".to_string();
let copy = 40;
let mut owned_mut = "owned_mut".to_string();
let mut copy_mut = 41;"""

QUESTION_MARK_RUN = """use std::io::Result;
owned_mut.push_str("42");
copy_mut += 1;
let copy = 42;
let copy2 = 42;
std::fs::read_to_string("/does/not/exist")?;
owned_mut.push_str("------");
copy_mut += 10;"""

COMPLETION_SETUP = """mod bar {
    pub struct Baz {}
    impl Baz {
        pub fn fff5() {}
    }
}
let var1 = 42;
let var2 = String::new();"""

COMPLETION_CODE = """fn foo() -> Vec<String> {
    vec![]
}
foo().res"""

REPEATED_USE_SETUP = """mod foo {
    pub struct Bar {}
    impl Bar {
        pub fn result() -> i32 { 42 }
        pub fn new() -> Bar { Bar {} }
    }
    pub struct Baz {}
    pub trait Foo {
        fn do_foo(&self) -> i32 { 42 }
    }
    impl Foo for Bar {}
    pub mod s1 { pub fn f1() {} }
    pub mod s2 { pub fn f2() {} }
}
use std::iter::Iterator as _;
use foo::Foo as _;
use foo::s1::*;
use foo::s2::*;
use foo::Bar;"""

CASES = {
    "single_statement": [ok("assert_eq!(40i32 + 2, 42);")],
    "save_and_restore_variables": [
        ok("let mut a = 34; let b = 8;"),
        ok("a = a + b;"),
        value("a", "42"),
        fails("b = 2;", "E0384"),
        ok(
            """pub mod foo {
    pub mod bar {
        pub struct Baz {}
        impl Baz {
            pub fn r42(&self) -> i32 { 42 }
        }
    }
}
fn create_baz() -> Result<Option<foo::bar::Baz>, i32> {
    Ok(Some(foo::bar::Baz {}))
}"""
        ),
        ok("let v1 = create_baz()?;"),
        ok("let v2 = create_baz()?;"),
        value("v1.unwrap().r42() + v2.unwrap().r42()", "84"),
    ],
    "missing_semicolon_on_let_stmt": [
        ok("mod foo { pub mod bar { pub struct Baz {} } }"),
        fails("let v1 = foo::bar::Baz {}", ";"),
    ],
    "printing": [
        stdout(
            'println!("This is stdout"); eprintln!("This is stderr"); '
            'println!("Another stdout line"); eprintln!("Another stderr line");',
            "This is stdout\nAnother stdout line\n",
        ),
        stderr(
            'println!("This is stdout"); eprintln!("This is stderr"); '
            'println!("Another stdout line"); eprintln!("Another stderr line");',
            "This is stderr\nAnother stderr line\n",
        ),
    ],
    "rc_refcell_etc": [
        ok(
            "use std::cell::RefCell; use std::rc::Rc;\n"
            "let r: Rc<RefCell<String>> = Rc::new(RefCell::new(String::new()));\n"
            "let r2: Rc<RefCell<String>> = Rc::clone(&r);"
        ),
        ok('r.borrow_mut().push_str("f"); let s = "oo";'),
        ok('r.borrow_mut().push_str(s); assert!(*r.borrow() == "foo");'),
    ],
    "define_then_call_function": [
        ok("pub fn bar() -> i32 { 42 }"),
        ok("pub fn foo() -> i32 { bar() }\nassert_eq!(foo(), 42);"),
    ],
    "function_panics_with_variable_preserving": [
        ok(":preserve_vars_on_panic 1\nlet a = vec![1, 2, 3];\nlet b = 42;"),
        fails('panic!("Intentional panic {}", b);', "Intentional panic 42"),
        value('format!("{:?}, {}", a, b)', '"[1, 2, 3], 42"'),
    ],
    "function_panics_without_variable_preserving": [
        ok(":preserve_vars_on_panic 0\nlet a = vec![1, 2, 3];\nlet b = 42;"),
        fails('panic!("Intentional panic {}", b);'),
        fails("a", "a"),
        fails("This will not compile"),
        fails("b", "b"),
    ],
    "tls_implementing_drop": [
        ok(
            """pub struct Foo {}
impl Drop for Foo {
    fn drop(&mut self) {
        println!("Dropping Foo");
    }
}
pub fn init_foo() {
    thread_local! {
        pub static FOO: Foo = Foo {};
    }
    FOO.with(|f| ())
}"""
        ),
        ok("init_foo();"),
    ],
    "moved_value": [
        ok('let a = Some("foo".to_owned());'),
        shows(":vars", "Option<String>"),
        value("a.unwrap()", '"foo"'),
        fails("a", "a"),
    ],
    "crate_deps": [
        fails(':dep bad = { path = "this_path_does_not_exist"}\n40'),
        fails(
            ":dep crate1 = { path = \"" + crate_source("crate1") + '", features = ["no_such_feature"] }',
            "no_such_feature",
        ),
        value(
            ":dep " + crate_source("crate1") + "\n:dep " + crate_source("crate2") + "\n"
            "crate1::set_value(765);\ncrate1::r20() + crate2::r22()",
            "42",
        ),
    ],
    "crate_name_with_hyphens": [
        value(
            ":dep " + crate_source("hyphens") + "\nuse crate_name_with_hyphens;\n"
            "crate_name_with_hyphens::r42()",
            "42",
        ),
    ],
    "crate_show_deps": [
        ok(":dep crate1 = { path = \"" + crate_source("crate1") + '", version = "0.0.1" }'),
        ok(":dep " + crate_source("crate2")),
        shows(":show_deps", 'crate1 = { path = "' + crate_source("crate1") + '", version = "0.0.1" }'),
        shows(":show_deps", 'crate2 = { path = "' + crate_source("crate2") + '" }'),
    ],
    "invalid_code": [fails("use crate;")],
    "struct_type_inference": [
        ok("#[derive(Debug)]\npub struct Point {\n    pub x: i32,\n    pub y: i32,\n}"),
        ok("let p1 = Point {x: 3, y: 8};"),
        value("p1", "Point { x: 3, y: 8 }"),
        ok("let Point {x, y: y2} = p1;"),
        ok("assert_eq!(x, 3);\nassert_eq!(y2, 8);"),
    ],
    "non_concrete_types": [
        ok("let a = (42, 3.14);"),
        shows(":vars", "(i32, f64)"),
    ],
    "statement_and_expression": [value('let a = "foo".to_owned() + "bar"; a', '"foobar"')],
    "continue_execution_after_bad_use_statement": [
        fails("use foobar;", "E0432"),
        value('"f".to_string() + "oo"', '"foo"'),
    ],
    "error_from_macro_expansion": [
        fails('let mut s = String::new(); s.push_str(format!(""));', "E0308"),
    ],
    "multiple_identical_use_statements": [
        ok("use std::collections::HashMap;"),
        ok("use std::collections::HashMap;"),
    ],
    "redefine_type_with_existing_var": [
        ok("struct Foo {x: i32}\nlet f1 = Foo {x: 42};\nlet f2 = Foo {x: 42};"),
        ok("struct Foo { x: i32, y: i32 }\nlet f3 = Foo {x: 42, y: 43};"),
        fails("f1.x", "f1"),
        ok("assert_eq!(f3.x, 42);"),
    ],
    "abort_and_restart": [
        ok("pub fn foo() -> i32 {\n    42\n}\nlet a = 42i32;"),
        fails("std::process::abort();", "signal: 6"),
        ok("assert_eq!(foo(), 42)"),
        fails("a", "a"),
        ok(":clear"),
        ok("assert_eq!(40 + 2, 42);"),
        fails("foo()", "foo"),
    ],
    "variable_assignment_compile_fail_then_use_statement": [
        fails("let v = foo();"),
        ok("use std::collections::HashMap;"),
        value("42", "42"),
    ],
    "int_array": [ok("let v = [42; 5];"), ok("assert_eq!(v[4], 42)")],
    "const_generics_with_explicit_type": [
        ok("struct Foo<const I: usize> {\n    data: [u8; I],\n}\nlet foo: Foo<3> = Foo::<3> { data: [41, 42, 43] };"),
        ok("assert_eq!(foo.data[1], 42)"),
    ],
    "reserved_words": [ok("mod r#async { pub struct Foo {} }\nlet v = r#async::Foo {};")],
    "unnamable_type_closure": [fails("let v = || {42};", "cannot be persisted")],
    "unnamable_type_impl_trait": [
        fails(
            "pub trait Bar {}\nimpl Bar for i32 {}\npub fn foo() -> impl Bar {42}\nlet v = foo();",
            "cannot be persisted",
        ),
    ],
    "partially_inferred_variable_type": [
        ok("let v : Vec<_> = (1..10).collect();"),
        ok("assert_eq!(v.len(), 9);"),
    ],
    "print_then_assign_variable": [ok('println!("Hello, world!");'), ok("let x = 42;")],
    "display_type": [
        shows(":types", "Types: true"),
        value("42", ": i32 = 42"),
        value('Some("hello".to_string())', ': Option<String> = Some("hello")'),
        shows(":types", "Types: false"),
        value("42", "42"),
    ],
    "shorten_type_name": [
        ok(":fmt {}"),
        shows(":types", "Types: true"),
        value('evcxr_shorten_type("alloc::string::String")', ": String = String"),
        value(
            'evcxr_shorten_type("core::option::Option<alloc::string::String>")',
            ": String = Option<String>",
        ),
        value('evcxr_shorten_type("i32")', ": String = i32"),
        shows(":types", "Types: false"),
    ],
    "question_mark_operator": [
        shows('std::fs::read_to_string("/does/not/exist")?;', "No such file"),
        fails(":efmt x"),
        ok(":efmt {:?}"),
        ok(QUESTION_MARK_SETUP),
        shows(QUESTION_MARK_RUN, "NotFound"),
        ok('assert_eq!(owned, "owned");\nassert_eq!(owned_mut, "owned_mut42");\nassert_eq!(copy_mut, 42);'),
        # The failed cell's `let copy = 42` took the old `copy` with it;
        # evcxr keeps copy_mut, owned and owned_mut only.
        fails("copy"),
        fails("copy2"),
    ],
    "format": [value('format!("{:2x}", 2)', '" 2"')],
    "non_semi_statements": [value("for a in 1..5 {}\nfor b in 1..5 {}\n42", "42")],
    "partial_destructuring": [ok("let _ = 1;\nlet (x, ..) = (42, 43, 44);"), value("x", "42")],
    "define_then_call_macro": [
        ok("macro_rules! foo {\n    ($a:expr) => {\n        40 + $a\n    };\n}"),
        value("foo!(2)", "42"),
    ],
    "code_completion": [
        ok(COMPLETION_SETUP),
        complete(COMPLETION_CODE, has=("reserve",), prefix="res"),
        complete(":de", has=(":dep",), prefix=":de"),
        complete(COMPLETION_CODE.replace("res", "asdfasdf"), empty=True),
        complete("let _ = v", has=("var1", "var2"), lacks=("vars_ok",)),
        complete(
            "let _ = e",
            lacks=("evcxr_variable_store", "evcxr_internal_runtime", "evcxr_analysis_wrapper"),
        ),
        complete("use bar::", has=("Baz",)),
        complete("use bar::Baz; Baz::", has=("fff5",)),
    ],
    "repeated_use_statements": [
        ok(REPEATED_USE_SETUP),
        fails("use this::will::fail;"),
        value("use foo::Bar as _; Bar::result()", "42"),
        value("use foo::{Bar, Baz}; f1(); f2(); Bar::new().do_foo()", "42"),
    ],
    "check_for_doc": [
        # As evcxr's test writes it: the item after a first, empty line.
        ok("\n    ///this is my struct\n    struct MyStruct(usize);\n    "),
        shows(":doc MyStruct", "this is my struct"),
        # As a learner writes it: the doc comment on the cell's first line
        # (evcxr alone drops it; the kernel keeps it).
        ok("/// the struct of the first line\nstruct FirstLine;"),
        shows(":doc FirstLine", "the struct of the first line"),
    ],
    "completion_fields_populated": [
        ok("fn foo() -> Vec<String> {\n    vec![]\n}"),
        complete("foo().res", has=("reserve",), types={"reserve": "function"}),
    ],
    "command_completion_fields": [complete(":de", has=(":dep",), types={":dep": "magic"})],
    "hover_at_returns_content": [
        inspect(
            "let _v: Vec<i32> = Vec::new()",
            cursor=len("let _v: Vec<i32> = Vec::new"),
            has=("new",),
        ),
    ],
    "hover_at_unknown_symbol_returns_fallback": [inspect("totally_unknown_function_xyz()")],
}

# Settings a case changes, put back after it whether it passed or not
# (`:clear` keeps settings).
RESTORE = {
    "function_panics_with_variable_preserving": [":preserve_vars_on_panic 1"],
    "function_panics_without_variable_preserving": [":preserve_vars_on_panic 1"],
    "shorten_type_name": [":fmt {:?}"],
    "question_mark_operator": [":efmt {}"],
}
