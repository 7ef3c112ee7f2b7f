"""What the classroom tests share: reaching root's Rust toolchain as a learner."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path


def toolchain_dirs() -> list[Path]:
    """The directories holding the cargo and rustc that learners must run."""
    cargo = shutil.which("cargo")
    assert cargo, "cargo is not on the PATH"
    sysroot = subprocess.run(
        ["rustc", "--print", "sysroot"], capture_output=True, text=True, check=True
    ).stdout.strip()
    rustup_home = os.environ.get("RUSTUP_HOME", str(Path.home() / ".rustup"))
    return [Path(cargo).resolve().parent, Path(cargo).parent, Path(sysroot), Path(rustup_home)]


class OpenPath:
    """Lets other users reach `dirs`: adds the search bit (o+x, not read) to
    each of them and their ancestors that lacks it, and puts the modes back
    afterwards. A machine-wide toolchain (under /usr/local, say) needs none of
    this; rustup's default one, under root's home, does."""

    def __init__(self, dirs: list[Path]):
        self.changed: dict[Path, int] = {}
        for directory in dirs:
            for ancestor in [directory, *directory.parents]:
                mode = ancestor.stat().st_mode
                if not mode & stat.S_IXOTH:
                    self.changed.setdefault(ancestor, mode)
                    ancestor.chmod(mode | stat.S_IXOTH)

    def close(self) -> None:
        for directory, mode in self.changed.items():
            directory.chmod(stat.S_IMODE(mode))
