#!/usr/bin/env bash
# Runs the system locally on loopback. Trains the models first when the registry has no champion for one of
# them, starts every service as a background process (pid files in .run/), prints where to find them, and
# stops everything on Ctrl-C (or `make down` from another terminal).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH" HF_HUB_OFFLINE=1
RUN=.run
mkdir -p "$RUN"

log() { printf '\033[1;34m[up]\033[0m %s\n' "$*"; }

ensure_models() {
  if ! python -m tcurity.cli champions >/dev/null; then
    log "a champion model is missing: training with CPU defaults (dvc repro)"
    dvc repro
    if ! python -m tcurity.cli champions >/dev/null; then
      log "DVC outputs are current but the registry lacks a champion: re-running the pipeline"
      dvc repro --force
    fi
  fi
  log "models: $(python -m tcurity.cli champions | tr '\n' ' ')"
}

ensure_secrets() {
  # Local secrets, made once per checkout (never committed: .run/ is ignored).
  if [ ! -f "$RUN/secrets.env" ]; then
    umask 077
    printf 'AI_SERVER_TOKEN=%s\n' "$(python -c 'import secrets; print(secrets.token_urlsafe(32))')" >"$RUN/secrets.env"
  fi
  set -a; . "$RUN/secrets.env"; set +a
}

start() {  # start NAME PORT COMMAND...: background process, its pid in .run/NAME.pid, log in .run/NAME.log
  local name=$1 port=$2; shift 2
  "$@" >"$RUN/$name.log" 2>&1 &
  echo $! >"$RUN/$name.pid"
  for _ in $(seq 1 120); do
    if curl -fsS "http://127.0.0.1:$port/health" >/dev/null 2>&1; then log "$name on 127.0.0.1:$port"; return; fi
    kill -0 "$(cat "$RUN/$name.pid")" 2>/dev/null || { log "$name failed to start:"; tail -20 "$RUN/$name.log"; exit 1; }
    sleep 0.5
  done
  log "$name did not answer on :$port"; exit 1
}

stop_all() { scripts/down.sh; }

ensure_models
ensure_secrets
scripts/down.sh >/dev/null 2>&1 || true
trap stop_all INT TERM EXIT
export TCURITY_ENV=development PHASE_B_PROBLEM_IMAGE_ROOT="$PWD/data/bank" OMP_NUM_THREADS=1
start ai-server 9000 python -m serving
log "AI server: http://127.0.0.1:9000/docs (token in $RUN/secrets.env) · ready: curl 127.0.0.1:9000/ready"
log "press Ctrl-C to stop everything"
wait
