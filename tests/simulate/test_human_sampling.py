"""Bots re-emitted as the people were sampled, and the replay-source picker both phases share."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tcurity.sampling import HumanSampler
from tcurity.simulate.human_sampling import Span, resample_spans
from tcurity.simulate.replay import pick_source
from tcurity.traces import Event, TraceArrays


@dataclass(frozen=True)
class _Chord:
    chord_px: float


def test_pick_source_keeps_to_strokes_of_about_the_length() -> None:
    short, fits = _Chord(50.0), _Chord(100.0)
    rng = np.random.default_rng(0)
    assert {id(pick_source([short, fits], 90.0, rng)) for _ in range(20)} == {id(fits)}


def test_pick_source_falls_back_to_every_stroke() -> None:
    short, long = _Chord(50.0), _Chord(1000.0)
    rng = np.random.default_rng(0)
    assert {id(pick_source([short, long], 300.0, rng)) for _ in range(40)} == {id(short), id(long)}
    assert {id(pick_source([short, long], None, rng)) for _ in range(40)} == {id(short), id(long)}


def test_resample_spans_joins_spans_with_their_end_events() -> None:
    # A sampler whose one gap is 10 ms on a 10 ms clock leaves a 10 ms-spaced path as it is.
    sampler = HumanSampler(gaps_ms=np.array([10.0]), quantum_ms=10.0)
    a = TraceArrays(
        x=np.array([0.1, 0.2, 0.3, 0.4]),
        y=np.array([0.5, 0.5, 0.5, 0.5]),
        t_ms=np.array([0.0, 10.0, 20.0, 30.0]),
        event=np.array([Event.MOVE, Event.DOWN, Event.MOVE, Event.UP], dtype=np.int8),
    )
    spans = [Span(0, 1, Event.MOVE, Event.DOWN), Span(1, 3, Event.MOVE, Event.UP, skip=1)]
    out = resample_spans(a, spans, sampler, np.random.default_rng(0))
    assert out.t_ms.tolist() == [0.0, 10.0, 20.0, 30.0]
    assert out.x.tolist() == [0.1, 0.2, 0.3, 0.4]
    assert out.event.tolist() == [Event.MOVE, Event.DOWN, Event.MOVE, Event.UP]
