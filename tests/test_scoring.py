"""The vectorised forest scorer must give sklearn's exact numbers; bundles must survive a round trip."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sklearn.ensemble import IsolationForest, RandomForestClassifier
from sklearn.preprocessing import QuantileTransformer

from tcurity.scoring import (
    ModelBundle,
    QuantileNormal,
    average_path_length,
    flatten_isolation_forest,
    flatten_random_forest,
)


@pytest.fixture(scope="module")
def data() -> np.ndarray:
    rng = np.random.default_rng(0)
    return np.concatenate([rng.normal(size=(400, 5)), rng.exponential(size=(400, 1))], axis=1)


def test_average_path_length_matches_the_paper() -> None:
    # c(n) = 2 H(n-1) - 2 (n-1)/n with H(i) ~ ln(i) + γ; c(1) = 0, c(2) = 1.
    got = average_path_length(np.array([1.0, 2.0, 256.0]))
    assert got[0] == 0.0
    assert got[1] == 1.0
    assert got[2] == pytest.approx(2 * (np.log(255) + np.euler_gamma) - 2 * 255 / 256)


@pytest.mark.parametrize("max_features", [1.0, 0.5])
def test_isolation_forest_scores_equal_sklearn(data: np.ndarray, max_features: float) -> None:
    model = IsolationForest(n_estimators=50, max_samples=128, max_features=max_features, random_state=1)
    model.fit(data)
    forest = flatten_isolation_forest(model)
    norm = average_path_length(np.array([128.0]))[0]
    probe = np.concatenate([data[:50], np.random.default_rng(2).normal(scale=4, size=(50, 6))])
    ours = -(2.0 ** (-forest.leaf_values(probe).mean(axis=1) / norm))
    np.testing.assert_allclose(ours, model.score_samples(probe), rtol=1e-12)


def test_random_forest_probabilities_equal_sklearn(data: np.ndarray) -> None:
    labels = (data[:, 0] + data[:, 1] > 0).astype(int)
    model = RandomForestClassifier(n_estimators=30, max_depth=6, random_state=0).fit(data, labels)
    forest = flatten_random_forest(model, positive_class=1)
    np.testing.assert_allclose(forest.leaf_values(data).mean(axis=1), model.predict_proba(data)[:, 1])


def test_quantile_normal_matches_sklearn(data: np.ndarray) -> None:
    ours = QuantileNormal.fit(data, n_quantiles=100)
    theirs = QuantileTransformer(n_quantiles=100, output_distribution="normal").fit(data)
    probe = np.concatenate([data[:20], data[:20] * 10])
    np.testing.assert_allclose(ours.apply(probe), theirs.transform(probe), atol=1e-6)


def _bundle(data: np.ndarray) -> ModelBundle:
    transform = QuantileNormal.fit(data)
    model = IsolationForest(n_estimators=20, max_samples=64, random_state=0).fit(transform.apply(data))
    return ModelBundle(
        kind="isolation_forest",
        feature_names=[f"f{i}" for i in range(data.shape[1])],
        forest=flatten_isolation_forest(model),
        threshold=-0.55,
        transform=transform,
        reference_low=np.quantile(data, 0.005, axis=0),
        reference_high=np.quantile(data, 0.995, axis=0),
        grid_ms=100.0,
        max_samples=64,
        meta={"note": "test"},
    )


def test_bundle_round_trip_keeps_scores(tmp_path: Path, data: np.ndarray) -> None:
    bundle = _bundle(data)
    bundle.save(tmp_path / "b")
    loaded = ModelBundle.load(tmp_path / "b")
    np.testing.assert_array_equal(loaded.scores(data[:30]), bundle.scores(data[:30]))
    assert loaded.feature_names == bundle.feature_names
    assert loaded.meta == {"note": "test"}


def test_verdict_explains_a_block_by_the_most_extreme_feature(data: np.ndarray) -> None:
    bundle = _bundle(data)
    odd = np.median(data, axis=0)
    odd[[0, 1, 3]] = -3.5  # unusual, inside the data's range
    odd[2] = 50.0  # far above every value of f2
    verdict = bundle.verdict(odd)
    assert not verdict.passed
    assert verdict.reasons[0] == "f2_high"
    typical = bundle.verdict(np.median(data, axis=0))
    assert typical.passed
    assert typical.reasons == []


def test_one_row_at_a_time_walks_to_the_same_leaves_as_a_batch(data: np.ndarray) -> None:
    # Serving scores one trace per call, on the single-row path of the flattened walk.
    labels = (data[:, 0] > 0).astype(int)
    rf = flatten_random_forest(RandomForestClassifier(n_estimators=10, random_state=0).fit(data, labels))
    iforest = flatten_isolation_forest(
        IsolationForest(n_estimators=10, max_samples=64, random_state=0).fit(data)
    )
    for forest in (rf, iforest):
        batch = forest.leaf_values(data[:25])
        single = np.vstack([forest.leaf_values(row) for row in data[:25]])
        np.testing.assert_array_equal(single, batch)
