#!/usr/bin/env bash
# Runs the system locally on loopback. Trains the models first when the registry has no champion for one of
# them, builds the SDK when its sources changed, registers the demo shop as a site once, starts every service
# as a background process (pid files in .run/): AI server :9000, backend :8000, demo shop :5173 and nginx
# :8080 in front of them; prints where to find them, and stops everything on Ctrl-C (or `make down`).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH" HF_HUB_OFFLINE=1
RUN=.run
SDK=web/sdk
mkdir -p "$RUN"

log() { printf '\033[1;34m[up]\033[0m %s\n' "$*"; }

ensure_models() {
  if ! python -m tcurity.cli champions >/dev/null; then
    log "a champion model is missing: training with CPU defaults (dvc repro)"
    dvc repro
    if ! python -m tcurity.cli registered >/dev/null; then
      log "DVC outputs are current but the registry lacks a model: re-running the pipeline"
      dvc repro --force
    elif ! python -m tcurity.cli champions >/dev/null; then
      log "a model was trained but failed its promotion gates (reports/promotion/): starting without it"
    fi
  fi
  log "models: $(python -m tcurity.cli champions | tr '\n' ' ')"
}

ensure_secrets() {
  # Local secrets, made once per checkout (never committed: .run/ is ignored). The pepper must stay: the
  # sites' secrets are stored as its keyed hashes.
  local name
  touch "$RUN/secrets.env"; chmod 600 "$RUN/secrets.env"
  for name in AI_SERVER_TOKEN TOKEN_SIGNING_KEY SITE_SECRET_PEPPER; do
    grep -q "^$name=" "$RUN/secrets.env" && continue
    printf '%s=%s\n' "$name" "$(python -c 'import secrets; print(secrets.token_urlsafe(32))')" >>"$RUN/secrets.env"
    [ "$name" = SITE_SECRET_PEPPER ] && rm -f "$RUN/demo-site.env" "$RUN/sites.json"  # hashed under the old one
  done
  set -a; . "$RUN/secrets.env"; set +a
}

ensure_demo_site() {
  # The demo shop as a site of the backend (both phases), registered once with the backend's own CLI.
  export SITES_FILE="$PWD/$RUN/sites.json"
  if ! grep -q '^DEMO_SITE_SECRET=' "$RUN/demo-site.env" 2>/dev/null || [ ! -f "$SITES_FILE" ]; then
    rm -f "$SITES_FILE"
    python -m web.backend.app.cli sites add --name "T-Tickets demo" --hostname 127.0.0.1 --hostname localhost \
      | python -c 'import json, sys; s = json.load(sys.stdin); print("DEMO_SITEKEY=" + s["sitekey"]); print("DEMO_SITE_SECRET=" + s["secret"])' \
      >"$RUN/demo-site.env.new"
    chmod 600 "$RUN/demo-site.env.new"
    mv "$RUN/demo-site.env.new" "$RUN/demo-site.env"
    log "registered the demo shop as a site ($SITES_FILE)"
  fi
  set -a; . "$RUN/demo-site.env"; set +a
}

ensure_sdk() {
  # npm ci only when the lock changed; the build only when a source is newer than it.
  if [ ! "$SDK/node_modules/.package-lock.json" -nt "$SDK/package-lock.json" ]; then
    log "installing the SDK's packages (npm ci)"
    (cd "$SDK" && npm ci --no-audit --no-fund --loglevel=error)
  fi
  if [ ! -f "$SDK/dist/manifest.json" ] || [ -n "$(find "$SDK/src" "$SDK/package.json" "$SDK/vite.config.ts" -newer "$SDK/dist/manifest.json" -print -quit)" ]; then
    log "building the SDK"
    (cd "$SDK" && npm run --silent build)
  fi
}

start() {  # start NAME PORT COMMAND...: background process, its pid in .run/NAME.pid, log in .run/NAME.log
  local name=$1 port=$2 health=${HEALTH:-/health}; shift 2
  "$@" >"$RUN/$name.log" 2>&1 &
  echo $! >"$RUN/$name.pid"
  for _ in $(seq 1 120); do
    if curl -fsS "http://127.0.0.1:$port$health" >/dev/null 2>&1; then log "$name on 127.0.0.1:$port"; return; fi
    kill -0 "$(cat "$RUN/$name.pid")" 2>/dev/null || { log "$name failed to start:"; tail -20 "$RUN/$name.log"; exit 1; }
    sleep 0.5
  done
  log "$name did not answer on :$port"; exit 1
}

stop_all() { scripts/down.sh; }

ensure_models
ensure_secrets
# Production's rules (real secrets, no built-in dev site), except that http origins on loopback are allowed:
# this stack serves plain http on 127.0.0.1. The API docs are on, since nothing here leaves loopback.
export TCURITY_ENV=local API_DOCS=true
ensure_demo_site
ensure_sdk
scripts/down.sh >/dev/null 2>&1 || true
trap stop_all INT TERM EXIT
export PHASE_B_PROBLEM_IMAGE_ROOT="$PWD/data/bank" OMP_NUM_THREADS=1
start ai-server 9000 python -m serving
log "AI server: http://127.0.0.1:9000/docs (token in $RUN/secrets.env) · ready: curl 127.0.0.1:9000/ready"
AI_SERVER_URL=http://127.0.0.1:9000 TRUST_FORWARDED_FOR=true HEALTH=/api/health start backend 8000 python -m web.backend
BACKEND_URL=http://127.0.0.1:8000 start demo 5173 python -m web.demo
start nginx 8080 scripts/nginx.sh run
log "backend: http://127.0.0.1:8000/api/docs · demo shop (sitekey $DEMO_SITEKEY) behind nginx:"
log "open http://127.0.0.1:8080"
log "press Ctrl-C to stop everything"
wait
