#!/usr/bin/env bash
# Runs the system locally on loopback. Sets up (scripts/setup.sh), trains the models first when the registry has
# no champion for one of them (the first-run path below), builds the SDK when its sources changed, registers the
# demo shop as a site once, starts every service as a background process (pid files in .run/): AI server :9000,
# backend :8000, demo shop :5173 and nginx :8080 in front of them. It prints the URL only once the AI server's
# /ready and the backend's /api/ready both answer ready; otherwise it stops everything and says what is missing
# and the one command that fixes it. It never serves a half system. Each step's time goes to .run/up-timings.log.
# Ctrl-C (or `make down`) stops everything.
set -euo pipefail
cd "$(dirname "$0")/.."
RUN=.run
SDK=web/sdk
mkdir -p "$RUN"
# The first run trains only what serving needs: every model up to its promotion. The attacker evaluation, Phase B's
# refitted forests (evaluate_phase_b_unseen) and the exploration notebook are reports, not models: `make train`
# runs them (README, `make up`).
FIRST_RUN_TARGETS=(promote_phase_a promote_phase_b promote_effnet)
TIMINGS="$RUN/up-timings.log"
UP_STARTED=$(date +%s)

log() { printf '\033[1;34m[up]\033[0m %s\n' "$*"; }
fail() { printf '\033[1;31m[up] NOT READY:\033[0m %s\n' "$*" >&2; }

timed() {  # timed NAME COMMAND...: runs it, logs and records how long it took (seconds)
  local name=$1 started rc=0; shift
  started=$(date +%s)
  "$@" || rc=$?
  printf '%-28s %5ss\n' "$name" "$(($(date +%s) - started))" | tee -a "$TIMINGS" | sed 's/^/[up] time: /'
  return "$rc"
}

repro_timed() {  # dvc repro ARGS..., with each stage's time in the timings log
  dvc repro "$@" 2>&1 | {
    local stage="" since now line
    since=$(date +%s)
    while IFS= read -r line; do
      printf '%s\n' "$line"
      if [[ $line =~ ^Running\ stage\ \'([a-z_]+)\' ]]; then
        now=$(date +%s)
        [ -n "$stage" ] && printf '  stage %-22s %5ss\n' "$stage" "$((now - since))" >>"$TIMINGS"
        stage=${BASH_REMATCH[1]} since=$now
      fi
    done
    [ -z "$stage" ] || printf '  stage %-22s %5ss\n' "$stage" "$(($(date +%s) - since))" >>"$TIMINGS"
  }
  return "${PIPESTATUS[0]}"
}

ensure_models() {
  if python -m tcurity.cli champions >/dev/null; then
    log "models: $(python -m tcurity.cli champions | tr '\n' ' ')"
    return
  fi
  log "a champion model is missing: training what serving needs (${FIRST_RUN_TARGETS[*]}; CPU defaults)"
  timed "train (first run)" repro_timed "${FIRST_RUN_TARGETS[@]}" || {
    fail "the training pipeline failed (output above). Fix: make train"
    exit 1
  }
  if ! python -m tcurity.cli registered >/dev/null; then
    log "DVC outputs are current but the registry lacks a model: re-running the pipeline"
    timed "train (forced)" repro_timed --force "${FIRST_RUN_TARGETS[@]}" || { fail "training failed. Fix: make train"; exit 1; }
  fi
  if ! python -m tcurity.cli champions >/dev/null; then
    fail "a model was trained but has no champion, so the system would not be ready:"
    python -m tcurity.cli check >&2 || true
    printf '  (decisions in reports/promotion/; versions and gates: make models)\n' >&2
    exit 1
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
  # The demo shop as a site of the backend (both phases, injected input blocked: docs/integrity.md), registered
  # once with the backend's own CLI.
  export SITES_FILE="$PWD/$RUN/sites.json"
  if ! grep -q '^DEMO_SITE_SECRET=' "$RUN/demo-site.env" 2>/dev/null || [ ! -f "$SITES_FILE" ]; then
    rm -f "$SITES_FILE"
    python -m web.backend.app.cli sites add --name "T-Tickets demo" --hostname 127.0.0.1 --hostname localhost \
      --integrity block \
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

ensure_ready() {  # the AI server and the backend both ready, or stop with what is missing
  local ai backend
  ai=$(curl -sS "http://127.0.0.1:9000/ready" 2>&1 || true)
  backend=$(curl -sS "http://127.0.0.1:8000/api/ready" 2>&1 || true)
  if ! grep -q '"ready":true' <<<"$ai" || ! grep -q '"ready":true' <<<"$backend"; then
    fail "the system answers but is not ready; stopping rather than serving half of it."
    printf '  AI server /ready: %s\n  backend /api/ready: %s\n' "$ai" "$backend" >&2
    python -m tcurity.cli check >&2 || true
    printf '  logs: %s/ai-server.log, %s/backend.log\n' "$RUN" "$RUN" >&2
    exit 1
  fi
}

stop_all() { scripts/down.sh; }

: >"$TIMINGS"
timed setup scripts/setup.sh
export PATH="$PWD/.venv/bin:$PATH" HF_HUB_OFFLINE=1
ensure_models
ensure_secrets
# Production's rules (real secrets, no built-in dev site), except that http origins on loopback are allowed:
# this stack serves plain http on 127.0.0.1. The API docs are on, since nothing here leaves loopback.
export TCURITY_ENV=local API_DOCS=true
ensure_demo_site
timed sdk ensure_sdk
scripts/down.sh >/dev/null 2>&1 || true
trap stop_all INT TERM EXIT
export PHASE_B_PROBLEM_IMAGE_ROOT="$PWD/data/bank" OMP_NUM_THREADS=1
timed "start ai-server" start ai-server 9000 python -m serving
AI_SERVER_URL=http://127.0.0.1:9000 TRUSTED_PROXIES=127.0.0.1 HEALTH=/api/health timed "start backend" start backend 8000 python -m web.backend
BACKEND_URL=http://127.0.0.1:8000 timed "start demo" start demo 5173 python -m web.demo
timed "start nginx" start nginx 8080 scripts/nginx.sh run
ensure_ready
printf '%-28s %5ss\n' "make up, in all" "$(($(date +%s) - UP_STARTED))" | tee -a "$TIMINGS" | sed 's/^/[up] time: /'
log "AI server: http://127.0.0.1:9000/docs (token in $RUN/secrets.env) · backend: http://127.0.0.1:8000/api/docs"
log "ready: every champion loaded (AI server /ready and backend /api/ready). Demo shop (sitekey $DEMO_SITEKEY):"
log "open http://127.0.0.1:8080"
log "press Ctrl-C to stop everything (timings: $TIMINGS)"
wait
