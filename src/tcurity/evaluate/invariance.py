"""Rate invariance at browser resolution, measured on real people: the statistics and the feature matrix.

The question is whether a feature measured on :func:`tcurity.sampling.browser_grid` tells a 60 Hz browser from a
125 Hz one. Two comparisons answer it (``docs/sampling.md``, ``tests/test_sampling_invariance.py``):

- *same movements*: 125 Hz strokes against the same strokes as the SDK would record them in a 60 Hz browser
  (:func:`tcurity.sampling.sdk_event_stream`). Any difference is the rate's alone.
- *populations*: the SapiMouse training people recorded at 60 Hz against those recorded at ≥ 110 Hz. These are
  different people, so the rate's effect is judged against what regrouping people alone does: the same
  statistic between random groups of 60 Hz people of the same size (:func:`grouping_null`).

The statistic is the standardized mean difference (:func:`standardized_mean_difference`, Cohen's *d* with the
pooled standard deviation): scale-free, comparable across features, and with a conventional reading (0.2 is a
"small" effect). Kolmogorov–Smirnov distances are reported beside it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray
from scipy.stats import ks_2samp

from tcurity.data.adapter import to_perforation
from tcurity.features.fine import FINE_FEATURE_NAMES, RATE_SENSITIVE, fine_features
from tcurity.features.phase_a import KINEMATIC_FEATURE_NAMES, phase_a_features
from tcurity.geometry import random_perforation
from tcurity.sampling import BROWSER_GRID_MS, Path2, browser_grid, sdk_event_stream

BROWSER_FEATURE_NAMES: tuple[str, ...] = (
    tuple(f"pa_{n}" for n in KINEMATIC_FEATURE_NAMES) + FINE_FEATURE_NAMES
)
"""Phase A's kinematic features computed on the browser grid (prefixed ``pa_``), then :data:`FINE_FEATURE_NAMES`."""

__all__ = ["BROWSER_FEATURE_NAMES", "RATE_SENSITIVE"]  # RATE_SENSITIVE lives in tcurity.features.fine


def standardized_mean_difference(a: NDArray[np.float64], b: NDArray[np.float64]) -> NDArray[np.float64]:
    """Per column, ``(mean(a) − mean(b)) / sqrt((var(a) + var(b)) / 2)`` (population variances).

    A column constant in both samples gives 0 when the means agree (and ±inf when they do not).
    """
    a2, b2 = np.atleast_2d(np.asarray(a, dtype=np.float64)), np.atleast_2d(np.asarray(b, dtype=np.float64))
    diff = a2.mean(axis=0) - b2.mean(axis=0)
    pooled = np.sqrt((a2.var(axis=0) + b2.var(axis=0)) / 2.0)
    out = np.zeros_like(diff)
    spread = pooled > 0
    out[spread] = diff[spread] / pooled[spread]
    apart = ~spread & (diff != 0)
    out[apart] = np.copysign(np.inf, diff[apart])
    return np.asarray(out, dtype=np.float64)


def grouping_null(
    features: NDArray[np.float64],
    users: Sequence[str],
    group_size: int,
    draws: int,
    rng: np.random.Generator,
    quantile: float = 0.95,
) -> NDArray[np.float64]:
    """Per column, the ``quantile`` of ``|SMD|`` between ``group_size`` random people and the others.

    This is how far two groups of people differ by who is in them alone, the yardstick for a difference between
    two groups of people recorded at different rates. ``features`` holds one row per movement, ``users`` its
    person.

    Raises:
        ValueError: when ``group_size`` leaves no one for the other group.
    """
    owners = np.asarray(users)
    people = np.unique(owners)
    if not 0 < group_size < len(people):
        raise ValueError(f"a group of {group_size} out of {len(people)} people leaves no comparison")
    values = np.empty((draws, features.shape[1]))
    for k in range(draws):
        chosen = np.isin(owners, rng.choice(people, size=group_size, replace=False))
        values[k] = np.abs(standardized_mean_difference(features[chosen], features[~chosen]))
    return np.asarray(np.quantile(values, quantile, axis=0), dtype=np.float64)


def browser_features(paths: Sequence[Path2], seed: int = 0) -> NDArray[np.float64]:
    """One row of :data:`BROWSER_FEATURE_NAMES` per movement (raw events, pixels).

    Phase A's features need a task: each movement is mapped onto a random perforation (one seeded generator
    for the whole list, so a list and its re-emission get the same perforations, in order) and measured on the
    browser grid; the fine features are measured on the movement itself, on the browser grid.
    """
    rng = np.random.default_rng(seed)
    rows = []
    for path in paths:
        task = random_perforation(rng)
        coarse = phase_a_features(task, to_perforation(path, task), BROWSER_GRID_MS)[
            : len(KINEMATIC_FEATURE_NAMES)
        ]
        rows.append(np.concatenate([coarse, fine_features(browser_grid(path))]))
    return np.array(rows, dtype=np.float64).reshape(len(rows), len(BROWSER_FEATURE_NAMES))


def raw_fine_features(paths: Sequence[Path2]) -> NDArray[np.float64]:
    """:func:`fine_features` on raw events as if they were evenly spaced: what a model without the grid would
    see (the negative control of the invariance tests: its rate differences must show)."""
    return np.array([fine_features(p) for p in paths], dtype=np.float64).reshape(
        len(paths), len(FINE_FEATURE_NAMES)
    )


def rate_invariance_report(
    high: Sequence[tuple[str, Path2]],
    standard: Sequence[tuple[str, Path2]],
    seed: int,
    null_draws: int = 200,
) -> dict[str, object]:
    """Both comparisons of the module docstring, per feature, as a JSON-ready dict.

    ``high`` and ``standard`` are ``(person, movement)`` pairs of the ≥ 110 Hz and the 60 Hz people. Returns, per
    feature of :data:`BROWSER_FEATURE_NAMES`: ``same_movement_smd`` (60 Hz SDK stream against the 125 Hz
    recording), ``population_smd`` and ``population_ks`` (≥ 110 Hz people against 60 Hz people),
    ``grouping_null_95`` (:func:`grouping_null`), and ``raw_population_smd`` for the fine features measured on raw
    events (the same comparison without the grid).
    """
    rng = np.random.default_rng(seed)
    high_paths = [p for _, p in high]
    f_high = browser_features(high_paths, seed)
    f_sdk = browser_features([sdk_event_stream(p, rng) for p in high_paths], seed)
    f_std = browser_features([p for _, p in standard], seed + 1)
    n_people = len({u for u, _ in high})
    null = grouping_null(f_std, [u for u, _ in standard], n_people, null_draws, rng)
    same = standardized_mean_difference(f_sdk, f_high)
    population = standardized_mean_difference(f_high, f_std)
    raw = standardized_mean_difference(
        raw_fine_features(high_paths), raw_fine_features([p for _, p in standard])
    )
    features: dict[str, dict[str, float]] = {}
    for i, name in enumerate(BROWSER_FEATURE_NAMES):
        features[name] = {
            "same_movement_smd": round(float(same[i]), 4),
            "population_smd": round(float(population[i]), 4),
            "population_ks": round(float(ks_2samp(f_high[:, i], f_std[:, i]).statistic), 4),
            "grouping_null_95": round(float(null[i]), 4),
        }
        if name in FINE_FEATURE_NAMES:
            features[name]["raw_population_smd"] = round(float(raw[FINE_FEATURE_NAMES.index(name)]), 4)
    return {
        "movements": {"high_rate": len(high), "standard_rate": len(standard)},
        "people": {"high_rate": n_people, "standard_rate": len({u for u, _ in standard})},
        "features": features,
    }
