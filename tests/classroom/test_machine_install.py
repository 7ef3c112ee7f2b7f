"""A machine-wide install serves learners who are not root, at once.

The kernel is installed once (`install --prefix`, as root), which builds its
seed: the prelude compiled beside the kernelspec, read-only. Then three new
users with empty homes each start the installed kernel, as Jupyter starts it
(the kernelspec's argv, a connection file), at the same moment, and run a
cell that uses the prelude. Each must get its output with nothing compiled
but the cell (no "Compiling serde" from their kernel), nothing of the
prelude's downloaded into their home, and the seed unchanged; then a
dependency of their own (`:dep itoa`) still comes from crates.io.

Needs root (it creates users); `scripts/test` runs it as root, as CI does.
"""

from __future__ import annotations

import pwd
import shutil
import subprocess
import threading
import time
import uuid
from pathlib import Path

import pytest

from learners import KERNEL_BIN, LearnerKernel, OpenPath, scratch_dir, toolchain_dirs

LEARNERS = 3
CELL = 'println!("pid {} of {}", getpid(), mp::current_process());'
OWN_DEPENDENCY = ':dep itoa = "1"\nitoa::Buffer::new().format(42).to_string()'


def snapshot(tree: Path) -> dict[str, tuple[int, int]]:
    """Every file's size and modification time under `tree`."""
    files = {}
    for path in tree.rglob("*"):
        if path.is_file() and not path.is_symlink():
            info = path.stat()
            files[str(path.relative_to(tree))] = (info.st_size, info.st_mtime_ns)
    return files


@pytest.fixture(scope="module")
def machine_install():
    base = scratch_dir("multitask-classroom-")
    prefix = base / "prefix"
    subprocess.run([str(KERNEL_BIN), "install", "--prefix", str(prefix)], check=True)
    spec = prefix / "share/jupyter/kernels/multitask"
    opened = OpenPath(toolchain_dirs())
    names = [f"mk-learner-{uuid.uuid4().hex[:8]}" for _ in range(LEARNERS)]
    try:
        for name in names:
            home = base / name
            subprocess.run(["useradd", "--create-home", "--home-dir", str(home), name], check=True)
        yield spec, base, names
    finally:
        for name in names:
            subprocess.run(["pkill", "-KILL", "-u", name], check=False)
            subprocess.run(["userdel", name], check=False)
        opened.close()
        shutil.rmtree(base, ignore_errors=True)


def run_first_cell(name: str, spec: Path, base: Path, results: dict) -> None:
    started = time.monotonic()
    results[name] = {}
    with LearnerKernel(name, spec, base) as kernel:
        status, output, _ = kernel.run(CELL)
        results[name].update(status=status, output=output, seconds=time.monotonic() - started)
        # The seed patches only the prelude's own crates: a learner's own
        # dependency still comes from crates.io.
        status, _, values = kernel.run(OWN_DEPENDENCY)
        results[name]["own_dependency"] = (status, values)
    results[name]["stderr"] = kernel.stderr


def rust_src_installed() -> bool:
    sysroot = subprocess.run(["rustc", "--print", "sysroot"], capture_output=True, text=True, check=True)
    return (Path(sysroot.stdout.strip()) / "lib/rustlib/src/rust/library/core/src/lib.rs").exists()


def test_learners_start_at_once_from_the_read_only_seed(machine_install):
    spec, base, names = machine_install
    seeds = list(spec.glob("seed-*"))
    assert len(seeds) == 1, seeds
    seed = seeds[0]
    if rust_src_installed():
        assert list(seed.glob("std-sources-*/complete")), "no trimmed standard library in the seed"
    # rustc's incremental caches are most of a build and of no use to a
    # learner: every learner's first kernel copies the seed's build.
    incremental = list(seed.glob("work/target/**/incremental"))
    assert not incremental, incremental
    before = snapshot(seed)

    results: dict = {}
    threads = [threading.Thread(target=run_first_cell, args=(n, spec, base, results)) for n in names]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    for name in names:
        result = results[name]
        print(f"{name}: first cell done {result.get('seconds', float('nan')):.1f} s after launch")
        assert result.get("status") == "ok", result
        assert result["output"].startswith("pid "), result
        assert result["own_dependency"] == ("ok", ['"42"']), result
        # Built from the seed: the learner's kernel compiled only the cell.
        assert "Compiling serde" not in result["stderr"], result["stderr"][-2000:]
        assert "Compiling multitask" not in result["stderr"], result["stderr"][-2000:]
        home = Path(pwd.getpwnam(name).pw_dir)
        downloaded = home / ".cargo/registry/cache"
        assert not any(downloaded.rglob("serde*.crate")), "the prelude's crates were downloaded"
        assert (home / ".cache/multitask-kernel/work").is_dir(), "the work slot is the learner's own"
        if rust_src_installed():
            # The analyzer read the seed's trimmed standard library.
            own_copies = list((home / ".cache/multitask-kernel").glob("std-sources-*"))
            assert not own_copies, own_copies
    assert snapshot(seed) == before, "a learner's kernel wrote into the seed"
    writable = subprocess.run(
        ["runuser", "-u", names[0], "--", "test", "-w", str(seed / "work")], check=False
    )
    assert writable.returncode != 0, "learners can write into the seed"
