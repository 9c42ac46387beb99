"""Browser-resolution features on inputs small enough to compute by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tcurity.features import fine
from tcurity.sampling import Path2


def path(x: list[float], y: list[float] | None = None, dt_ms: float = 10.0) -> Path2:
    """An evenly sampled path, ``dt_ms`` apart, starting at 0 ms."""
    xs = np.asarray(x, dtype=np.float64)
    ys = np.zeros_like(xs) if y is None else np.asarray(y, dtype=np.float64)
    return Path2(np.arange(len(xs), dtype=np.float64) * dt_ms, xs, ys)


def from_speeds(steps: list[float], dt_ms: float = 10.0) -> Path2:
    """A straight path along x whose successive steps are ``steps`` long."""
    return path(np.concatenate([[0.0], np.cumsum(steps)]).tolist(), dt_ms=dt_ms)


def test_submovements_count_prominent_speed_peaks() -> None:
    # Step speeds (×100/s): 1 3 1 2 1 — two peaks; the second rises 1 above its valleys, 1/3 of the peak.
    two = from_speeds([1.0, 3.0, 1.0, 2.0, 1.0])
    assert fine.speed_peaks(np.array([1.0, 3.0, 1.0, 2.0, 1.0])).tolist() == [1, 3]
    assert fine.n_submovements(two) == 2
    # At a prominence threshold of 0.4 of the peak (1.2), the second peak no longer counts.
    assert fine.n_submovements(two, min_prominence=0.4) == 1
    # A constant-speed move is one plateau, one movement; a resting pointer has none.
    assert fine.n_submovements(from_speeds([1.0, 1.0, 1.0])) == 1
    assert fine.n_submovements(path([0.0, 0.0, 0.0])) == 0


def test_end_corrections_count_peaks_after_ninety_percent() -> None:
    # Steps 3 5 1 0.2 0.8 (positions 0 3 8 9 9.2 10, chord 10): the last step starts at 9.2, past 90 % of the
    # chord, and is a peak of prominence 0.8 − 0.2 = 0.6 ≥ 0.1 · 5.
    p = from_speeds([3.0, 5.0, 1.0, 0.2, 0.8])
    assert fine.speed_peaks(np.array([3.0, 5.0, 1.0, 0.2, 0.8])).tolist() == [1, 4]
    assert fine.end_corrections(p) == 1
    assert fine.end_corrections(from_speeds([3.0, 5.0, 2.0])) == 0
    assert fine.end_corrections(path([0.0, 1.0, 0.0])) == 0  # back to its start: no chord


def test_peak_time_frac_is_the_fastest_steps_middle() -> None:
    # Four 10 ms steps (40 ms); the fastest is the second, whose middle is at 15 ms → 0.375.
    assert fine.peak_time_frac(from_speeds([1.0, 4.0, 2.0, 1.0])) == pytest.approx(0.375)
    assert fine.peak_time_frac(path([1.0, 1.0])) == 0.5


def test_band_power_ratio_of_pure_tones() -> None:
    t = np.arange(60) / 60.0  # one second at 60 Hz: 1 Hz bins
    ten = np.sin(2 * np.pi * 10 * t)
    twenty = np.sin(2 * np.pi * 20 * t)
    assert fine.band_power_ratio(ten, 1 / 60, (8.0, 12.0)) == pytest.approx(1.0)
    assert fine.band_power_ratio(ten + twenty, 1 / 60, (8.0, 12.0)) == pytest.approx(0.5)
    # Amplitude 2 at 20 Hz has four times the power: 1 / (1 + 4).
    assert fine.band_power_ratio(np.stack([ten, 2 * twenty], axis=1), 1 / 60, (8.0, 12.0)) == pytest.approx(
        0.2
    )
    assert fine.band_power_ratio(np.full(60, 3.0), 1 / 60, (8.0, 12.0)) == 0.0


def test_tremor_band_ratio_sees_a_ten_hertz_wobble_and_nothing_on_a_line() -> None:
    t = np.arange(62) / 60.0
    wobble = Path2(t * 1000.0, t.copy(), 0.01 * np.sin(2 * np.pi * 10 * t))
    # The second difference of a sampled sinusoid is the same sinusoid, scaled: all power at 10 Hz.
    assert fine.tremor_band_ratio(wobble) == pytest.approx(1.0)
    line = Path2(t * 1000.0, t.copy(), np.zeros_like(t))
    assert fine.tremor_band_ratio(line) == 0.0


def test_log_norm_jerk_of_a_cubic() -> None:
    # x = t³ over 1 s in steps of 0.1 s: every third difference is 6·0.1³, so the jerk is 6; T = 1, L = 1.
    t = np.linspace(0.0, 1.0, 11)
    cubic = Path2(t * 1000.0, t**3, np.zeros_like(t))
    assert fine.log_norm_jerk(cubic) == pytest.approx(math.log10(6.0))
    # A straight constant-speed line has no jerk: floored at 1e-12.
    assert fine.log_norm_jerk(Path2(t * 1000.0, t.copy(), np.zeros_like(t))) == pytest.approx(-12.0)
    assert fine.log_norm_jerk(path([0.0, 1.0, 2.0])) == 0.0


def test_micro_pauses_count_interior_slow_runs_long_enough() -> None:
    # Steps of 10 ms: fast, fast, slow ×5 (50 ms), fast, slow ×2 (20 ms), fast.
    steps = [1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.01, 0.01, 1.0]
    assert fine.micro_pauses(from_speeds(steps)) == 1
    assert fine.micro_pauses(from_speeds(steps), min_pause_ms=20.0) == 2
    # A rest at the start or the end is no hesitation.
    assert fine.micro_pauses(from_speeds([0.0] * 6 + [1.0, 1.0] + [0.0] * 6)) == 0


def test_curvature_of_a_sampled_circle() -> None:
    phi = math.pi / 8
    a = np.arange(9) * phi
    radius = 2.0
    circle = Path2(np.arange(9, dtype=np.float64) * 10.0, radius * np.cos(a), radius * np.sin(a))
    expected = phi / (2 * radius * math.sin(phi / 2))
    assert fine.curvatures(circle) == pytest.approx(np.full(7, expected))
    mean, changes = fine.curvature_stats(circle, dead_zone=0.1)
    assert (mean, changes) == (pytest.approx(expected), 0)
    # A zigzag turns ±90° at every corner, steps of 1: curvature ±π/2, changing sign each time.
    zig = path([0.0, 1.0, 1.0, 2.0, 2.0], [0.0, 0.0, 1.0, 1.0, 2.0])
    assert fine.curvatures(zig) == pytest.approx([math.pi / 2, -math.pi / 2, math.pi / 2])
    assert fine.curvature_stats(zig) == (pytest.approx(math.pi / 2), 2)


def test_fitts_fit_and_residual() -> None:
    # Width 10: distances 10, 30, 70 have indices 1, 2, 3 bits; times 300, 400, 500 ms: a = 200, b = 100.
    a, b = fine.fit_fitts([10.0, 30.0, 70.0], [300.0, 400.0, 500.0], width=10.0)
    assert (a, b) == (pytest.approx(200.0), pytest.approx(100.0))
    assert fine.fitts_residual(30.0, 400.0, 10.0, a, b) == pytest.approx(0.0)
    assert fine.fitts_residual(30.0, 4000.0, 10.0, a, b) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="different distances"):
        fine.fit_fitts([10.0, 10.0], [300.0, 400.0], width=10.0)


def test_fine_features_are_scale_free_and_named() -> None:
    rng = np.random.default_rng(0)
    t = np.arange(40, dtype=np.float64) * (1000.0 / 60.0)
    x = np.cumsum(rng.uniform(0.0, 2.0, 40))
    y = np.cumsum(rng.normal(0.0, 0.5, 40))
    small = fine.fine_features(Path2(t, x, y))
    large = fine.fine_features(Path2(t, 7.0 * x + 3.0, 7.0 * y - 1.0))
    assert len(small) == len(fine.FINE_FEATURE_NAMES)
    np.testing.assert_allclose(small, large, rtol=1e-9, atol=1e-9)
