#!/usr/bin/env bash
# Sets up everything the project needs on a fresh Debian machine: system packages, the Python venv with the
# pinned environment, the package itself, the Jupyter kernel, DVC, and the SDK's Node packages (npm ci).
# Idempotent: a second run only checks stamps and returns in seconds.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=.venv
PYTHON=${PYTHON:-python3.11}
command -v "$PYTHON" >/dev/null 2>&1 || PYTHON=python3
STAMP=$VENV/.setup-stamp
# System packages the tests and the local system use: Redis (the backend's shared store), nginx in front of
# the system (scripts/nginx.sh), Chromium for the browser tests (through the playwright package; never its own
# browser download), Nanum fonts so it renders the Korean strings, and promtool (prometheus) and docker-compose
# for the packaging checks (tests/packaging), and Xvfb with xdotool for real OS-level input to a headed Chromium
# (the integrity tests and the red team's OS-input path).
APT_PACKAGES=(git redis-server nginx chromium chromium-driver fonts-nanum prometheus docker-compose xvfb xdotool)
SDK=web/sdk
GHOST=redteam/ghost  # the red-team harness's puppeteer-core + ghost-cursor attacker
NODE_MIN=20.19

log() { printf '\033[1;34m[setup]\033[0m %s\n' "$*"; }

install_apt() {
  local missing=()
  for pkg in "${APT_PACKAGES[@]}"; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
  done
  if ((${#missing[@]})); then
    log "installing Debian packages: ${missing[*]}"
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
}

install_python() {
  local want
  want=$(cat requirements/lock.txt pyproject.toml | sha256sum | cut -c1-16)
  if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ]; then
    log "Python environment up to date ($VENV)"
    return
  fi
  [ -x "$VENV/bin/python" ] || { log "creating $VENV with $PYTHON"; "$PYTHON" -m venv "$VENV"; }
  log "installing the pinned environment (torch comes from this machine's local wheels; first run takes minutes)"
  "$VENV/bin/pip" install -q --upgrade pip wheel
  # --no-compile: pip would byte-compile every file of every package (torch's and CUDA's thousands among them),
  # most never imported here; Python compiles what it imports on first use. A minute of CPU less on a new machine.
  "$VENV/bin/pip" install -q --no-compile -r requirements/lock.txt
  "$VENV/bin/pip" install -q --no-deps -e .
  "$VENV/bin/python" -m ipykernel install --sys-prefix --name python3 --display-name "T-curity (.venv)" >/dev/null
  echo "$want" >"$STAMP"
}

setup_dvc() {
  [ -d .git ] || git init -q
  [ -d .dvc ] || "$VENV/bin/dvc" init -q
  "$VENV/bin/dvc" config core.analytics false
}

install_node() {
  command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 || {
    log "Node.js >= $NODE_MIN and npm are needed for the SDK (web/sdk)"; exit 1; }
  local have
  have=$(node -p 'process.versions.node')
  if ! printf '%s\n%s\n' "$NODE_MIN" "$have" | sort -V -C; then
    log "Node.js $have is older than $NODE_MIN (Vite 7 needs it)"; exit 1
  fi
  local dir
  for dir in "$SDK" "$GHOST"; do
    if [ "$dir/node_modules/.package-lock.json" -nt "$dir/package-lock.json" ]; then
      log "Node packages up to date ($dir/node_modules)"
      continue
    fi
    log "installing the pinned Node packages of $dir (npm ci)"
    # The ghost-cursor attacker drives Debian's Chromium: puppeteer must not download one.
    (cd "$dir" && PUPPETEER_SKIP_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error)
  done
}

install_apt
install_python
install_node
setup_dvc
log "ready"
