"""JupyterHub for a class on one machine, with the multitask kernel.

Each learner is a real system user whose single-user server runs as them
(`LocalProcessSpawner`), so `mp::Process` forks real processes owned by the
learner, as the course teaches. `scripts/classroom` sets up the environment
this file expects (the hub's Python environment with the `multitask`
kernelspec and its seed installed into it, configurable-http-proxy, the
learner notebooks) and starts the hub with it; every setting below comes from
an environment variable that script sets, with a default for real use.

Authenticators (`MULTITASK_HUB_AUTH`):

- `pam` (the default): learners log in with their system password; only
  members of the group `MULTITASK_HUB_GROUP` (default `learners`) may, and
  the users in `MULTITASK_HUB_ADMINS` (comma-separated) are admins.
- `shared-password`: anyone logs in under any name with the password
  `MULTITASK_HUB_PASSWORD`, and the hub creates a system user of that name
  on first use. For the benchmark and the tests only: on a hub reachable from
  a network, it hands out accounts on the machine.

For OAuth (GitHub, a university's OpenID Connect, …) install
`oauthenticator` into the hub's environment and set, at the end of this file,
for example::

    from oauthenticator.generic import LocalGenericOAuthenticator
    c.JupyterHub.authenticator_class = LocalGenericOAuthenticator
    c.LocalGenericOAuthenticator.create_system_users = True
    c.GenericOAuthenticator.client_id = ...  # and client_secret, the URLs, allowed_groups

The `Local…` variant maps each OAuth identity to a system user, as the
spawner needs.
"""

import os
import pwd
import shutil
import sys
from pathlib import Path

from jupyterhub.auth import LocalAuthenticator
from jupyterhub.authenticators.shared import SharedPasswordAuthenticator

c = get_config()  # noqa: F821 (JupyterHub provides it)

ENV_PREFIX = Path(sys.prefix)
STATE_DIR = Path(os.environ.get("MULTITASK_HUB_STATE", "."))
COURSE_DIR = Path(
    os.environ.get("MULTITASK_COURSE", Path(__file__).resolve().parents[2] / "notebooks")
)
# Where each learner finds the course in their home.
COURSE_IN_HOME = "multitask-course"

# Loopback by default: a teacher who serves the class over a network puts
# TLS in front of it (or sets c.JupyterHub.ssl_key/ssl_cert) and sets
# MULTITASK_HUB_IP deliberately.
hub_ip = os.environ.get("MULTITASK_HUB_IP", "127.0.0.1")
c.JupyterHub.bind_url = f"http://{hub_ip}:{os.environ.get('MULTITASK_HUB_PORT', '8000')}"
c.JupyterHub.hub_bind_url = f"http://127.0.0.1:{os.environ.get('MULTITASK_HUB_API_PORT', '8081')}"
c.ConfigurableHTTPProxy.api_url = (
    f"http://127.0.0.1:{os.environ.get('MULTITASK_HUB_PROXY_API_PORT', '8001')}"
)
c.ConfigurableHTTPProxy.command = [
    os.environ.get("MULTITASK_HUB_PROXY", "configurable-http-proxy")
]
c.JupyterHub.db_url = f"sqlite:///{STATE_DIR / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(STATE_DIR / "jupyterhub_cookie_secret")
c.ConfigurableHTTPProxy.pid_file = str(STATE_DIR / "jupyterhub-proxy.pid")

# --- Who logs in -----------------------------------------------------------


class LocalSharedPasswordAuthenticator(LocalAuthenticator, SharedPasswordAuthenticator):
    """The shared password, with each name a system user (created on demand)."""


auth = os.environ.get("MULTITASK_HUB_AUTH", "pam")
if auth == "shared-password":
    c.JupyterHub.authenticator_class = LocalSharedPasswordAuthenticator
    c.SharedPasswordAuthenticator.user_password = os.environ["MULTITASK_HUB_PASSWORD"]
    c.Authenticator.allow_all = True
    c.LocalAuthenticator.create_system_users = True
elif auth == "pam":
    c.JupyterHub.authenticator_class = "pam"
    c.PAMAuthenticator.allowed_groups = {os.environ.get("MULTITASK_HUB_GROUP", "learners")}
