"""A real registry holding small real Phase A models, and an AI server app on it."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import mlflow
import numpy as np
import pytest
from fastapi.testclient import TestClient
from mlflow.tracking import MlflowClient

from serving.app import create_app
from serving.settings import Settings
from tcurity import registry
from tcurity.data.adapter import to_perforation
from tcurity.features.phase_a import FEATURE_NAMES, phase_a_features
from tcurity.geometry import random_perforation
from tcurity.sampling import Path2
from tcurity.traces import Trace, make_trace, with_browser_signals
from tcurity.train.behaviour import fit_isolation_forest, log_bundle

TOKEN = "test-token-0123456789abcdef"
PHASE_A = "tcurity-phase-a-iforest"
FEATURES = [
    "log_duration_s",
    "path_efficiency",
    "peak_speed_ratio",
    "speed_cv",
    "start_speed_frac",
    "end_speed_frac",
]


def human_trace(path: Path2, seed: int) -> Trace:
    task = random_perforation(np.random.default_rng(seed))
    return with_browser_signals(make_trace(to_perforation(path, task), task))


def train_and_register(paths: list[Path2], seed: int) -> str:
    """Fits a small bundle on real strokes, logs and registers it; returns the version."""
    rng = np.random.default_rng(seed)
    idx = [FEATURE_NAMES.index(f) for f in FEATURES]
    rows = []
    for path in paths:
        task = random_perforation(rng)
        rows.append(phase_a_features(task, to_perforation(path, task))[idx])
    x = np.array(rows)
    cut = int(len(x) * 0.7)
    bundle, _ = fit_isolation_forest(x[:cut], x[cut:], FEATURES, 50, 128, 1.0, 0.01, 100.0, seed)
    with mlflow.start_run(experiment_id=registry.ensure_experiment("serving-tests")):
        version = log_bundle(bundle, PHASE_A, {"seed": seed}, {"n": float(len(x))}, x)
    return str(version.version)


def promote(version: str, name: str = PHASE_A) -> None:
    """Promotes ``version`` as the promotion step does: a passed promotion record, then the alias."""
    registry.record_promotion(name, version, registry.PASSED, "pipeline")
    MlflowClient().set_registered_model_alias(name, registry.CHAMPION, version)


def settings(**overrides: object) -> Settings:
    values: dict[str, object] = {
        "ai_server_token": TOKEN,
        "tcurity_env": "test",
        "model_poll_interval_s": 0.0,
        "phase_b_problem_image_root": Path("/nonexistent"),
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def champion(mlflow_registry: str, human_paths: list[Path2]) -> str:
    """A promoted champion in a fresh registry, for a test that changes the registry (aliases, tags, files)."""
    version = train_and_register(human_paths, seed=1)
    promote(version)
    return version


@pytest.fixture(scope="module")
def module_champion(
    tmp_path_factory: pytest.TempPathFactory, empty_registry_db: Path, human_paths: list[Path2]
) -> Iterator[str]:
    """A promoted champion in a registry of its own, made once for a module whose tests only read the registry.

    Each test still gets a fresh app (so counters never carry over); a test that changes the registry uses
    ``mlflow_registry`` and :func:`champion` instead.
    """
    root = tmp_path_factory.mktemp("mlruns")
    shutil.copyfile(empty_registry_db, root / "mlflow.db")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{root / 'mlflow.db'}")
        registry.configure()
        version = train_and_register(human_paths, seed=1)
        promote(version)
        yield version
    mlflow.end_run()


@pytest.fixture
def client(champion: str) -> Iterator[TestClient]:
    with TestClient(create_app(settings())) as c:
        yield c
