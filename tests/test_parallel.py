"""Cores are an execution setting: a forest, and a table shared out over processes, do not depend on them."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest

from tcurity import parallel
from tcurity.parallel import JOBS_VARIABLE, chunks, jobs, map_chunks
from tcurity.scoring import flatten_random_forest
from tcurity.train.behaviour import balanced_forest, fit_isolation_forest


@dataclass(frozen=True)
class Settings:
    n_estimators: int = 24
    max_depth: int = 6
    min_samples_leaf: int = 2
    max_features: float = 0.5


def rows(seed: int, n: int) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, 5))


def squares(items: Sequence[int]) -> pd.DataFrame:
    """A per-item table with the worker's pid, to tell that the work was shared out."""
    return pd.DataFrame({"item": items, "square": [i * i for i in items], "pid": os.getpid()})


def test_jobs_default_to_the_cores_this_process_may_use(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(JOBS_VARIABLE, raising=False)
    assert jobs() == len(os.sched_getaffinity(0))
    monkeypatch.setenv(JOBS_VARIABLE, "3")
    assert jobs() == 3


@pytest.mark.parametrize("raw", ["0", "-1", "two", "1.5"])
def test_a_bad_jobs_setting_is_refused(monkeypatch: pytest.MonkeyPatch, raw: str) -> None:
    monkeypatch.setenv(JOBS_VARIABLE, raw)
    with pytest.raises(ValueError, match=JOBS_VARIABLE):
        jobs()


def test_chunks_are_contiguous_near_equal_and_never_empty() -> None:
    assert chunks(list(range(7)), 3) == [[0, 1, 2], [3, 4], [5, 6]]
    assert chunks([1, 2], 5) == [[1], [2]]
    assert chunks([], 2) == []


def test_a_table_shared_out_over_processes_equals_the_one_process_table(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(parallel, "MIN_ITEMS_PER_JOB", 2)
    items = list(range(11))
    monkeypatch.setenv(JOBS_VARIABLE, "1")
    alone = map_chunks(squares, items)
    monkeypatch.setenv(JOBS_VARIABLE, "2")
    shared = map_chunks(squares, items)
    pd.testing.assert_frame_equal(alone.drop(columns="pid"), shared.drop(columns="pid"))
    assert alone.pid.nunique() == 1 and alone.pid.iloc[0] == os.getpid()
    assert shared.pid.nunique() == 2 and os.getpid() not in set(shared.pid)


def test_the_supervised_forest_is_the_same_on_one_thread_and_on_two(monkeypatch: pytest.MonkeyPatch) -> None:
    x = np.vstack([rows(1, 120), rows(2, 120) + 0.8])
    y = np.repeat([0, 1], 120)
    fitted = {}
    for n in ("1", "2"):
        monkeypatch.setenv(JOBS_VARIABLE, n)
        fitted[n] = flatten_random_forest(balanced_forest(x, y, Settings(), seed=7))
    for a, b in zip(vars(fitted["1"]).values(), vars(fitted["2"]).values(), strict=True):
        np.testing.assert_array_equal(a, b)


def test_the_isolation_forest_is_the_same_on_one_thread_and_on_two(monkeypatch: pytest.MonkeyPatch) -> None:
    probe = rows(4, 50)
    margins = {}
    for n in ("1", "2"):
        monkeypatch.setenv(JOBS_VARIABLE, n)
        bundle, _ = fit_isolation_forest(
            rows(3, 300),
            rows(5, 100),
            ["a", "b", "c", "d", "e"],
            n_estimators=24,
            max_samples=128,
            max_features=1.0,
            target_frr=0.01,
            grid_ms=0.0,
            seed=7,
        )
        margins[n] = bundle.margins(probe)
    np.testing.assert_array_equal(margins["1"], margins["2"])