else:
    raise ValueError(f"MULTITASK_HUB_AUTH is {auth!r}: use pam or shared-password")
c.Authenticator.admin_users = {
    name for name in os.environ.get("MULTITASK_HUB_ADMINS", "").split(",") if name
}
# Users created on demand get a normal home under /home and a shell (useful
# for the hub's terminal), without a password.
c.LocalAuthenticator.add_user_cmd = ["useradd", "--create-home", "--shell", "/bin/bash"]

# A token for scripts (the benchmark, the tests) that create learners and
# start their servers through the REST API, and reach those servers.
api_token = os.environ.get("MULTITASK_HUB_API_TOKEN")
if api_token:
    c.JupyterHub.services = [{"name": "classroom-admin", "api_token": api_token}]
    c.JupyterHub.load_roles = [
        {
            "name": "classroom-admin",
            "scopes": ["admin:users", "admin:servers", "access:servers", "list:users"],
            "services": ["classroom-admin"],
        }
    ]

# --- Each learner's server -------------------------------------------------

c.JupyterHub.spawner_class = "jupyterhub.spawner.LocalProcessSpawner"
# The hub's own environment serves the learners: its share/jupyter holds the
# multitask kernelspec and the seed (`multitask-kernel install --prefix`).
c.Spawner.cmd = [str(ENV_PREFIX / "bin/jupyterhub-singleuser")]
c.Spawner.default_url = f"/lab/tree/{COURSE_IN_HOME}"
# First starts compile nothing but a cell, yet two cores shared by a class
# are slow: generous timeouts, rather than a hub that gives up on a learner.
c.Spawner.start_timeout = 180
c.Spawner.http_timeout = 120
# A server picks each kernel's five TCP ports as free a moment before the
# kernel binds them; with a class's servers all on one machine, another
# learner's kernel can take one meanwhile. The kernel then cannot start,
# and by default (ports cached) every restart tries the same ports again
# until the kernel is declared dead: seen with 20 learners starting at
# once. Uncached, the restart that follows picks new ports.
c.Spawner.args = ["--KernelManager.cache_ports=False"]


def toolchain_environment() -> dict[str, str]:
    """PATH and RUSTUP_HOME that give a learner the hub's Rust toolchain.

    The kernel runs cargo and rustc as the learner. With rustup's default
    install (under root's home) the `cargo` on PATH is rustup's proxy, which
    finds the toolchain through RUSTUP_HOME, not the learner's own
    ~/.rustup; learners need read access to both (search permission on the
    directories above them). CARGO_HOME stays each learner's own ~/.cargo.
    """
    cargo = shutil.which("cargo")
    if cargo is None:
        raise RuntimeError("no cargo on the hub's PATH: the kernel needs a Rust toolchain")
    environment = {
        "PATH": os.pathsep.join(
            [str(Path(cargo).parent), str(ENV_PREFIX / "bin"), "/usr/local/bin", "/usr/bin", "/bin"]
        )
    }
    rustup_home = os.environ.get("RUSTUP_HOME") or str(Path.home() / ".rustup")
    if Path(rustup_home).is_dir():
        environment["RUSTUP_HOME"] = rustup_home
    return environment


c.Spawner.environment = {"LANG": "C.UTF-8", **toolchain_environment()}


def seed_course(spawner) -> None:
    """Copies the learner notebooks into the learner's home on first start.

    Only when ~/multitask-course does not exist yet (even as a symlink), so a
    learner's own work is never overwritten; the copies belong to the learner.
    """
    account = pwd.getpwnam(spawner.user.name)
    target = Path(account.pw_dir) / COURSE_IN_HOME
    if os.path.lexists(target):
        return
    target.mkdir(mode=0o755)
    for notebook in sorted(COURSE_DIR.glob("[0-9][0-9]-*.ipynb")):
        shutil.copyfile(notebook, target / notebook.name)
        os.chown(target / notebook.name, account.pw_uid, account.pw_gid)
    os.chown(target, account.pw_uid, account.pw_gid)
    spawner.log.info("Seeded %s with the course", target)


c.Spawner.pre_spawn_hook = seed_course
