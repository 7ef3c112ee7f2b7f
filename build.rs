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
/// the workspace's value, and an empty `[workspace]` so that the copy builds
/// on its own wherever evcxr finds it.
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
