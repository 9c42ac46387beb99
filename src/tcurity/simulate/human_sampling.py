"""Bot traces re-emitted as the low-rate human recordings were sampled (the ``*_human_sampling`` bot sets).

A bot's events come at the tool's or the display's rate; the people's data sets come at their recorder's
(:class:`tcurity.sampling.HumanSampler`). Re-emitting a bot's movements with the people's sampling asks whether a
model separates them by movement or merely by sampling rate. Both phases do it the same way: each movement of the
trace (a span of its events) is resampled on its own, its end events (press, release) stay where and when they
were, and a rest between movements stays without events. Only which spans a trace has differs by phase: Phase
A's is here, Phase B's is :func:`tcurity.data.grid_answers.answer_with_human_sampling`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from tcurity.datasets import TraceRecord
from tcurity.sampling import HumanSampler, Path2
from tcurity.traces import Event, PerforationTask, TraceArrays


class Span(NamedTuple):
    """Events ``start..end`` (inclusive) of a trace, re-emitted with ``first`` and ``last`` as their end events;
    ``skip`` leading events are dropped (a drag's first event is the press its approach already ends with)."""

    start: int
    end: int
    first: Event
    last: Event
    skip: int = 0


def resample_spans(
    a: TraceArrays, spans: Sequence[Span], sampler: HumanSampler, rng: np.random.Generator
) -> TraceArrays:
    """The spans of ``a``, in order, each resampled by ``sampler`` (one draw per span, from ``rng``) and joined."""
    t, x, y, event = [], [], [], []
    for span in spans:
        sl = slice(span.start, span.end + 1)
        resampled = sampler.resample(Path2(a.t_ms[sl], a.x[sl], a.y[sl]), rng)
        codes = np.full(len(resampled), Event.MOVE, dtype=np.int8)
        codes[0] = span.first
        codes[-1] = span.last
        t.append(resampled.t_ms[span.skip :])
        x.append(resampled.x[span.skip :])
        y.append(resampled.y[span.skip :])
        event.append(codes[span.skip :])
    return TraceArrays(np.concatenate(x), np.concatenate(y), np.concatenate(t), np.concatenate(event))


def resampled_record(record: TraceRecord, arrays: TraceArrays) -> TraceRecord:
    """The bot record with re-emitted events, its id suffixed ``-hs``."""
    return TraceRecord(
        record.trace_id + "-hs", "bot", record.family, record.user, record.split, record.task, arrays
    )


def press_with_human_sampling(
    record: TraceRecord, sampler: HumanSampler, rng: np.random.Generator
) -> TraceRecord:
    """A Phase A bot's first press (down to up) re-emitted as the people were sampled; hover events are dropped."""
    assert isinstance(record.task, PerforationTask)
    lo, hi = record.arrays.press_spans()[0]
    return resampled_record(
        record, resample_spans(record.arrays, [Span(lo, hi, Event.DOWN, Event.UP)], sampler, rng)
    )
