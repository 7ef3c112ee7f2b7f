//! The prelude's layers (issue 14): system calls → shared memory and
//! synchronisation primitives → process-wide state and the cell lifecycle →
//! the Python-named modules → the facade. The module graph is read from the
//! sources (`crate::`, `super::` and `self::` paths, `use` trees expanded),
//! and every import must run down [`ORDER`], a topological order: so the
//! graph without the listed imports has no cycle. An import that runs up
//! must be [`REASONED`] (at most three, each with its reason); one listed
//! there that no longer exists fails the test too.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// The prelude's modules, bottom first, with their layer. A source file
/// belongs to the longest prefix listed; an import may only name a row
/// listed before its own (or its own row).
const ORDER: &[(&str, Layer)] = &[
    ("host", Layer::SystemCalls),
    ("sys", Layer::SystemCalls),
    ("error", Layer::SystemCalls),
    ("mp::shm", Layer::SystemCalls),
    ("observer", Layer::Primitives),
    ("sync", Layer::Primitives),
    ("mp::ring", Layer::Primitives),
    ("mp::value", Layer::Primitives),
    ("timeline::recorder", Layer::Primitives),
    ("state", Layer::State),
    ("output", Layer::State),
    ("report", Layer::State),
    ("lifecycle", Layer::State),
    ("interrupt", Layer::State),
    ("timeline", Layer::Python),
    ("threading", Layer::Python),
    ("queue", Layer::Python),
    ("pool", Layer::Python),
    ("mp", Layer::Python),
    ("display", Layer::Python),
    ("helpers", Layer::Python),
    ("asyncio", Layer::Python),
    ("check", Layer::Python),
    ("prelude", Layer::Facade),
    ("", Layer::Facade),
];

/// The layers, bottom first (the names ARCHITECTURE.md's picture uses).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Layer {
    SystemCalls,
    Primitives,
    State,
    Python,
    Facade,
}

/// Imports that run up [`ORDER`] for good, each with the reason (at most 3;
/// the import says so in a comment too).
const REASONED: &[(&str, &str, &str)] = &[
    (
        "state",
        "lifecycle",
        "every prelude call may create the state, and the panic and cell-end \
         hooks must exist as soon as it does: its creation installs them",
    ),
    (
        "mp::ring",
        "interrupt",
        "a blocked ring side waits in the prelude's one waiting loop, which \
         checks for an interrupt between 20 ms slices",
    ),
];

/// The row of `ORDER` module `path` belongs to (its index).
fn row_of(path: &[String]) -> usize {
    let name = path.join("::");
    ORDER
        .iter()
        .enumerate()
        .filter(|(_, (prefix, _))| {
            prefix.is_empty() || name == *prefix || name.starts_with(&format!("{prefix}::"))
        })
        .max_by_key(|(_, (prefix, _))| prefix.len())
        .map(|(index, _)| index)
        .expect("the crate root's row matches every module")
}

/// The prelude's non-test source files, by module path (`["mp", "ring"]`),
/// as code: comments, strings and `#[cfg(test)] mod tests` blocks left out.
fn prelude_modules() -> BTreeMap<Vec<String>, String> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("prelude/src");
    let mut modules = BTreeMap::new();
    for (path, _) in super::sources("prelude/src") {
        let relative = path
            .trim_start_matches("prelude/src/")
            .trim_end_matches(".rs");
        if relative == "tests" || relative.starts_with("tests/") || relative.ends_with("/tests") {
            continue;
        }
        let mut segments: Vec<String> = relative.split('/').map(str::to_owned).collect();
        if matches!(segments.last().map(String::as_str), Some("mod" | "lib")) {
            segments.pop();
        }
        let text = std::fs::read_to_string(src.join(format!("{relative}.rs"))).expect("a source");
        modules.insert(segments, code_of(&text));
    }
    modules
}

