"""The browser-signal rule of :mod:`serving.decisions`, on hand-made traces (no model needed), and a Phase A
decision by a hand-made two-layer bundle."""

from __future__ import annotations

import numpy as np
import pytest

from serving.decisions import decide_phase_a, integrity_part, signal_reasons
from serving.models import LoadedModel
from tcurity.geometry import random_perforation
from tcurity.integrity import IntegrityResult
from tcurity.scoring import ModelBundle, SupervisedLayer
from tcurity.traces import Event, PerforationTask, Trace, TraceArrays, make_trace, with_browser_signals
from tests.forests import one_split


def tear() -> Trace:
    task = random_perforation(np.random.default_rng(0))
    arrays = TraceArrays(
        np.linspace(0.1, 0.9, 5),
        np.full(5, 0.5),
        np.arange(5) * 20.0,
        np.array([Event.DOWN, Event.MOVE, Event.MOVE, Event.MOVE, Event.UP], dtype=np.int8),
    )
    return make_trace(arrays, task)


def with_points(trace: Trace, **fields: object) -> Trace:
    points = trace.points.model_dump() | fields
    return Trace.model_validate(trace.model_dump() | {"points": points})


def test_a_pointer_trace_with_every_signal_passes_the_rule() -> None:
    trace = with_browser_signals(tear())
    assert trace.points.pointer_type == ["mouse"] * 5
    assert signal_reasons(trace) == []


def test_a_trace_without_the_trusted_field_is_flagged() -> None:
    assert signal_reasons(tear()) == ["missing_signals"]
    pointer_only = with_points(with_browser_signals(tear()), trusted=None)
    assert signal_reasons(pointer_only) == ["missing_signals"]


def test_half_the_pointer_signals_are_flagged() -> None:
    assert signal_reasons(with_points(with_browser_signals(tear()), coalesced=None)) == ["missing_signals"]
    assert signal_reasons(with_points(with_browser_signals(tear()), pointer_type=None)) == ["missing_signals"]


def test_an_untrusted_event_is_flagged() -> None:
    trace = with_points(with_browser_signals(tear()), trusted=[True, True, False, True, True])
    assert signal_reasons(trace) == ["untrusted_events"]


def test_a_keyboard_trace_is_judged_by_its_key_events() -> None:
    # The SDK's keyboard path: no pointer_type or coalesced, but the key events' isTrusted on every point.
    keyboard = with_points(tear(), trusted=[True] * 5)
    assert signal_reasons(keyboard) == []
    assert signal_reasons(with_points(tear(), trusted=[True, False, True, True, True])) == [
        "untrusted_events"
    ]


def test_the_integrity_part_reports_the_layer_like_a_model() -> None:
    result = IntegrityResult(
        reasons=["injected_input"],
        tells=["coalesced_single", "fractional_steps"],
        evaluated=["x"],
        version="7",
    )
    assert integrity_part(result) == {
        "name": "tcurity-integrity",
        "version": "7",
        "reasons": ["injected_input"],
        "tells": ["coalesced_single", "fractional_steps"],
        "evaluated": ["x"],
    }


def test_a_two_layer_bundle_refuses_by_its_supervised_layer_and_names_the_feature() -> None:
    # The tear lasts 80 ms: log_duration_s = log10(0.08) = -1.097. The primary layer passes everything (both leaves
    # hold bot share 0); the supervised layer sends log_duration_s <= -0.5 to a leaf of bot share 0.9 (human
    # probability 0.1 < threshold 0.5): refused, and log_duration_s is below the people's median (0.0): "_low".
    names = ["log_duration_s", "path_efficiency"]
    bundle = ModelBundle(
        kind="random_forest",
        feature_names=names,
        forest=one_split(1, 0.5, [0.0, 0.0, 0.0]),
        threshold=0.5,
        transform=None,
        reference_low=np.array([-10.0, -10.0]),
        reference_high=np.array([10.0, 10.0]),
        grid_ms=1000.0 / 60.0,
        supervised=SupervisedLayer(
            forest=one_split(0, -0.5, [0.5, 0.9, 0.1]),
            threshold=0.5,
            reference_median=np.array([0.0, 1.0]),
        ),
    )
    trace = with_browser_signals(tear())
    task = trace.task
    assert isinstance(task, PerforationTask)
    decision = decide_phase_a(LoadedModel(name="m", version="1", alias="champion", model=bundle), task, trace)
    assert not decision.passed
    assert "log_duration_s_low" in decision.reasons
    model_check = decision.checks["model"]
    assert isinstance(model_check, dict)
    assert model_check["passed"] is False
    assert model_check["layers"]["random_forest"]["passed"] is True
    assert model_check["layers"]["supervised"] == {
        "score": pytest.approx(0.1),
        "threshold": 0.5,
        "passed": False,
    }


