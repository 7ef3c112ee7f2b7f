//! The cell crate's source as the cache's key reads it: independent of the
//! order evcxr's hash maps give it.

/// The cell crate's source in an order that does not depend on evcxr's
/// hash maps: evcxr writes the items of earlier cells (and the `use` lines),
/// and the statements that move variables in and out of its store, in the
/// iteration order of a `HashMap`, which differs in every kernel process, so
/// the same cells come out in another order after a restart.
///
/// The order of a module's items means nothing to Rust, so the items are
/// sorted (after the crate's inner attributes, in their order); so are the
/// runs of evcxr's variable statements, each naming one variable of its own.
/// Where order can mean something, the text is taken as it is (a miss after
/// a restart, never a wrong hit): `macro_rules!` and other macro items
/// (textual scope), `extern crate` (`#[macro_use]`), and code that does not
/// parse.
pub(super) fn canonical_source(source: &str) -> Vec<String> {
    use ra_ap_syntax::ast::{self, HasAttrs, HasModuleItem};
    use ra_ap_syntax::{AstNode, Edition};

    let source = &sort_variable_statements(source);
    let parsed = ast::SourceFile::parse(source, Edition::Edition2024);
    let file = parsed.tree();
    let order_matters = |item: &ast::Item| {
        matches!(
            item,
            ast::Item::MacroRules(_)
                | ast::Item::MacroCall(_)
                | ast::Item::MacroDef(_)
                | ast::Item::ExternCrate(_)
        )
    };
    if !parsed.errors().is_empty() || file.items().any(|item| order_matters(&item)) {
        return vec![source.to_owned()];
    }
    let mut items: Vec<String> = file.items().map(|item| item.syntax().to_string()).collect();
    items.sort();
    file.attrs()
        .map(|attribute| attribute.syntax().to_string())
        .chain(items)
        .collect()
}

/// `source` with each run of evcxr's variable statements of one kind
/// (checking, taking or putting a variable in its store) sorted.
fn sort_variable_statements(source: &str) -> String {
    let mut lines: Vec<&str> = source.split_inclusive('\n').collect();
    let mut start = 0;
    while start < lines.len() {
        let kind = variable_statement_kind(lines[start]);
        let length = lines[start..]
            .iter()
            .take_while(|line| variable_statement_kind(line) == kind)
            .count();
        if kind.is_some() {
            lines[start..start + length].sort_unstable();
        }
        start += length;
    }
    lines.concat()
}

/// Which of evcxr's variable statements `line` is, if any (the forms
/// evcxr's `EvalContext` writes, one line each).
fn variable_statement_kind(line: &str) -> Option<&'static str> {
    let line = line.trim_end();
    if !line.ends_with(");") {
        return None;
    }
    if line.starts_with("vars_ok &= evcxr_variable_store.check_variable::<") {
        Some("check")
    } else if line.starts_with("evcxr_variable_store.put_variable::<") {
        Some("put")
    } else if line.starts_with("let ") && line.contains(" = evcxr_variable_store.take_variable::<")
    {
        Some("take")
    } else {
        None
    }
}
