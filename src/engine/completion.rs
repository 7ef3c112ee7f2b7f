//! Shapes rust-analyzer's completions for the notebook: names, not snippets;
//! no internals of evcxr or the prelude; the kernel's own magics beside
//! evcxr's `:` commands. Knows nothing of evcxr's types.

use super::Completion;

include!(concat!(env!("OUT_DIR"), "/prelude_names.rs"));

/// The magics the kernel itself understands (evcxr completes its own).
const KERNEL_MAGICS: [&str; 2] = [":doc", ":timeline"];

/// Names evcxr gives the code it wraps around each cell.
const EVCXR_INTERNAL_PREFIX: &str = "evcxr_";

/// The matches to offer for the text before `start` (where the completed
/// word begins), from what rust-analyzer found, in its order.
pub fn shape(found: Vec<Completion>, code_before: &str) -> Vec<Completion> {
    let prelude_module = prelude_module(code_before);
    let mut matches: Vec<Completion> = Vec::new();
    for mut completion in found {
        // rust-analyzer offers calls as snippets (`cpu_count()`); the
        // notebook inserts the name, as other kernels do.
        if let Some((name, _)) = completion.text.split_once('(') {
            if !name.is_empty() {
                completion.text = name.to_owned();
            }
        }
        if completion.signature == completion.text {
            completion.signature.clear();
        }
        let hidden = completion.text.starts_with(EVCXR_INTERNAL_PREFIX)
            || prelude_module.is_some_and(|module| private_to(module, &completion.text));
        if !hidden && !matches.iter().any(|kept| kept.text == completion.text) {
            matches.push(completion);
        }
    }
    matches
}

/// The kernel's magics that start with `typed` (a `:` command being typed).
pub fn kernel_magics(typed: &str) -> impl Iterator<Item = Completion> + '_ {
    KERNEL_MAGICS
        .into_iter()
        .filter(move |magic| magic.starts_with(typed))
        .map(|magic| Completion {
            text: magic.to_owned(),
            kind: "magic".to_owned(),
            signature: String::new(),
        })
}

/// The prelude's public module whose path the word being completed
/// follows (`threading` for `threading::` or `multitask::threading::`).
fn prelude_module(code_before: &str) -> Option<&'static str> {
    let path = code_before.strip_suffix("::")?;
    let module = path
        .rsplit(|character: char| !(character.is_alphanumeric() || character == '_'))
        .next()
        .unwrap_or_default();
    PRELUDE_MODULES
        .iter()
        .copied()
        .find(|known| *known == module)
}

/// Whether `text` (a name, or a module as `name::`) offered in a path into
/// the prelude's `module` is something no cell can use there.
fn private_to(module: &str, text: &str) -> bool {
    let name = text.strip_suffix("::").unwrap_or(text);
    PRELUDE_HIDDEN_NAMES.contains(&name)
        || PRELUDE_MODULE_PRIVATE_NAMES
            .iter()
            .any(|(private_module, names)| *private_module == module && names.contains(&name))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(text: &str, kind: &str, signature: &str) -> Completion {
        Completion {
            text: text.to_owned(),
            kind: kind.to_owned(),
            signature: signature.to_owned(),
        }
    }

    fn texts(matches: &[Completion]) -> Vec<&str> {
        matches.iter().map(|found| found.text.as_str()).collect()
    }

    #[test]
    fn internals_are_hidden_and_calls_become_names() {
        let shaped = shape(
            vec![
                found(
                    "current_thread()",
                    "function",
                    "fn current_thread() -> Thread",
                ),
                found(
                    "current_thread_abandoned(…)",
                    "function",
                    "fn current_thread_abandoned(…)",
                ),
                found("dummy_thread_name(…)", "function", ""),
                found("evcxr_variable_store", "variable", ""),
                found("Thread", "struct", "Thread"),
                found("Thread", "struct", "Thread"),
            ],
            "let t = threading::",
        );
        assert_eq!(texts(&shaped), ["current_thread", "Thread"]);
        assert_eq!(shaped[0].signature, "fn current_thread() -> Thread");
        assert_eq!(
            shaped[1].signature, "",
            "a signature that is the name says nothing"
        );
    }

    #[test]
    fn only_prelude_paths_lose_the_preludes_hidden_names() {
        let hidden = PRELUDE_HIDDEN_NAMES
            .iter()
            .find(|name| **name == "current_thread_abandoned")
            .expect("the prelude keeps current_thread_abandoned to itself");
        let elsewhere = shape(vec![found(hidden, "function", "")], "my_module::");
        assert_eq!(texts(&elsewhere), [*hidden]);
        assert_eq!(prelude_module("multitask::threading::"), Some("threading"));
        assert_eq!(prelude_module("(mp::"), Some("mp"));
        assert_eq!(prelude_module("threading"), None);
    }

    #[test]
    fn a_path_into_a_prelude_module_offers_only_what_it_makes_public() {
        let offered = vec![
            found("progress", "function", ""),
            found("Progress", "struct", ""),
            // display's own imports and private modules.
            found("Ordering", "enum", ""),
            found("Event", "enum", ""),
            found("progress_bar::", "module", ""),
        ];
        let shaped = shape(offered.clone(), "multitask::display::");
        assert_eq!(texts(&shaped), ["progress", "Progress"]);
        // `Event` is public where it lives (`host`), and paths elsewhere keep all.
        assert_eq!(
            texts(&shape(vec![found("Event", "enum", "")], "host::")),
            ["Event"]
        );
        assert_eq!(texts(&shape(offered, "my_module::")).len(), 5);
    }

    #[test]
    fn the_kernels_magics_complete_as_magics() {
        let magics: Vec<Completion> = kernel_magics(":ti").collect();
        assert_eq!(texts(&magics), [":timeline"]);
        assert_eq!(magics[0].kind, "magic");
        assert_eq!(kernel_magics(":").count(), 2);
    }
}