/// `text` without comments, string contents and its inline test module.
fn code_of(text: &str) -> String {
    let text = match text.find("#[cfg(test)]\nmod tests {") {
        Some(at) => &text[..at],
        None => text,
    };
    let chars: Vec<char> = text.chars().collect();
    let mut code = String::new();
    let mut at = 0;
    while at < chars.len() {
        let rest = |at: usize| chars.get(at).copied().unwrap_or(' ');
        match (chars[at], rest(at + 1)) {
            ('/', '/') => {
                while at < chars.len() && chars[at] != '\n' {
                    at += 1;
                }
            }
            ('/', '*') => {
                at += 2;
                while at < chars.len() && !(chars[at] == '*' && rest(at + 1) == '/') {
                    at += 1;
                }
                at += 2;
            }
            ('"', _) => {
                at += 1;
                while at < chars.len() && chars[at] != '"' {
                    at += if chars[at] == '\\' { 2 } else { 1 };
                }
                at += 1;
                code.push_str("\"\"");
            }
            ('\'', '\\') => at += 4,
            ('\'', _) if rest(at + 2) == '\'' => at += 3,
            (other, _) => {
                code.push(other);
                at += 1;
            }
        }
    }
    code
}

/// The paths a `use` tree names (`crate::{a, b::{c, d}}` → three paths).
fn expand(tree: &str) -> Vec<Vec<String>> {
    let tree = tree.trim();
    if let Some(open) = tree.find('{') {
        let prefix: Vec<String> = tree[..open]
            .split("::")
            .map(str::trim)
            .filter(|segment| !segment.is_empty())
            .map(str::to_owned)
            .collect();
        let inner = &tree[open + 1..tree.rfind('}').expect("a closed use group")];
        let (mut depth, mut start, mut paths) = (0, 0, Vec::new());
        for (index, character) in inner.char_indices().chain([(inner.len(), ',')]) {
            match character {
                '{' => depth += 1,
                '}' => depth -= 1,
                ',' if depth == 0 => {
                    let part = &inner[start..index];
                    if !part.trim().is_empty() {
                        for path in expand(part) {
                            paths.push(prefix.iter().cloned().chain(path).collect());
                        }
                    }
                    start = index + 1;
                }
                _ => {}
            }
        }
        return paths;
    }
    let tree = tree.split(" as ").next().expect("a path");
    vec![tree
        .split("::")
        .map(|segment| segment.trim().to_owned())
        .collect()]
}

