"""The statistics of the rate-invariance proof, on hand-computable samples."""

from __future__ import annotations

import numpy as np
import pytest

from tcurity.evaluate.invariance import (
    BROWSER_FEATURE_NAMES,
    browser_features,
    grouping_null,
    standardized_mean_difference,
)
from tcurity.sampling import Path2


def test_standardized_mean_difference_by_hand() -> None:
    # Column 0: means 2 and 0, variances 2/3 and 2/3 → d = 2 / sqrt(2/3) = sqrt(6).
    # Column 1: both constant and equal → 0. Column 2: both constant, apart → +inf (a below b: −inf).
    a = np.array([[1.0, 5.0, 1.0], [2.0, 5.0, 1.0], [3.0, 5.0, 1.0]])
    b = np.array([[-1.0, 5.0, 2.0], [0.0, 5.0, 2.0], [1.0, 5.0, 2.0]])
    d = standardized_mean_difference(a, b)
    assert d[0] == np.sqrt(6.0)
    assert d[1] == 0.0
    assert d[2] == -np.inf


def test_grouping_null_of_identical_people_is_zero_and_of_two_kinds_is_large() -> None:
    rng = np.random.default_rng(0)
    same = np.ones((6, 1))
    assert grouping_null(same, ["a", "a", "b", "b", "c", "c"], 1, 10, rng).tolist() == [0.0]
    # People a and b move at 0, c and d at 1: a group of one always differs from the rest by
    # |0 − 2/3| / sqrt((0 + 2/9) / 2) = 2 (or by 2 the other way).
    values = np.array([[0.0], [0.0], [1.0], [1.0]])
    null = grouping_null(values, ["a", "b", "c", "d"], 1, 20, rng)
    assert null.tolist() == [2.0]


def test_browser_features_are_one_named_row_per_movement() -> None:
    t = np.arange(30, dtype=np.float64) * (1000.0 / 60.0)
    paths = [Path2(t, 10.0 * t / 16.0, np.sin(t / 50.0)), Path2(t, 5.0 * t / 16.0, np.cos(t / 70.0))]
    rows = browser_features(paths, seed=3)
    assert rows.shape == (2, len(BROWSER_FEATURE_NAMES))
    assert np.all(np.isfinite(rows))
    np.testing.assert_array_equal(rows, browser_features(paths, seed=3))


def test_grouping_null_needs_someone_on_each_side() -> None:
    with pytest.raises(ValueError, match="no comparison"):
        grouping_null(np.ones((2, 1)), ["a", "b"], 2, 1, np.random.default_rng(0))
