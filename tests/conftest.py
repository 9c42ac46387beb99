"""Shared fixtures: a real MLflow registry in a temporary folder; real human strokes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import mlflow
import pytest

from tcurity import registry
from tcurity.config import PROJECT_ROOT
from tcurity.data.balabit import cut_strokes, keep_stroke, read_session
from tcurity.sampling import Path2

SESSION = next(iter(sorted((PROJECT_ROOT / "data/raw/balabit-mouse/training_files/user12").glob("*.csv.gz"))))


@pytest.fixture
def mlflow_registry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A fresh SQLite-backed MLflow registry for one test; yields its tracking URI."""
    uri = f"sqlite:///{tmp_path / 'mlruns' / 'mlflow.db'}"
    (tmp_path / "mlruns").mkdir()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    registry.configure()
    yield uri
    mlflow.end_run()


@pytest.fixture(scope="session")
def human_paths() -> list[Path2]:
    """Real human strokes of one session (user12)."""
    strokes = cut_strokes(read_session(SESSION), "user12", "s", 400.0)
    return [s.path for s in strokes if keep_stroke(s, 120.0, 450.0, 300.0, 3000.0, 400.0, 0.1)]
