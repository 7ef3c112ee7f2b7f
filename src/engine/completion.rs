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
    let in_prelude_module = prelude_path(code_before);
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
            || (in_prelude_module && PRELUDE_HIDDEN_NAMES.contains(&completion.text.as_str()));
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

/// Whether the word being completed follows `module::` for one of the
/// prelude's public modules (`threading::`, `multitask::mp::`).
fn prelude_path(code_before: &str) -> bool {
    let Some(path) = code_before.strip_suffix("::") else {
        return false;
    };
    let module = path
        .rsplit(|character: char| !(character.is_alphanumeric() || character == '_'))
        .next()
        .unwrap_or_default();
    PRELUDE_MODULES.contains(&module)
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
        assert!(prelude_path("multitask::threading::"));
        assert!(prelude_path("(mp::"));
        assert!(!prelude_path("threading"));
    }

    #[test]
    fn the_kernels_magics_complete_as_magics() {
        let magics: Vec<Completion> = kernel_magics(":ti").collect();
        assert_eq!(texts(&magics), [":timeline"]);
        assert_eq!(magics[0].kind, "magic");
        assert_eq!(kernel_magics(":").count(), 2);
    }
}