def _pass_all(names: list[str]) -> ModelBundle:
    """A one-layer bundle that passes every row (both leaves hold bot share 0)."""
    return ModelBundle(
        kind="random_forest",
        feature_names=names,
        forest=one_split(0, 0.5, [0.0, 0.0, 0.0]),
        threshold=0.5,
        transform=None,
        reference_low=np.full(len(names), -10.0),
        reference_high=np.full(len(names), 10.0),
        grid_ms=1000.0 / 60.0,
    )


def _approach_layers() -> ModelBundle:
    """Approach layers that refuse approaches longer than 100 px: ``approach_log_chord_px`` (feature 1) > 2 goes
    to a leaf of bot share 1."""
    layers = _pass_all(["approach_log_duration_s", "approach_log_chord_px"])
    layers.forest = one_split(1, 2.0, [0.0, 0.0, 1.0])
    layers.reference_high = np.array([10.0, 2.0])
    layers.meta = {"limits": {"max_pause_ms": 400.0, "min_chord_px": 40.0, "min_points": 3}}
    return layers


def _tear_after(approach_px: list[float]) -> Trace:
    """A straight tear along the perforation of :func:`tear`'s task, after moves that come from the left along the
    grip's row: ``approach_px`` are their distances from the grip (px), 20 ms apart, before the press."""
    task = tear().task
    assert isinstance(task, PerforationTask)
    w = task.area_px[0]
    n = len(approach_px)
    along = np.linspace(0.0, 1.0, 6)
    x = np.concatenate(
        [task.start.x - np.array(approach_px) / w, task.start.x + along * (task.end.x - task.start.x)]
    )
    y = np.concatenate([np.full(n, task.start.y), task.start.y + along * (task.end.y - task.start.y)])
    event = np.array([Event.MOVE] * n + [Event.DOWN] + [Event.MOVE] * 4 + [Event.UP], dtype=np.int8)
    arrays = TraceArrays(x, y, np.arange(n + 6) * 20.0, event)
    return with_browser_signals(make_trace(arrays, task))


@pytest.mark.parametrize(
    ("approach_px", "judged", "passed"),
    [
        ([], False, True),  # no approach: the tear's layers alone
        ([30.0, 15.0], False, True),  # a 30 px chord to the press: too small to judge
        ([300.0, 150.0, 50.0], True, False),  # 300 px (log10 2.48 > 2): judged and refused
        ([60.0, 30.0, 10.0], True, True),  # 60 px (log10 1.78): judged and passed
    ],
)
def test_the_approach_to_the_grip_is_judged_by_its_own_layers(
    approach_px: list[float], judged: bool, passed: bool
) -> None:
    bundle = _pass_all(["log_duration_s", "path_efficiency"])
    bundle.approach = _approach_layers()
    trace = _tear_after(approach_px)
    task = trace.task
    assert isinstance(task, PerforationTask)
    decision = decide_phase_a(LoadedModel(name="m", version="1", alias="champion", model=bundle), task, trace)
    approach = decision.checks["approach"]
    assert isinstance(approach, dict)
    assert approach["judged"] is judged
    assert decision.passed is passed
    assert ("approach_log_chord_px_high" in decision.reasons) is not passed
