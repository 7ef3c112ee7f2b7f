# Shared by the scripts: paths, and the one setup step every command needs.
# Sourced, not run.

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# One cargo target directory outside the clone, so a fresh clone (or CI)
# rebuilds only what changed.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/multitask-kernel/target}"
# rust-analyzer's `ra_ap_stdx`, which evcxr builds on, compiles in whether
# `CI` is set (`option_env!`), so cargo rebuilds it and every analyzer crate
# and evcxr after it (~10 minutes here) whenever `CI` differs from the last
# build in this target directory. Nothing here reads `CI`.
unset CI
VENV="$REPO/.venv"
KERNEL_BIN="$CARGO_TARGET_DIR/release/multitask-kernel"

step() { printf '\n==> %s\n' "$*"; }

# Builds the kernel binary ($KERNEL_BIN), unless a script that set up already did.
build_kernel() {
  if [ "${MULTITASK_SETUP_DONE:-}" = 1 ]; then return; fi
  step "Building the kernel (release)"
  (cd "$REPO" && cargo build --release --locked)
}

# Builds the kernel, makes the Python environment and installs the kernelspec
# into it. Idempotent and quick when nothing changed.
setup() {
  # Scripts that call each other set up once.
  if [ "${MULTITASK_SETUP_DONE:-}" = 1 ]; then return; fi
  build_kernel

  if [ ! -x "$VENV/bin/python" ]; then
    step "Creating the Python environment in .venv"
    python3 -m venv "$VENV"
  fi
  local stamp="$VENV/.requirements-installed"
  if ! cmp -s "$REPO/scripts/requirements.txt" "$stamp" 2>/dev/null; then
    step "Installing JupyterLab and the test clients into .venv"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check -r "$REPO/scripts/requirements.txt"
    cp "$REPO/scripts/requirements.txt" "$stamp"
  fi

  # JupyterLab's defaults for this environment: no "receive Jupyter news?"
  # prompt over the first notebook (the course is offline anyway).
  mkdir -p "$VENV/share/jupyter/lab/settings"
  echo '{"@jupyterlab/apputils-extension:notification": {"fetchNews": "false"}}' \
    >"$VENV/share/jupyter/lab/settings/overrides.json"

  step "Installing the multitask kernelspec into .venv (and compiling the prelude once)"
  "$KERNEL_BIN" install --prefix "$VENV"
  export MULTITASK_SETUP_DONE=1
}

# Installs nbgrader into .venv (teachers' tools, and their test) when missing.
ensure_nbgrader() {
  local stamp="$VENV/.teacher-requirements-installed"
  if ! cmp -s "$REPO/scripts/requirements-teacher.txt" "$stamp" 2>/dev/null; then
    step "Installing nbgrader into .venv"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check -r "$REPO/scripts/requirements-teacher.txt"
    cp "$REPO/scripts/requirements-teacher.txt" "$stamp"
  fi
}

# Installs Debian's Chromium (and fonts for the course's Chinese text and
# emoji) when missing: the browser test drives it, the handouts print PDFs with it.
ensure_chromium() {
  local apt_updated=""
  apt_install() {
    if [ -z "$apt_updated" ]; then apt-get update -qq; apt_updated=1; fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
  }
  if [ ! -x /usr/bin/chromium ]; then
    apt_install chromium
  fi
  # Without these fonts the Chinese text and the ✅ marks print as boxes.
  if ! fc-list :lang=zh 2>/dev/null | grep -q .; then
    apt_install fonts-wqy-zenhei
  fi
  if ! fc-list 2>/dev/null | grep -qi 'color emoji'; then
    apt_install fonts-noto-color-emoji
  fi
}
