"""The Jupyter conformance suite (jupyter_kernel_test) against the installed
`multitask` kernelspec, with a Rust sample for every test that applies."""

import unittest

import jupyter_kernel_test


class MultitaskKernelTests(jupyter_kernel_test.KernelTests):
    kernel_name = "multitask"
    language_name = "rust"
    file_extension = ".rs"

    code_hello_world = 'println!("hello, world");'
    code_stderr = 'eprintln!("something went wrong");'

    completion_samples = [
        {"text": "threading::get_id", "matches": {"get_ident"}},
        {"text": "mp::cpu_c", "matches": {"cpu_count"}},
        # The kernel's own magics complete too, beside evcxr's `:` commands.
        {"text": ":timel", "matches": {":timeline"}},
    ]

    complete_code_samples = [
        "let x = 1;",
        'fn greet() { println!("}"); }',
        "let lifetime_ok: &'static str = \"(\";",
    ]
    incomplete_code_samples = [
        "fn f() {",
        "let v = vec![1,",
        'let s = "an open string',
    ]
    invalid_code_samples = ["fn f() }", "let v = (1, 2];"]

    code_generate_error = 'panic!("this cell fails on purpose");'

    code_execute_result = [
        {"code": "6 * 7", "result": "42"},
        {"code": '"multitask".len()', "result": "9"},
    ]
    # GLOB as IPython searches: the `*` must stay a wildcard even where the
    # text holds a literal `*` ("6 *" matches "6 * 7").
    code_history_pattern = "6 *"
    supported_history_operations = ("tail", "range", "search")

    code_display_data = [
        {"code": 'display::html("<b>bold</b>");', "mime": "text/html"},
        {"code": 'display::svg("<svg xmlns=\\"http://www.w3.org/2000/svg\\"/>");', "mime": "image/svg+xml"},
        {"code": 'display::markdown("# title");', "mime": "text/markdown"},
    ]

    code_inspect_sample = "threading::Thread"
    code_page_something = ":doc threading::Lock"

    code_clear_output = 'println!("soon gone"); clear_output();'


class MultitaskIopubWelcomeTests(jupyter_kernel_test.IopubWelcomeTests):
    kernel_name = "multitask"
    support_iopub_welcome = True


if __name__ == "__main__":
    unittest.main()
