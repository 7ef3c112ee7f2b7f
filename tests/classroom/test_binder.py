"""Binder's postBuild, as a new non-root user in a fresh environment.

repo2docker runs `binder/postBuild` as the notebook user, with no root, in
a fresh Python environment; the Docker image runs the same steps
(`scripts/install-for-user`). Here a new user with an empty home gets a
fresh venv of its own and a copy of the repository's install script and
notebooks, runs the script as itself, then starts the kernel it installed
(the kernelspec's argv, a connection file) and runs a prelude cell.

Not exercised: building the kernel (`cargo build --release --locked`), which
takes about 20 minutes on two cores for a new user; the script is given the
prebuilt binary under test (MULTITASK_KERNEL_BIN), so everything after the
build runs for real: the seed's compilation with the user's own cargo
downloads, the kernelspec in the venv, the notebooks' copy. Nor is rustup's
download into $HOME: the machine's toolchain is on the user's PATH, as a
Docker image's machine-wide one is.

Needs root (it creates a user); `scripts/test` runs it as root, as CI does.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from learners import KERNEL_BIN, LearnerKernel, OpenPath, scratch_dir, toolchain_dirs

REPO = Path(__file__).resolve().parents[2]
CELL = 'let who = mp::Process::new(|| println!("child {}", getpid()));\nwho.start();\nwho.join();'


@pytest.fixture(scope="module")
def binder_user():
    base = scratch_dir("multitask-binder-")
    name = f"mk-binder-{uuid.uuid4().hex[:8]}"
    # The venv's python is a link to this one's: its prefix must be reachable.
    opened = OpenPath([*toolchain_dirs(), Path(sys.base_prefix)])
    try:
        home = base / name
        subprocess.run(["useradd", "--create-home", "--home-dir", str(home), name], check=True)
        # What repo2docker's build sees: the repository (only what the
        # install reads) and a fresh environment, both the user's.
        repo = base / "repo"
        (repo / "scripts").mkdir(parents=True)
        shutil.copy2(REPO / "scripts/install-for-user", repo / "scripts")
        shutil.copytree(REPO / "notebooks", repo / "notebooks")
        shutil.copy2(KERNEL_BIN, base / "multitask-kernel")
        venv = base / "venv"
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
        for tree in (repo, venv):
            subprocess.run(["chown", "-R", f"{name}:", str(tree)], check=True)
        yield name, home, repo, venv, base
    finally:
        subprocess.run(["pkill", "-KILL", "-u", name], check=False)
        subprocess.run(["userdel", name], check=False)
        opened.close()
        shutil.rmtree(base, ignore_errors=True)


def test_post_build_steps_install_a_working_kernel_as_the_user(binder_user):
    name, home, repo, venv, base = binder_user
    environment = {
        "HOME": str(home),
        "USER": name,
        # The fresh environment first, as repo2docker activates it.
        "PATH": os.pathsep.join(
            [str(venv / "bin"), str(toolchain_dirs()[1]), "/usr/local/bin", "/usr/bin", "/bin"]
        ),
        "RUSTUP_HOME": os.environ.get("RUSTUP_HOME", str(Path.home() / ".rustup")),
        "LANG": "C.UTF-8",
        "MULTITASK_KERNEL_BIN": str(base / "multitask-kernel"),
    }
    install = subprocess.run(
        [
            "runuser", "-u", name, "--", "env", "-i",
            *[f"{k}={v}" for k, v in environment.items()],
            str(repo / "scripts/install-for-user"), "--notebooks", str(home / "course"), "--clean",
        ],
        cwd=home,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert install.returncode == 0, install.stdout[-3000:] + install.stderr[-3000:]

    spec = venv / "share/jupyter/kernels/multitask"
    assert (spec / "kernel.json").is_file(), "the kernelspec is in the fresh environment"
    assert len(list(spec.glob("seed-*"))) == 1, list(spec.iterdir())
    learner_notebooks = sorted(p.name for p in (REPO / "notebooks").glob("[0-9][0-9]-*.ipynb"))
    assert sorted(p.name for p in (home / "course").iterdir()) == learner_notebooks
    assert all(p.stat().st_uid == pwd.getpwnam(name).pw_uid for p in (home / "course").iterdir())

    with LearnerKernel(name, spec, base) as kernel:
        status, printed, _ = kernel.run(CELL)
    stderr = kernel.stderr
    assert status == "ok", stderr[-3000:]
    assert printed.startswith("child "), (printed, stderr[-3000:])
    # Built from the seed install made: the kernel compiled only the cell.
    assert "Compiling serde" not in stderr, stderr[-3000:]
