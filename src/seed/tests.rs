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
    let dir = spec.path().join(dir_name());
    std::fs::create_dir_all(&dir).expect("a directory");
    assert_eq!(Seed::in_spec_dir(spec.path()), None);
    std::fs::write(dir.join(COMPLETE), "").expect("a file");
    assert_eq!(Seed::in_spec_dir(spec.path()), Some(Seed { dir }));
}

#[test]
fn the_seeds_work_directory_leaves_out_compiled_cells_and_incremental_caches() {
    let seed = tempfile::tempdir().expect("a temporary directory");
    std::fs::create_dir_all(seed.path().join(".cargo")).expect("a directory");
    std::fs::write(seed.path().join(CONFIG), "# config\n").expect("a config");
    let built = [
        "target/debug/deps/libdep-1.rlib",
        "target/debug/.fingerprint/dep-1/lib-dep",
        "target/x86_64-unknown-linux-gnu/debug/deps/libmultitask-2.rlib",
        "target/x86_64-unknown-linux-gnu/debug/libctx.so",
    ];
    let left_out = [
        "target/debug/incremental/dep-1/s-1/query-cache.bin",
        "target/x86_64-unknown-linux-gnu/debug/incremental/multitask-2/s-2/dep-graph.bin",
        "cell-cache/0123/libctx.so",
    ];
    build_work_dir(seed.path(), |_prelude, work| {
        for file in built.iter().chain(&left_out) {
            let path = work.join(file);
            std::fs::create_dir_all(path.parent().expect("a parent"))?;
            std::fs::write(path, "built")?;
        }
        Ok(())
    })
    .expect("built");
    let work = seed.path().join("work");
    for file in built {
        assert!(work.join(file).is_file(), "{file} is missing from the seed");
    }
    for file in left_out {
        assert!(!work.join(file).exists(), "{file} was copied into the seed");
    }
    assert!(!work.join("target/debug/incremental").exists());
    assert!(!work
        .join("target/x86_64-unknown-linux-gnu/debug/incremental")
        .exists());
}

#[test]
fn slots_of_a_gone_seed_are_removed_unless_a_kernel_holds_one() {
    let root = tempfile::tempdir().expect("a temporary directory");
    let work_root = root.path().join("work");
    let seeds = root.path().join("kernelspec");
    // A slots directory with slot-0 planted from `seed` (and slot-1 not).
    let slots_of = |name: &str, seed: &str| {
        let slots = work_root.join(name);
        std::fs::create_dir_all(slots.join("slot-0/target")).expect("a directory");
        std::fs::create_dir_all(slots.join("slot-1")).expect("a directory");
        for lock in ["slot-0.lock", "slot-1.lock"] {
            std::fs::File::create(slots.join(lock)).expect("a lock file");
        }
        let seed = seeds.join(seed);
        std::fs::write(
            slots.join("slot-0").join(PLANTED),
            seed.display().to_string(),
        )
        .expect("a marker");
        slots
    };
    let live = slots_of("seed-1", "seed-live");
    std::fs::create_dir_all(seeds.join("seed-live")).expect("a directory");
    std::fs::write(seeds.join("seed-live").join(COMPLETE), "").expect("a file");
    let gone = slots_of("seed-2", "seed-gone");
    let unfinished = slots_of("seed-3", "seed-unfinished");
    std::fs::create_dir_all(seeds.join("seed-unfinished")).expect("a directory");
    let held = slots_of("seed-4", "seed-gone-too");
    let lock = std::fs::File::open(held.join("slot-1.lock")).expect("a lock file");
    lock.try_lock().expect("free");
    let never_planted = work_root.join("seed-5/slot-0");
    std::fs::create_dir_all(&never_planted).expect("a directory");
    let plain_slot = work_root.join("slot-0");
    std::fs::create_dir_all(&plain_slot).expect("a directory");
    // What a kernel that exited while removing left.
    let half_removed = work_root.join(".going-seed-6/slot-0/target");
    std::fs::create_dir_all(&half_removed).expect("a directory");

    remove_slots_of_gone_seeds(&work_root);

    assert!(
        live.join("slot-0/target").is_dir(),
        "a live seed's slots stay"
    );
    assert!(
        !gone.exists(),
        "a gone seed's slots go, with their lock files"
    );
    assert!(
        !unfinished.exists(),
        "a seed without `complete` serves no kernel"
    );
    assert!(held.join("slot-0").is_dir(), "slots a kernel holds stay");
    assert!(never_planted.is_dir(), "a slot not planted yet stays");
    assert!(
        plain_slot.is_dir(),
        "slots without a seed are not this function's"
    );
    let mut left: Vec<_> = std::fs::read_dir(&work_root)
        .expect("the work root")
        .flatten()
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .collect();
    left.sort();
    assert_eq!(
        left,
        ["seed-1", "seed-4", "seed-5", "slot-0"],
        "half-removed and gone seeds' slots are not left"
    );
    drop(lock);
}
