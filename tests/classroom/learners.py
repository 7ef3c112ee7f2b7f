"""What the classroom tests share: the kernel binary under test, the
toolchain learners must reach, and starting an installed kernel as a learner."""

from __future__ import annotations

import json
import os
import pwd
import queue
import shutil
import stat
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

from jupyter_client import BlockingKernelClient
from jupyter_client.connect import write_connection_file

KERNEL_BIN = Path(
    os.environ.get(
        "MULTITASK_KERNEL_BIN",
        Path.home() / ".cache/multitask-kernel/target/release/multitask-kernel",
    )
)


def scratch_dir(prefix: str) -> Path:
    """A new temporary directory every user can reach, for a test that runs
    the kernel as other users: asserts first what such a test needs (root,
    which may create users, and the kernel binary under test)."""
    assert os.geteuid() == 0, "this test creates users: run it as root (scripts/test does)"
    assert KERNEL_BIN.exists(), f"no kernel binary at {KERNEL_BIN}"
    directory = Path(tempfile.mkdtemp(prefix=prefix))
    directory.chmod(0o755)
    return directory


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


def start_kernel_as(name: str, spec: Path, base: Path):
    """Starts the installed kernel as user `name`, as Jupyter would (the
    kernelspec's argv with a connection file), with a login-like environment."""
    home = Path(pwd.getpwnam(name).pw_dir)
    connection_file = base / f"{name}.json"
    write_connection_file(str(connection_file), ip="127.0.0.1", key=uuid.uuid4().hex.encode())
    shutil.chown(connection_file, user=name)
    argv = [
        arg.replace("{connection_file}", str(connection_file))
        for arg in json.loads((spec / "kernel.json").read_text())["argv"]
    ]
    environment = {
        "HOME": str(home),
        "USER": name,
        "PATH": os.pathsep.join(
            [str(toolchain_dirs()[1]), "/usr/local/bin", "/usr/bin", "/bin"]
        ),
        "RUSTUP_HOME": os.environ.get("RUSTUP_HOME", str(Path.home() / ".rustup")),
        "LANG": "C.UTF-8",
    }
    log = open(base / f"{name}.stderr", "w+")
    kernel = subprocess.Popen(
        ["runuser", "-u", name, "--", "env", "-i", *[f"{k}={v}" for k, v in environment.items()], *argv],
        cwd=home,
        stdout=subprocess.DEVNULL,
        stderr=log,
    )
    client = BlockingKernelClient(connection_file=str(connection_file))
    client.load_connection_file()
    client.start_channels()
    return kernel, client, log


def wait_for_kernel_info(client, kernel: subprocess.Popen, log, timeout: float = 120) -> None:
    """Waits for the kernel's kernel_info reply while its process lives (as
    Jupyter's server judges a kernel: by its process, not by heartbeats, which
    a kernel still starting on a busy machine may answer late)."""
    msg_id = client.kernel_info()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if kernel.poll() is not None:
            log.seek(0)
            raise AssertionError(f"the kernel exited with {kernel.returncode}: {log.read()[-2000:]}")
        try:
            reply = client.get_shell_msg(timeout=1)
        except queue.Empty:
            continue
        if reply["parent_header"].get("msg_id") == msg_id:
            return
    raise AssertionError(f"no kernel_info reply within {timeout} s")


class LearnerKernel:
    """The installed kernel run as learner `name` and answering (its
    kernel_info replied); `stderr` holds the kernel's log once closed."""

    def __init__(self, name: str, spec: Path, base: Path):
        self.process, self.client, self._log = start_kernel_as(name, spec, base)
        self.stderr = ""
        try:
            wait_for_kernel_info(self.client, self.process, self._log)
        except BaseException:
            self.close()
            raise

    def run(self, code: str, timeout: float = 300) -> tuple[str, str, list[str]]:
        """Runs `code`: (reply status, printed text, execute_result texts)."""
        printed: list[str] = []
        values: list[str] = []

        def keep(message):
            if message["msg_type"] == "stream":
                printed.append(message["content"]["text"])
            elif message["msg_type"] == "execute_result":
                values.append(message["content"]["data"]["text/plain"])

        reply = self.client.execute_interactive(code, timeout=timeout, output_hook=keep)
        return reply["content"]["status"], "".join(printed), values

    def close(self) -> None:
        self.client.shutdown()
        self.client.stop_channels()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self._log.seek(0)
        self.stderr = self._log.read()
        self._log.close()

    def __enter__(self) -> "LearnerKernel":
        return self

    def __exit__(self, *_exception) -> None:
        self.close()
