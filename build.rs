//! Embeds the prelude crate's sources in the kernel binary, so that an
//! installed kernel can hand them to evcxr without the source checkout.

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

    let sources: Vec<String> = files
        .iter()
        .map(|file| std::fs::read_to_string(file).unwrap())
        .collect();
    std::fs::write(out_dir.join("prelude_names.rs"), prelude_names(&sources)).unwrap();
}

/// The prelude's public module names, and the names of its items a cell can
/// never use (restricted with `pub(crate)` or `pub(super)`, or private at
/// the top of a file) unless a public item has the same name, as Rust source
/// for the kernel's completion filter. rust-analyzer offers them (evcxr asks
/// it to complete private items of local crates, and the prelude is one).
fn prelude_names(sources: &[String]) -> String {
    const ITEM_KEYWORDS: [&str; 9] = [
        "fn", "struct", "enum", "const", "static", "type", "trait", "mod", "union",
    ];
    let mut modules = std::collections::BTreeSet::new();
    let mut public = std::collections::BTreeSet::new();
    let mut hidden = std::collections::BTreeSet::new();
    for source in sources {
        for line in source.lines() {
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
                    public.insert(name);
                }
                "restricted" => {
                    hidden.insert(name);
                }
                _ if at_top => {
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
    format!(
        "/// The prelude's public modules.\npub const PRELUDE_MODULES: &[&str] = &[{}];\n\
         /// Names of prelude items no cell can use (and no public item shares).\n\
         pub const PRELUDE_HIDDEN_NAMES: &[&str] = &[{}];\n",
        list(modules.iter().collect()),
        list(hidden.difference(&public).collect())
    )
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
