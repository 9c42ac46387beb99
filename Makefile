# T-curity: the one source of commands. `make` (or `make help`) lists them.
SHELL := /bin/bash
.DEFAULT_GOAL := help
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
export PATH := $(BIN):$(PATH)
export HF_HUB_OFFLINE := 1
export MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR := false
# Two cores: torch and BLAS share them with servers and tests deliberately.
export OMP_NUM_THREADS ?= 2
PYTEST_ARGS ?=
REDTEAM_ARGS ?=

.PHONY: help setup up down train repro models test test-slow lint typecheck unit sdk sdk-api sdk-vocabulary lab mlflow-ui bench bench-pool bench-capacity redteam redteam-quick redteam-drivers lock clean

help: ## List the commands
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[1m%-12s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

setup: ## Install everything on a fresh Debian machine (idempotent, seconds when done)
	@scripts/setup.sh

up: ## Set up, train what serving needs if a champion is missing, run the system once ready (Ctrl-C stops it)
	@scripts/up.sh

down: ## Stop everything `make up` started (by pid)
	@scripts/down.sh

bench: setup ## Benchmarks (loopback only, bounded) → reports/bench/*.json
	python -m bench.serving
	python -m bench.integrity

bench-pool: setup ## Phase B pool: filler rate on CPU, issuing at 200/s and with 200 clients (loopback) → reports/bench/pool.json
	python -m bench.pool

bench-capacity: setup ## Open-loop whole challenges through nginx, ramped arrivals, CPU per challenge by process (loopback, ~7 min) → reports/bench/capacity.json
	python -m bench.capacity

redteam: setup redteam-drivers ## Attackers and held-out people against the whole system on the champions → reports/redteam/
	python -m tcurity.cli champions >/dev/null || dvc repro
	python -m redteam $(REDTEAM_ARGS)

train: setup ## Run the whole training pipeline (dvc repro), the attacker evaluation and exploration included
	dvc repro

models: setup ## Models, versions, aliases and gates; ARGS="promote effnet 9 --reason ..." or "rollback effnet --reason ..."
	python -m tcurity.cli models $(or $(ARGS),list)

repro: train ## Same as train

test: setup lint typecheck sdk unit ## Set up and run every check: lint, types, the SDK, tests (browser tests included)

lint: ## ruff on code and tests
	ruff check src pipelines serving web tests bench redteam
	ruff format --check src pipelines serving web tests bench redteam

typecheck: ## mypy on the package and entry points
	mypy src pipelines serving web bench redteam

sdk: ## The browser SDK: typecheck, unit tests (vitest) and build (web/sdk/dist, size budget checked)
	cd web/sdk && npm run --silent typecheck && npm test --silent && npm run --silent build

sdk-api: ## Regenerate the SDK's API types from the backend's OpenAPI (web/sdk/openapi.json → src/api-types.ts)
	python -m web.backend.openapi > web/sdk/openapi.json
	cd web/sdk && npm run --silent gen:api

sdk-vocabulary: ## Regenerate the SDK's copy of the server's codes and thresholds (web/sdk/src/vocabulary.ts)
	python -m web.backend.sdk_vocabulary > web/sdk/src/vocabulary.ts

unit: ## pytest (default marker set: fast tests)
	pytest $(PYTEST_ARGS)

test-slow: setup ## The slow tier only: the pipeline end to end (stages, notebooks, registry), MLflow with auth, the replay and rate studies
	pytest -m slow $(PYTEST_ARGS)

redteam-drivers: setup ## The red team's stealth CDP drivers (requirements/redteam.txt; never needed by the tests)
	pip install -q --no-deps -r requirements/redteam.txt

redteam-quick: setup redteam-drivers ## One attempt per attacker and 5 people (≤ 10 min) → reports/redteam/quick/, before a change to detection
	python -m tcurity.cli champions >/dev/null || dvc repro
	python -m redteam --attempts 1 --human-attempts 5 --max-minutes 9 --out reports/redteam/quick $(REDTEAM_ARGS)

lab: setup ## JupyterLab on the project's kernel
	jupyter lab --notebook-dir=notebooks --ip=127.0.0.1 --no-browser

mlflow-ui: setup ## MLflow UI on the local registry (http://127.0.0.1:5000)
	MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false mlflow ui --backend-store-uri "$$(python -c 'from tcurity.config import tracking_uri; print(tracking_uri())')" --host 127.0.0.1 --port 5000 --workers 1

clean: ## Remove derived data, models, the local registry and caches (keeps the venv)
	rm -rf data/interim data/processed data/bank models mlruns reports/notebooks .pytest_cache .mypy_cache .ruff_cache

lock: ## Re-pin requirements/lock.txt from the current venv (after changing requirements/base.in)
	pip install -r requirements/base.in && pip freeze --exclude-editable | grep -v '^-e' > requirements/lock.txt
