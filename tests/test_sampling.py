"""The one sampling model: merging equal times, the canonical grid and the human sampling process."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tcurity.sampling import (
    BROWSER_GRID_MS,
    HumanSampler,
    Path2,
    browser_grid,
    canonical_grid,
    merge_equal_times,
    sdk_event_stream,
    uniform_resample,
)


def straight(duration_ms: float, t0_ms: float = 0.0) -> Path2:
    """Constant speed along x, one length unit per second, sampled every 10 ms."""
    t = t0_ms + np.linspace(0.0, duration_ms, round(duration_ms / 10.0) + 1)
    return Path2(t, (t - t0_ms) / 1000.0, np.zeros_like(t))


# --- merge_equal_times ------------------------------------------------------------------------------------------


def test_merge_equal_times_takes_the_mean_position() -> None:
    merged = merge_equal_times(
        np.array([0.0, 0.0, 10.0, 20.0, 20.0, 20.0]),
        np.array([0.0, 2.0, 5.0, 1.0, 2.0, 6.0]),
        np.array([4.0, 0.0, 1.0, 3.0, 3.0, 0.0]),
    )
    assert merged.t_ms.tolist() == [0.0, 10.0, 20.0]
    assert merged.x.tolist() == [1.0, 5.0, 3.0]
    assert merged.y.tolist() == [2.0, 1.0, 2.0]


def test_merge_equal_times_keeps_distinct_times_as_they_are() -> None:
    t, x, y = np.array([0.0, 15.6, 31.2]), np.array([1.0, 2.0, 3.0]), np.array([3.0, 2.0, 1.0])
    merged = merge_equal_times(t, x, y)
    assert (merged.t_ms.tolist(), merged.x.tolist(), merged.y.tolist()) == (
        t.tolist(),
        x.tolist(),
        y.tolist(),
    )


def test_path_duration() -> None:
    assert Path2(np.array([100.0, 250.0]), np.zeros(2), np.zeros(2)).duration_ms == 150.0
    assert Path2(np.array([]), np.array([]), np.array([])).duration_ms == 0.0


# --- canonical_grid ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("duration_ms", "count"),
    [(1000.0, 11), (1049.0, 11), (1051.0, 12), (30.0, 2), (160.0, 3), (2.0, 2)],
)
def test_canonical_grid_count_is_round_duration_over_grid_plus_one(duration_ms: float, count: int) -> None:
    path = Path2(np.array([0.0, duration_ms]), np.array([0.0, 1.0]), np.array([0.0, 0.0]))
    assert len(canonical_grid(path, 100.0)) == count


def test_canonical_grid_keeps_the_endpoints_exactly() -> None:
    path = Path2(
        np.array([5000.0, 5109.2, 5109.2, 5218.4, 5327.6]),
        np.array([10.0, 20.0, 22.0, 40.0, 43.5]),
        np.array([-3.0, 1.0, 5.0, 2.0, 7.25]),
    )
    grid = canonical_grid(path, 100.0)
    assert (grid.t_ms[0], grid.x[0], grid.y[0]) == (5000.0, 10.0, -3.0)
    assert (grid.t_ms[-1], grid.x[-1], grid.y[-1]) == (5327.6, 43.5, 7.25)


def test_canonical_grid_is_evenly_spaced_about_grid_ms() -> None:
    path = Path2(np.array([0.0, 330.0, 1049.0]), np.array([0.0, 3.3, 10.49]), np.array([0.0, 0.0, 0.0]))
    grid = canonical_grid(path, 100.0)
    assert np.diff(grid.t_ms) == pytest.approx(np.full(10, 104.9))
    # Linear interpolation of a constant-speed path stays on it.
    assert grid.x == pytest.approx(grid.t_ms / 100.0)


def test_canonical_grid_smooths_interior_positions_only() -> None:
    # A corner: the grid instants are the events; the middle one becomes 1/4·0 + 1/2·10 + 1/4·10.
    path = Path2(np.array([0.0, 100.0, 200.0]), np.array([0.0, 10.0, 10.0]), np.array([0.0, 0.0, 8.0]))
    grid = canonical_grid(path, 100.0)
    assert grid.x.tolist() == [0.0, 7.5, 10.0]
    assert grid.y.tolist() == [0.0, 2.0, 8.0]


def test_canonical_grid_of_a_teleport_keeps_both_positions_one_ms_apart() -> None:
    path = Path2(np.array([42.0, 42.0]), np.array([1.0, 9.0]), np.array([2.0, 4.0]))
    grid = canonical_grid(path, 100.0)
    assert grid.t_ms.tolist() == [42.0, 43.0]
    assert grid.x.tolist() == [1.0, 9.0]
    assert grid.y.tolist() == [2.0, 4.0]


# --- HumanSampler --------------------------------------------------------------------------------------------


def test_fit_drops_pauses_and_negative_gaps_and_finds_the_quantum() -> None:
    sampler = HumanSampler.fit(np.array([0.0, 15.6, 109.2, 3.0, 500.0, -1.0, 400.0, 31.2]), max_gap_ms=400.0)
    assert sampler.gaps_ms.tolist() == [0.0, 15.6, 109.2, 3.0, 400.0, 31.2]
    # 3 ms is below the 5 ms floor of a clock quantum; the smallest gap above it is the quantum.
    assert sampler.quantum_ms == 15.6
    assert sampler.median_gap_ms == pytest.approx((15.6 + 31.2) / 2)


def test_fit_without_a_gap_of_5_ms_or_more_uses_a_1_ms_quantum() -> None:
    assert HumanSampler.fit(np.array([0.0, 1.0, 2.0, 4.0])).quantum_ms == 1.0


SAMPLER = HumanSampler(gaps_ms=np.array([0.0, 15.6, 93.6, 109.2, 109.2, 124.8]), quantum_ms=15.6)


def test_resample_keeps_first_and_last_positions() -> None:
    path = straight(1000.0, t0_ms=250.0)
    out = SAMPLER.resample(path, np.random.default_rng(0))
    assert (out.t_ms[0], out.x[0], out.y[0]) == (250.0, 0.0, 0.0)
    assert (out.x[-1], out.y[-1]) == (1.0, 0.0)


def test_resample_times_are_non_decreasing_and_on_the_quantum_grid() -> None:
    path = straight(1000.0, t0_ms=250.0)
    for seed in range(20):
        out = SAMPLER.resample(path, np.random.default_rng(seed))
        assert np.all(np.diff(out.t_ms) >= 0.0)
        steps = (out.t_ms - 250.0) / 15.6
        assert steps == pytest.approx(np.round(steps), abs=1e-9)
        # Rounding to the quantum moves the last instant by at most half a quantum.
        assert abs(out.t_ms[-1] - 1250.0) <= 7.8 + 1e-9


def test_resample_positions_stay_on_the_path() -> None:
    out = SAMPLER.resample(straight(1000.0), np.random.default_rng(3))
    assert np.all(out.y == 0.0)
    assert np.all(np.diff(out.x) >= 0.0)


def test_resample_is_deterministic_per_seed() -> None:
    path = straight(1000.0)
    a = SAMPLER.resample(path, np.random.default_rng(11))
    b = SAMPLER.resample(path, np.random.default_rng(11))
    c = SAMPLER.resample(path, np.random.default_rng(12))
    assert a.t_ms.tolist() == b.t_ms.tolist()
    assert a.x.tolist() == b.x.tolist()
    assert a.t_ms.tolist() != c.t_ms.tolist()


def test_resample_leaves_a_path_without_duration_alone() -> None:
    path = Path2(np.array([7.0, 7.0]), np.array([0.0, 1.0]), np.array([0.0, 0.0]))
    assert SAMPLER.resample(path, np.random.default_rng(0)) is path


def test_save_and_load_round_trip(tmp_path: Path) -> None:
    target = tmp_path / "nested" / "sampler.json"
    SAMPLER.save(target)
    loaded = HumanSampler.load(target)
    assert loaded.quantum_ms == 15.6
    assert loaded.gaps_ms.tolist() == SAMPLER.gaps_ms.tolist()


# --- uniform_resample --------------------------------------------------------------------------------------------


def test_uniform_resample_at_a_steady_rate() -> None:
    out = uniform_resample(straight(1000.0, t0_ms=100.0), 125.0)
    assert len(out) == 126
    assert np.diff(out.t_ms) == pytest.approx(np.full(125, 8.0))
    assert (out.t_ms[0], out.t_ms[-1]) == (100.0, 1100.0)
    assert out.x == pytest.approx((out.t_ms - 100.0) / 1000.0)


def test_uniform_resample_ends_with_a_shorter_last_step() -> None:
    out = uniform_resample(straight(1005.0), 100.0)
    assert len(out) == 102
    assert np.diff(out.t_ms)[:-1] == pytest.approx(np.full(100, 10.0))
    assert np.diff(out.t_ms)[-1] == pytest.approx(5.0)
    assert (out.t_ms[-1], out.x[0], out.x[-1]) == (1005.0, 0.0, 1.005)


def test_uniform_resample_of_a_path_without_duration_returns_it() -> None:
    path = Path2(np.array([7.0, 7.0]), np.array([0.0, 1.0]), np.array([0.0, 0.0]))
    assert uniform_resample(path, 60.0) is path


# --- browser resolution --------------------------------------------------------------------------------------------


def test_browser_grid_is_the_canonical_grid_at_sixty_hertz() -> None:
    out = browser_grid(straight(100.0))
    # round(100 / 16.67) + 1 = 7 instants, 16.67 ms apart; a straight constant-speed line stays as it is.
    assert len(out) == 7
    assert np.diff(out.t_ms) == pytest.approx(np.full(6, 1000.0 / 60.0))
    assert out.x == pytest.approx(out.t_ms / 1000.0)
    assert pytest.approx(16.6667, abs=1e-4) == BROWSER_GRID_MS


def test_sdk_event_stream_emits_the_latest_event_of_each_frame() -> None:
    # A 125 Hz source (8 ms) over 80 ms: frames at 0, 16.67, 33.33, 50, 66.67 ms take the events at 0, 16, 32, 48,
    # 64; the last event is always kept.
    source = Path2(np.arange(11, dtype=np.float64) * 8.0, np.arange(11.0), np.zeros(11))
    out = sdk_event_stream(source, np.random.default_rng(0), frame_jitter_ms=0.0, phase_ms=0.0)
    assert out.t_ms.tolist() == [0.0, 16.0, 32.0, 48.0, 64.0, 80.0]
    assert out.x.tolist() == [0.0, 2.0, 4.0, 6.0, 8.0, 10.0]


def test_sdk_event_stream_skips_frames_without_a_new_event() -> None:
    # Events at 0, 5, 40, 45 ms: the frame at 16.67 takes the 5 ms event, the one at 33.33 has nothing new.
    source = Path2(np.array([0.0, 5.0, 40.0, 45.0]), np.array([0.0, 1.0, 2.0, 3.0]), np.zeros(4))
    out = sdk_event_stream(source, np.random.default_rng(0), frame_jitter_ms=0.0, phase_ms=0.0)
    assert out.t_ms.tolist() == [0.0, 5.0, 45.0]


def test_sdk_event_stream_frames_start_at_the_phase() -> None:
    # Frames at 5, 21.67, 38.33 ms over events every 8 ms: the events at 0, 16, 32, then the last one (40 ms).
    source = Path2(np.arange(6, dtype=np.float64) * 8.0, np.arange(6.0), np.zeros(6))
    out = sdk_event_stream(source, np.random.default_rng(0), frame_jitter_ms=0.0, phase_ms=5.0)
    assert out.t_ms.tolist() == [0.0, 16.0, 32.0, 40.0]
