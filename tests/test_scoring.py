"""The vectorised forest scorer must give sklearn's exact numbers; bundles must survive a round trip."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from sklearn.ensemble import IsolationForest, RandomForestClassifier
from sklearn.preprocessing import QuantileTransformer

from tcurity.scoring import (
    ModelBundle,
    QuantileNormal,
    SupervisedLayer,
    average_path_length,
    flatten_isolation_forest,
    flatten_random_forest,
)
from tests.forests import one_split


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


# --- Two layers: the rule both_pass on forests small enough to follow by hand ---------------------------------------
# Each forest is one tree: a root split and two leaves (node 0 the root, 1 its left leaf, 2 its right leaf).
# Primary layer (a "random_forest" bundle, no transform): x0 <= 0.5 reaches a leaf of bot share 0 (score 1),
# otherwise a leaf of bot share 1 (score 0); threshold 0.5, so it passes exactly the rows with x0 <= 0.5.
# Supervised layer: x1 <= 2 reaches bot share 0.1 (score 0.9), otherwise 0.9 (score 0.1); the root holds 0.4;
# threshold 0.5, so it passes exactly the rows with x1 <= 2.


def _two_layers() -> ModelBundle:
    return ModelBundle(
        kind="random_forest",
        feature_names=["f0", "f1"],
        forest=one_split(0, 0.5, [0.0, 0.0, 1.0]),
        threshold=0.5,
        transform=None,
        reference_low=np.array([-10.0, -10.0]),
        reference_high=np.array([0.8, 10.0]),
        grid_ms=1000.0 / 60.0,
        scale=0.5,
        supervised=SupervisedLayer(
            forest=one_split(1, 2.0, [0.4, 0.1, 0.9]),
            threshold=0.5,
            reference_median=np.array([0.0, 1.0]),
            scale=0.4,
        ),
    )


ROWS = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 3.0], [1.0, 3.0]])


def test_both_pass_lets_through_only_rows_that_pass_each_layer() -> None:
    bundle = _two_layers()
    assert bundle.scores(ROWS).tolist() == [1.0, 0.0, 1.0, 0.0]
    supervised = bundle.supervised_scores(ROWS)
    assert supervised is not None
    np.testing.assert_allclose(supervised, [0.9, 0.9, 0.1, 0.1])
    assert bundle.passes(ROWS).tolist() == [True, False, False, False]
    # Margins: (1 - 0.5) / 0.5 = 1 and (0.9 - 0.5) / 0.4 = 1 pass; (0 - 0.5) / 0.5 = -1, (0.1 - 0.5) / 0.4 = -1 fail.
    np.testing.assert_allclose(bundle.margins(ROWS), [1.0, -1.0, -1.0, -1.0])
    assert [bundle.verdict(row).passed for row in ROWS] == [True, False, False, False]


def test_a_one_layer_bundle_decides_by_its_threshold_alone() -> None:
    bundle = _two_layers()
    bundle.supervised = None
    assert bundle.passes(ROWS).tolist() == [True, False, True, False]
    np.testing.assert_allclose(bundle.margins(ROWS), [1.0, -1.0, 1.0, -1.0])
    assert bundle.verdict(ROWS[2]).layers == {
        "random_forest": {"score": 1.0, "threshold": 0.5, "passed": True}
    }


def test_supervised_contributions_credit_the_split_feature() -> None:
    # Going right at the root moves the bot share from 0.4 to 0.9: +0.5, credited to f1; left: 0.1 - 0.4 = -0.3.
    layer = _two_layers().supervised
    assert layer is not None
    np.testing.assert_allclose(layer.forest.contributions(np.array([0.0, 3.0]), 2), [0.0, 0.5])
    np.testing.assert_allclose(layer.forest.contributions(np.array([0.0, 0.0]), 2), [0.0, -0.3])


def test_reasons_name_the_feature_that_decided_in_each_layer() -> None:
    bundle = _two_layers()
    # Refused by the supervised layer only: f1 pushed it to the bots and lies above the people's median (1.0).
    by_supervised = bundle.verdict(ROWS[2])
    assert by_supervised.reasons == ["f1_high"]
    assert by_supervised.score == 1.0  # the primary layer's score, as before
    assert by_supervised.layers == {
        "random_forest": {"score": 1.0, "threshold": 0.5, "passed": True},
        "supervised": {"score": pytest.approx(0.1), "threshold": 0.5, "passed": False},
    }
    # Refused by the primary layer only: f0 = 1 is above its reference range (high 0.8).
    assert bundle.verdict(ROWS[1]).reasons == ["f0_high"]
    # Refused by both: the primary layer's code first, then the supervised layer's.
    assert bundle.verdict(ROWS[3]).reasons == ["f0_high", "f1_high"]
    assert bundle.verdict(ROWS[0]).reasons == []


def test_two_layer_bundle_round_trip_is_json_and_arrays_only(tmp_path: Path) -> None:
    bundle = _two_layers()
    bundle.save(tmp_path / "b")
    assert sorted(f.name for f in (tmp_path / "b").iterdir()) == ["bundle.json", "forest.npz"]
    with np.load(tmp_path / "b" / "forest.npz", allow_pickle=False) as z:
        assert all(z[k].dtype != object for k in z.files)
        assert {k for k in z.files if k.startswith("supervised_")} == {
            f"supervised_{k}" for k in ("left", "right", "feature", "threshold", "value", "max_depth")
        }
    payload = json.loads((tmp_path / "b" / "bundle.json").read_text())
    assert payload["supervised"] == {
        "rule": "both_pass",
        "threshold": 0.5,
        "scale": 0.4,
        "reference_median": [0.0, 1.0],
    }
    loaded = ModelBundle.load(tmp_path / "b")
    assert loaded.supervised is not None
    assert loaded.scale == 0.5
    np.testing.assert_array_equal(loaded.margins(ROWS), bundle.margins(ROWS))
    assert [loaded.verdict(r) for r in ROWS] == [bundle.verdict(r) for r in ROWS]


def test_an_unknown_combination_rule_is_refused_on_load(tmp_path: Path) -> None:
    _two_layers().save(tmp_path / "b")
    path = tmp_path / "b" / "bundle.json"
    payload = json.loads(path.read_text())
    payload["supervised"]["rule"] = "either_passes"
    path.write_text(json.dumps(payload))
    with pytest.raises(ValueError, match="unknown combination rule"):
        ModelBundle.load(tmp_path / "b")


def test_a_bundle_saved_before_two_layers_still_loads(tmp_path: Path, data: np.ndarray) -> None:
    # Bundles written before this change had no "scale" and no "supervised" key.
    bundle = _bundle(data)
    bundle.save(tmp_path / "b")
    path = tmp_path / "b" / "bundle.json"
    payload = json.loads(path.read_text())
    assert "supervised" not in payload
    del payload["scale"]
    path.write_text(json.dumps(payload))
    loaded = ModelBundle.load(tmp_path / "b")
    assert loaded.supervised is None and loaded.scale == 1.0
    np.testing.assert_array_equal(loaded.scores(data[:30]), bundle.scores(data[:30]))


def test_node_values_leave_the_scores_alone(data: np.ndarray) -> None:
    # Internal-node shares are only for naming the deciding feature: the walk reads leaves alone.
    model = RandomForestClassifier(n_estimators=10, max_depth=6, random_state=0).fit(data, data[:, 0] > 0)
    plain, full = flatten_random_forest(model), flatten_random_forest(model, node_values=True)
    assert np.any(full.value != plain.value)
    np.testing.assert_array_equal(full.leaf_values(data[:50]), plain.leaf_values(data[:50]))
    # Contributions add up to the row's mean leaf value minus the mean root value (Saabas).
    row = data[7]
    root = float(np.mean(full.value[:, 0]))
    assert full.contributions(row, data.shape[1]).sum() == pytest.approx(
        float(full.leaf_values(row).mean()) - root
    )


def _with_approach() -> ModelBundle:
    """The two-layer bundle of :func:`_two_layers` with approach layers: the same pair on ``approach_…`` names."""
    bundle = _two_layers()
    approach = _two_layers()
    approach.feature_names = ["approach_f0", "approach_f1"]
    approach.meta = {"limits": {"max_pause_ms": 400.0, "min_chord_px": 40.0, "min_points": 3}}
    bundle.approach = approach
    return bundle


def test_the_approach_layers_decide_with_the_tear_where_an_approach_is_judged() -> None:
    bundle = _with_approach()
    tear = np.array([[0.0, 0.0], [0.0, 0.0], [1.0, 0.0]])  # margins 1, 1, -1 (see above)
    approach = np.array([[0.0, 3.0], [np.nan, np.nan], [0.0, 0.0]])  # -1; not judged; 1
    # Row 0: the tear passes, its approach fails (min(1, -1)); row 1: no approach, the tear's 1; row 2: min(-1, 1).
    np.testing.assert_allclose(bundle.with_approach_margins(tear, approach), [-1.0, 1.0, -1.0])
    np.testing.assert_allclose(bundle.with_approach_margins(tear, None), [1.0, 1.0, -1.0])


def test_a_bundle_with_approach_layers_survives_a_round_trip(tmp_path: Path) -> None:
    bundle = _with_approach()
    bundle.save(tmp_path / "b")
    assert json.loads((tmp_path / "b" / "bundle.json").read_text())["approach"] == "approach"
    assert (tmp_path / "b" / "approach" / "bundle.json").is_file()
    loaded = ModelBundle.load(tmp_path / "b")
    assert loaded.approach is not None
    assert loaded.approach.feature_names == ["approach_f0", "approach_f1"]
    assert loaded.approach.meta["limits"]["min_chord_px"] == 40.0
    np.testing.assert_array_equal(loaded.approach.margins(ROWS), bundle.approach.margins(ROWS))  # type: ignore[union-attr]


def test_a_bundle_naming_another_approach_folder_is_refused(tmp_path: Path) -> None:
    _with_approach().save(tmp_path / "b")
    path = tmp_path / "b" / "bundle.json"
    payload = json.loads(path.read_text())
    payload["approach"] = "../elsewhere"
    path.write_text(json.dumps(payload))
    with pytest.raises(ValueError, match="approach layers live in 'approach'"):
        ModelBundle.load(tmp_path / "b")
