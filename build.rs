//! Embeds the prelude crate's sources in the kernel binary, so that an
//! installed kernel can hand them to evcxr without the source checkout.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn main() {
    // The runtime's `Host` block, found by cells' copies of the prelude with
    // dlsym (see prelude/src/host.rs).
    println!("cargo:rustc-link-arg-bins=-Wl,--export-dynamic-symbol=multitask_host");
    let manifest_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let prelude_dir = manifest_dir.join("prelude");
    println!(
        "cargo:rerun-if-changed={}",
        prelude_dir.join("src").display()
    );
    println!(
        "cargo:rerun-if-changed={}",
        prelude_dir.join("Cargo.toml").display()
    );

    let mut files = vec![prelude_dir.join("Cargo.toml")];
    collect_rust_files(&prelude_dir.join("src"), &mut files);
    files.sort();

    let root_manifest = std::fs::read_to_string(manifest_dir.join("Cargo.toml")).unwrap();
    let prelude_manifest = std::fs::read_to_string(prelude_dir.join("Cargo.toml")).unwrap();
    let standalone_manifest = standalone(&prelude_manifest, &root_manifest);
    let out_dir = PathBuf::from(std::env::var("OUT_DIR").unwrap());
    let standalone_path = out_dir.join("prelude-Cargo.toml");
    std::fs::write(&standalone_path, standalone_manifest).unwrap();
    files.retain(|file| !file.ends_with("Cargo.toml"));

    let mut generated =
        String::from("/// The prelude crate's files: (path relative to the crate, contents).\n");
    generated.push_str("pub const PRELUDE_FILES: &[(&str, &str)] = &[\n");
    writeln!(
        generated,
        "    (\"Cargo.toml\", include_str!({:?})),",
        standalone_path.to_str().unwrap()
    )
    .unwrap();
    for file in &files {
        println!("cargo:rerun-if-changed={}", file.display());
        let relative = file.strip_prefix(&prelude_dir).unwrap();
        writeln!(
            generated,
            "    ({:?}, include_str!({:?})),",
            relative.to_str().unwrap(),
            file.to_str().unwrap()
        )
        .unwrap();
    }
    generated.push_str("];\n");
    std::fs::write(out_dir.join("prelude_files.rs"), generated).unwrap();

    let sources: Vec<(String, String)> = files
        .iter()
        .map(|file| (module_name(file), std::fs::read_to_string(file).unwrap()))
        .collect();
    std::fs::write(out_dir.join("prelude_names.rs"), prelude_names(&sources)).unwrap();
}

/// The name a prelude source file's module goes by in a path: its file
/// stem, or its directory's name for a `mod.rs` (`lib.rs`: the crate;
/// every file of the unit tests: `tests`, whose names are no module's).
fn module_name(file: &Path) -> String {
    if file.components().any(|part| part.as_os_str() == "tests") {
        return "tests".to_owned();
    }
    let stem = file.file_stem().unwrap().to_str().unwrap();
    match stem {
        "mod" => file
            .parent()
            .unwrap()
            .file_name()
            .unwrap()
            .to_str()
            .unwrap(),
        "lib" => "multitask",
        stem => stem,
    }
    .to_owned()
}

/// The names a private `use` line (whole, up to its `;`) brings into its
/// module: each leaf of the tree, or its alias (`_`, `*` and `self` bring
/// no name a path could show).
fn use_leaves(statement: &str) -> impl Iterator<Item = String> + '_ {
    statement
        .trim_start_matches("use")
        .split(['{', '}', ','])
        .filter_map(|leaf| {
            let leaf = leaf.trim().trim_end_matches(';').trim();
            let name = match leaf.split_once(" as ") {
                Some((_, alias)) => alias.trim(),
                None => leaf.rsplit("::").next().unwrap_or_default(),
            };
            let is_name = !name.is_empty()
                && name != "_"
                && name != "self"
                && name.chars().all(|c| c.is_alphanumeric() || c == '_');
            is_name.then(|| name.to_owned())
        })
}

