//! The seed's pieces on their own: its config, its copies and its lifetime.

use super::*;

#[test]
fn a_planted_slot_keeps_the_seeds_file_times_and_is_planted_once() {
    let seed_dir = tempfile::tempdir().expect("a temporary directory");
    let work = seed_dir.path().join("work/target/debug");
    std::fs::create_dir_all(&work).expect("a directory");
    let artifact = work.join("libdep.rlib");
    std::fs::write(&artifact, "built").expect("a file");
    let long_ago = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000_000);
    std::fs::File::options()
        .write(true)
        .open(&artifact)
        .and_then(|file| file.set_modified(long_ago))
        .expect("a time");
    std::os::unix::fs::symlink("libdep.rlib", work.join("liblink.rlib")).expect("a link");
    let seed = Seed {
        dir: seed_dir.path().to_path_buf(),
    };

    let slot = tempfile::tempdir().expect("a temporary directory");
    std::fs::write(slot.path().join("stale"), "from an unseeded build").expect("a file");
    seed.plant(slot.path()).expect("planted");
    let copied = slot.path().join("target/debug/libdep.rlib");
    assert_eq!(std::fs::read_to_string(&copied).expect("copied"), "built");
    let copied_time = std::fs::metadata(&copied).and_then(|m| m.modified());
    assert_eq!(copied_time.expect("a time"), long_ago);
    let link = std::fs::read_link(slot.path().join("target/debug/liblink.rlib"));
    assert_eq!(link.expect("a link"), PathBuf::from("libdep.rlib"));
    assert!(
        !slot.path().join("stale").exists(),
        "the slot was emptied first"
    );

    // The kernel's own builds in the slot are kept on the next start.
    std::fs::write(&copied, "rebuilt by the kernel").expect("a file");
    seed.plant(slot.path()).expect("planted");
    assert_eq!(
        std::fs::read_to_string(&copied).expect("kept"),
        "rebuilt by the kernel"
    );
}

/// A seed directory holding only a cargo config.
fn seed_with_config(config: &str) -> (tempfile::TempDir, Seed) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    write_atomically(&dir.path().join(CONFIG), config).expect("a config");
    let seed = Seed {
        dir: dir.path().to_path_buf(),
    };
    (dir, seed)
}

#[test]
fn slots_of_two_seeds_are_apart_and_carry_their_seeds_cargo_config() {
    let root = tempfile::tempdir().expect("a temporary directory");
    let (_one_dir, one) = seed_with_config("# one\n");
    let (_other_dir, other) = seed_with_config("# other\n");
    let one_slots = one.slots_dir(root.path()).expect("slots");
    let other_slots = other.slots_dir(root.path()).expect("slots");
    assert_ne!(one_slots, other_slots);
    let config = |slots: &Path| std::fs::read_to_string(slots.join(CONFIG));
    assert_eq!(config(&one_slots).expect("a config"), "# one\n");
    assert_eq!(config(&other_slots).expect("a config"), "# other\n");
}

#[test]
fn the_patch_names_each_used_crate_by_its_vendored_path() {
    let seed = tempfile::tempdir().expect("a temporary directory");
    let vendor = seed.path().join("vendor");
    // Two versions of one crate: cargo vendor suffixes the second's name.
    for (dir, name, version) in [
        ("libc", "libc", "0.2.191"),
        ("embedded-io", "embedded-io", "0.6.1"),
        ("embedded-io-0.4.0", "embedded-io", "0.4.0"),
    ] {
        let manifest = format!("[package]\nedition = \"2021\"\nname = \"{name}\"\nversion = \"{version}\"\n\n[dependencies.x]\nversion = \"1\"\n");
        write_atomically(&vendor.join(dir).join("Cargo.toml"), &manifest).expect("a manifest");
    }
    assert_eq!(
        vendored_version(&vendor.join("embedded-io-0.4.0")).as_deref(),
        Some("0.4.0")
    );
    assert_eq!(
        vendored_version(&vendor.join("embedded-io")).as_deref(),
        Some("0.6.1")
    );

    let prelude = seed.path().join("prelude");
    write_atomically(
        &prelude.join("Cargo.toml"),
        "[package]\nname = \"p\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[dependencies]\nlibc = \"=0.2.191\"\n\n[workspace]\n",
    )
    .expect("a manifest");
    write_atomically(&prelude.join("src/lib.rs"), "").expect("a source");
    let config = patch_config(&prelude, &vendor);
    // cargo tree reads the registry index: the crates.io this machine
    // reaches (or its cache), as install does.
    let config = config.expect("a config");
    let libc_line = format!(
        "\"libc\" = {{ path = {:?}, package = \"libc\" }}",
        vendor.join("libc").display().to_string()
    );
    assert!(config.contains("[patch.crates-io]"), "{config}");
    assert!(config.contains(&libc_line), "{config}");
    assert!(
        !config.contains("embedded-io"),
        "unused crates are not patched: {config}"
    );
}

#[test]
fn a_seed_is_found_only_when_complete() {
    let spec = tempfile::tempdir().expect("a temporary directory");
    let dir = spec
        .path()
        .join(format!("seed-{}", cache::prelude_version()));
    std::fs::create_dir_all(&dir).expect("a directory");
    assert_eq!(Seed::in_spec_dir(spec.path()), None);
    std::fs::write(dir.join(COMPLETE), "").expect("a file");
    assert_eq!(Seed::in_spec_dir(spec.path()), Some(Seed { dir }));
}