/// The module graph: which module's code names which other module.
fn module_graph() -> BTreeMap<Vec<String>, BTreeSet<Vec<String>>> {
    let modules = prelude_modules();
    // Items the crate root only re-exports or exports as macros, by name.
    let mut root_items: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (module, code) in &modules {
        for (at, _) in code.match_indices("macro_rules!") {
            let name: String = code[at + 12..]
                .trim_start()
                .chars()
                .take_while(|character| character.is_alphanumeric() || *character == '_')
                .collect();
            root_items.insert(name, module.clone());
        }
    }
    for statement in modules[&Vec::new()].split(';') {
        if let Some(tree) = statement.trim().strip_prefix("pub use ") {
            for path in expand(tree) {
                if path.len() > 1 && modules.contains_key(&path[..1]) {
                    let name = path.last().expect("a name").clone();
                    root_items.insert(name, path[..path.len() - 1].to_vec());
                }
            }
        }
    }
    let resolve = |from: &Vec<String>, path: &[String]| -> Option<Vec<String>> {
        let mut base = from.clone();
        let mut rest = path;
        match path.first().map(String::as_str) {
            Some("crate") => {
                base.clear();
                rest = &path[1..];
            }
            Some("super" | "self") => {
                while let Some(first) = rest.first().filter(|s| *s == "super" || *s == "self") {
                    if first == "super" {
                        base.pop();
                    }
                    rest = &rest[1..];
                }
            }
            _ => return None,
        }
        let mut full: Vec<String> = base.into_iter().chain(rest.iter().cloned()).collect();
        if let Some(first) = full.first() {
            if !modules.contains_key(&full[..1]) {
                if let Some(module) = root_items.get(first) {
                    full = module.clone();
                }
            }
        }
        (0..=full.len())
            .rev()
            .map(|length| full[..length].to_vec())
            .find(|prefix| modules.contains_key(prefix))
    };
    let mut graph = BTreeMap::new();
    for (module, code) in &modules {
        let mut names = BTreeSet::new();
        let mut paths = Vec::new();
        let mut outside_use = String::new();
        for statement in code.split_inclusive(';') {
            match statement.find("use ") {
                Some(at) if is_word_start(statement, at) => {
                    outside_use.push_str(&statement[..at]);
                    paths.extend(expand(statement[at + 4..].trim_end_matches(';')));
                }
                _ => outside_use.push_str(statement),
            }
        }
        for word in ["crate", "super", "self"] {
            for (at, _) in outside_use.match_indices(word) {
                let path: Vec<String> = outside_use[at..]
                    .split(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
                    .next()
                    .expect("a path")
                    .split("::")
                    .map(str::to_owned)
                    .collect();
                if is_word_start(&outside_use, at) && path.len() > 1 {
                    paths.push(path);
                }
            }
        }
        for path in paths {
            if let Some(target) = resolve(module, &path) {
                if &target != module {
                    names.insert(target);
                }
            }
        }
        graph.insert(module.clone(), names);
    }
    graph
}

/// Whether a word starts at byte `at` of `text` (`$crate` counts as `crate`).
fn is_word_start(text: &str, at: usize) -> bool {
    !text[..at]
        .chars()
        .next_back()
        .is_some_and(|before| before.is_alphanumeric() || before == '_' || before == ':')
}

/// The imports between rows of [`ORDER`] that run up it, as (from, to) rows.
fn upward_imports() -> BTreeSet<(&'static str, &'static str)> {
    let mut upward = BTreeSet::new();
    for (module, names) in module_graph() {
        let from = row_of(&module);
        for name in names {
            let to = row_of(&name);
            if to > from {
                upward.insert((ORDER[from].0, ORDER[to].0));
            }
        }
    }
    upward
}

#[test]
fn the_prelude_imports_run_down_its_layers() {
    let allowed: BTreeSet<(&str, &str)> =
        REASONED.iter().map(|(from, to, _)| (*from, *to)).collect();
    let upward = upward_imports();
    let unexpected: Vec<_> = upward.difference(&allowed).collect();
    assert_eq!(
        unexpected,
        Vec::<&(&str, &str)>::new(),
        "imports that run up the prelude's layers (tests/architecture/prelude_layers.rs)"
    );
    let gone: Vec<_> = allowed.difference(&upward).collect();
    assert_eq!(
        gone,
        Vec::<&(&str, &str)>::new(),
        "listed but gone: take them out"
    );
    assert!(
        REASONED.len() <= 3,
        "at most three imports may run up for good"
    );
    for (from, to, reason) in REASONED {
        assert!(reason.len() > 20, "{from} -> {to} needs a reason");
    }
    for window in ORDER.windows(2) {
        assert!(
            window[0].1 <= window[1].1,
            "ORDER lists layers bottom first"
        );
    }
}

#[test]
fn every_top_level_prelude_module_has_a_row_and_every_row_a_module() {
    let graph = module_graph();
    assert!(
        graph.len() > 40,
        "{} modules: the reader is lost",
        graph.len()
    );
    for (prefix, _) in ORDER {
        let segments: Vec<String> = prefix.split("::").map(str::to_owned).collect();
        let found = prefix.is_empty() || graph.contains_key(&segments);
        assert!(found, "ORDER lists {prefix:?}, which is no module");
    }
    // A new top-level module is placed in a layer, not left in the crate root's row.
    for module in graph.keys().filter(|module| module.len() == 1) {
        let placed = ORDER.iter().any(|(prefix, _)| *prefix == module[0]);
        assert!(placed, "{} has no row in ORDER", module[0]);
    }
    // The reader sees imports: a `use crate::…` line, and a path in code.
    let path = |text: &str| -> Vec<String> { text.split("::").map(str::to_owned).collect() };
    assert!(graph[&path("mp::ring::wait")].contains(&path("sys")));
    assert!(graph[&path("lifecycle")].contains(&path("report")));
}
