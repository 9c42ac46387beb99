"""The browser-signal rule of :mod:`serving.decisions`, on hand-made traces (no model needed)."""

from __future__ import annotations

import numpy as np

from serving.decisions import integrity_part, signal_reasons
from tcurity.geometry import random_perforation
from tcurity.integrity import IntegrityResult
from tcurity.traces import Event, Trace, TraceArrays, make_trace, with_browser_signals


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
