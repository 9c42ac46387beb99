"""Shared fixtures: a real MLflow registry in a temporary folder; real human strokes."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import mlflow
import pytest
from mlflow.tracking import MlflowClient

from tcurity import registry
from tcurity.config import PROJECT_ROOT
from tcurity.data.balabit import cut_strokes, keep_stroke, read_session
from tcurity.sampling import Path2

SESSION = next(iter(sorted((PROJECT_ROOT / "data/raw/balabit-mouse/training_files/user12").glob("*.csv.gz"))))


@pytest.fixture(scope="session")
def empty_registry_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An MLflow SQLite database with its tables made, once per session.

    Making the tables (MLflow's migrations) takes seconds; copying the file takes milliseconds, so every test's
    fresh registry starts as a copy of this one. The copy is the same database a fresh one would be: it holds no
    experiment beyond MLflow's default one, and its file is the test's own.
    """
    db = tmp_path_factory.mktemp("mlflow-empty") / "mlflow.db"
    client = MlflowClient(tracking_uri=f"sqlite:///{db}", registry_uri=f"sqlite:///{db}")
    client.search_experiments()  # the tracking store makes the tables and MLflow's default experiment
    client.search_registered_models()  # the registry store, on the same file
    return db


@pytest.fixture
def mlflow_registry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, empty_registry_db: Path
) -> Iterator[str]:
    """A fresh SQLite-backed MLflow registry for one test; yields its tracking URI."""
    uri = f"sqlite:///{tmp_path / 'mlruns' / 'mlflow.db'}"
    (tmp_path / "mlruns").mkdir()
    shutil.copyfile(empty_registry_db, tmp_path / "mlruns" / "mlflow.db")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    registry.configure()
    yield uri
    mlflow.end_run()


@pytest.fixture(scope="session")
def human_paths() -> list[Path2]:
    """Real human strokes of one session (user12)."""
    strokes = cut_strokes(read_session(SESSION), "user12", "s", 400.0)
    return [s.path for s in strokes if keep_stroke(s, 120.0, 450.0, 300.0, 3000.0, 400.0, 0.1)]
