"""The single-feature separation screen: AUCs by hand, bots emitted at a browser's pace."""

from __future__ import annotations

import numpy as np
import pytest

from tcurity.data.strokes import Stroke
from tcurity.evaluate.separation import (
    SEPARATION_FEATURES,
    bot_movements,
    fit_people_fitts,
    movement_features,
    separation_report,
    single_feature_auc,
)
from tcurity.sampling import Path2
from tcurity.simulate import FAMILIES
from tcurity.simulate.fitted import fit_bot_models


def test_single_feature_auc_by_hand() -> None:
    # People 2, 3 against bots 1, 2: of the four pairs, (3, 1), (3, 2), (2, 1) rank people higher, (2, 2) ties.
    assert single_feature_auc(np.array([2.0, 3.0]), np.array([1.0, 2.0])) == pytest.approx(3.5 / 4)
    assert single_feature_auc(np.array([0.0, 0.0]), np.array([1.0, 1.0])) == 0.0
    assert single_feature_auc(np.array([4.0]), np.array([4.0])) == 0.5


def _stroke(i: int, chord: float, duration_ms: float) -> Stroke:
    """A wobbly pointing stroke along x, sampled at 60 Hz."""
    t = np.linspace(0.0, duration_ms, max(4, int(duration_ms / 16.7) + 1))
    tau = t / duration_ms
    x = 100.0 + chord * (10 * tau**3 - 15 * tau**4 + 6 * tau**5)
    y = 200.0 + 2.0 * np.sin(2 * np.pi * 10 * t / 1000.0 + i)
    return Stroke(f"u-s-{i:05d}", "u", "s", "point", Path2(t, x, y), 500.0)


PEOPLE = [_stroke(i, 150.0 + 20 * i, 400.0 + 40 * i) for i in range(8)]


def test_people_fitts_law_is_fitted_on_pointing_strokes_only() -> None:
    # Width 20 px: chords 20 and 60 px are 1 and 2 bits; 300 and 400 ms give a = 200 ms, b = 100 ms/bit.
    one, two = _stroke(0, 20.0, 300.0), _stroke(1, 60.0, 400.0)
    drag = Stroke("u-s-00009", "u", "s", "drag", _stroke(2, 300.0, 5000.0).path, 0.0)
    a, b = fit_people_fitts([one, two, drag])
    assert (a, b) == (pytest.approx(200.0), pytest.approx(100.0))


def test_bots_are_emitted_at_a_browser_pace() -> None:
    moves = bot_movements("minimum_jerk", PEOPLE, PEOPLE, 5, np.random.default_rng(0))
    assert len(moves) == 5
    for m in moves:
        gaps = np.diff(m.t_ms)
        assert float(np.min(gaps)) > 5.0  # at most one event per 60 Hz frame (jitter ±0.5 ms)
    rows = movement_features(moves, fit_people_fitts(PEOPLE))
    assert rows.browser.shape == rows.coarse.shape == (5, len(SEPARATION_FEATURES))


def test_the_report_covers_every_family_and_feature() -> None:
    attackers = [_stroke(i, 150.0 + 15 * i, 380.0 + 30 * i) for i in range(12)]  # user "u" as the attacker
    models = fit_bot_models(attackers, {"u"}, max_sigma_strokes=12, seed=0)
    report = separation_report(PEOPLE, attackers, 3, seed=1, models=models)
    families = report["families"]
    assert isinstance(families, dict)
    assert set(families) == set(FAMILIES)
    for entry in families.values():
        assert set(entry["features"]) == set(SEPARATION_FEATURES)
        for value in entry["features"].values():
            assert 0.5 <= value["separation"] <= 1.0


def test_a_fitted_family_without_its_model_stops_the_report() -> None:
    with pytest.raises(ValueError, match="fitted model"):
        separation_report(PEOPLE, PEOPLE, 3, seed=1)