/// The prelude's public module names, the names of its items a cell can
/// never use (restricted with `pub(crate)` or `pub(super)`, or private at
/// the top of a file) unless a public item has the same name, and for each
/// module the names only its own code sees (private `use` lines and
/// modules) unless it makes them public too, as Rust source for the
/// kernel's completion filter. rust-analyzer offers them all (evcxr asks it
/// to complete private items of local crates, and the prelude is one).
fn prelude_names(sources: &[(String, String)]) -> String {
    const ITEM_KEYWORDS: [&str; 9] = [
        "fn", "struct", "enum", "const", "static", "type", "trait", "mod", "union",
    ];
    let mut modules = BTreeSet::new();
    let mut public = BTreeSet::new();
    let mut hidden = BTreeSet::new();
    // Per module: the names its code alone sees, and those it makes public.
    let mut by_module: BTreeMap<&str, (BTreeSet<String>, BTreeSet<String>)> = BTreeMap::new();
    for (module, source) in sources {
        let (module_hidden, module_public) = by_module.entry(module).or_default();
        // A `use` at the top of a file, perhaps over several lines, and
        // whether it is `pub use`.
        let mut statement: Option<(String, bool)> = None;
        for line in source.lines() {
            if statement.is_none() {
                if let Some(rest) = line.strip_prefix("pub use ") {
                    statement = Some((rest.to_owned(), true));
                } else if let Some(rest) = line.strip_prefix("use ") {
                    statement = Some((rest.to_owned(), false));
                }
            } else if let Some((text, _)) = statement.as_mut() {
                text.push(' ');
                text.push_str(line);
            }
            if let Some((text, is_public)) = &statement {
                if text.trim_end().ends_with(';') {
                    let names = use_leaves(text);
                    if *is_public {
                        module_public.extend(names);
                    } else {
                        module_hidden.extend(names);
                    }
                    statement = None;
                }
                continue;
            }
            let at_top = !line.starts_with(char::is_whitespace);
            let mut words = line.split_whitespace().peekable();
            let visibility = match words.peek() {
                Some(&"pub") => "pub",
                Some(word) if word.starts_with("pub(") => "restricted",
                _ => "private",
            };
            if visibility != "private" {
                words.next();
            }
            let mut words =
                words.skip_while(|word| ["unsafe", "async", "extern", "\"C\""].contains(word));
            let (Some(keyword), Some(name)) = (words.next(), words.next()) else {
                continue;
            };
            if !ITEM_KEYWORDS.contains(&keyword) {
                continue;
            }
            let name: String = name
                .chars()
                .take_while(|character| character.is_alphanumeric() || *character == '_')
                .collect();
            if name.is_empty() {
                continue;
            }
            match visibility {
                "pub" => {
                    if keyword == "mod" {
                        modules.insert(name.clone());
                    }
                    module_public.insert(name.clone());
                    public.insert(name);
                }
                "restricted" => {
                    module_hidden.insert(name.clone());
                    hidden.insert(name);
                }
                _ if at_top => {
                    module_hidden.insert(name.clone());
                    hidden.insert(name);
                }
                _ => {}
            }
        }
    }
    let list = |names: Vec<&String>| {
        names
            .iter()
            .map(|name| format!("{name:?}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut generated = format!(
        "/// The prelude's public modules.\npub const PRELUDE_MODULES: &[&str] = &[{}];\n\
         /// Names of prelude items no cell can use (and no public item shares).\n\
         pub const PRELUDE_HIDDEN_NAMES: &[&str] = &[{}];\n",
        list(modules.iter().collect()),
        list(hidden.difference(&public).collect())
    );
    generated.push_str(
        "/// For each public module, the names only its own code sees (its private\n\
         /// `use` lines, modules and items), which a path into it must not offer.\n\
         pub const PRELUDE_MODULE_PRIVATE_NAMES: &[(&str, &[&str])] = &[\n",
    );
    for (module, (module_hidden, module_public)) in &by_module {
        if modules.contains(*module) {
            let names = list(module_hidden.difference(module_public).collect());
            writeln!(generated, "    ({module:?}, &[{names}]),").unwrap();
        }
    }
    generated.push_str("];\n");
    generated
}

fn collect_rust_files(dir: &Path, files: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            println!("cargo:rerun-if-changed={}", path.display());
            collect_rust_files(&path, files);
        } else if path.extension().is_some_and(|extension| extension == "rs") {
            files.push(path);
        }
    }
}

/// The prelude's manifest with every `key.workspace = true` line replaced by
/// the workspace's value, without its `[lints]`, and with an empty
/// `[workspace]` so that the copy builds on its own wherever evcxr finds it.
fn standalone(prelude_manifest: &str, root_manifest: &str) -> String {
    let inherited = |section: &str, key: &str| -> String {
        let mut in_section = false;
        for line in root_manifest.lines() {
            let trimmed = line.trim();
            if trimmed.starts_with('[') {
                in_section = trimmed == format!("[{section}]");
            } else if in_section {
                if let Some((name, value)) = trimmed.split_once('=') {
                    if name.trim() == key {
                        return value.trim().to_owned();
                    }
                }
            }
        }
        panic!("{key} is not in [{section}] of the workspace manifest");
    };
    let mut section = String::new();
    let mut out = String::new();
    for line in prelude_manifest.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with('[') {
            section = trimmed.to_owned();
        }
        // The workspace's lints keep our own code honest; the copy a learner's
        // kernel builds needs none of them (and has no workspace to take them from).
        if section == "[lints]" {
            continue;
        }
        match trimmed.strip_suffix(".workspace = true") {
            Some(key) if section == "[package]" => {
                writeln!(out, "{key} = {}", inherited("workspace.package", key)).unwrap();
            }
            Some(key) => {
                writeln!(out, "{key} = {}", inherited("workspace.dependencies", key)).unwrap();
            }
            None => {
                assert!(
                    !trimmed.contains("workspace = true"),
                    "prelude/Cargo.toml: write `name.workspace = true` on its own line: {line}"
                );
                writeln!(out, "{line}").unwrap();
            }
        }
    }
    out.push_str("\n[workspace]\n");
    out
}
