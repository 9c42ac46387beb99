#!/usr/bin/env bash
# Runs the system locally. Trains the models first when the registry has no champion for one of them
# (`dvc repro`, forced when DVC's outputs exist but the registry was removed).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH"

log() { printf '\033[1;34m[up]\033[0m %s\n' "$*"; }

if ! python -m tcurity.cli champions; then
  log "a champion model is missing: training (dvc repro, CPU defaults)"
  dvc repro
  if ! python -m tcurity.cli champions; then
    log "DVC outputs are up to date but the registry lacks a champion: re-running the pipeline"
    dvc repro --force
    python -m tcurity.cli champions
  fi
fi
log "models ready: $(python -m tcurity.cli champions | tr '\n' ' ')"
log "metrics: reports/metrics/ · MLflow UI: make mlflow-ui"
