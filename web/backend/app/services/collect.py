"""Learning from traffic, for sites that opt in: collected traces and the sites' labels (the export to a
training dataset is :mod:`web.backend.app.services.export`, which only the CLI loads).

When a site's policy has ``collect``, every answer the model scored is kept with the decision it got, for the
site's ``retention_days``. Answers refused before scoring (``trace_longer_than_elapsed``, ``replayed_trace``,
geometry, a wrong answer, an expired task) and unscored fail-open passes are not kept: nothing vouches for them
and anyone can send as many as the rate limits allow.

What is kept is bounded: the trace is downsampled to at most :data:`MAX_COLLECTED_POINTS` points (every
``down``, ``up`` and ``cancel`` stays, the moves between are taken evenly), coordinates are rounded to
:data:`COORD_DECIMALS` decimals of the task area and times to :data:`TIME_DECIMALS` of a millisecond, and a
record is never larger than :data:`MAX_RECORD_BYTES` (96 KiB). Each site has a byte quota
(``SitePolicy.collect_quota_mib``, 256 MiB by default) over its live records; past it, new traces are dropped
and counted in ``backend_collect_dropped_total{reason}``, never an error to the user.

The site reports what it learned later (``POST /api/v1/report``: ``confirmed_bot``, ``chargeback``, …). A label
covers only the session's passing, scored traces: traces the model refused are kept ``refused`` (quarantined,
for audits) and never take a label, so a session a site later confirms as human cannot launder its failed bot
attempts into human training data. Only the label ever becomes ground truth: the export writes labelled passing
traces only, with ``source`` taken from the label, never from the model's own verdict (which is kept beside it,
as ``decision``, for audits).
"""

from __future__ import annotations

import logging
import time
from typing import Any, Literal

import numpy as np
import orjson
from numpy.typing import NDArray

from tcurity.traces import EVENT_CODES, Event, Trace, TracePoints
from web.backend.app.core.security import new_id
from web.backend.app.core.telemetry import Telemetry
from web.backend.app.services.session import PhaseResult, SessionRecord, ref
from web.backend.app.sites import Site
from web.backend.app.store.base import Store, TraceToKeep

logger = logging.getLogger(__name__)

Label = Literal["confirmed_human", "confirmed_bot", "chargeback", "account_takeover", "scalping"]
DAY_S = 86_400.0
MIB = 1 << 20
# A kept trace has at most this many points (a human tear or drag at 60-120 Hz has a few hundred).
MAX_COLLECTED_POINTS = 1024
COORD_DECIMALS = 4  # of the task area: 0.04 px on a 420 px task, 1 px at the largest area allowed
TIME_DECIMALS = 1  # of a millisecond (browsers give 0.1 ms or coarser)
# Hard cap of one stored record (trace, task, decision). A bounded trace at its worst (1,024 points of
# 7-character coordinates, 25-character times, ``cancel`` events and every optional signal) is ~71 KB.
MAX_RECORD_BYTES = 96 * 1024


def retention_s(site: Site) -> float:
    return site.policy.retention_days * DAY_S


def quota_bytes(site: Site) -> int:
    """The site's byte quota over its live collected records."""
    return int(site.policy.collect_quota_mib * MIB)


def scored(result: PhaseResult | None) -> bool:
    """Whether the model scored the answer (not refused before scoring, not an unscored fail-open pass)."""
    return result is not None and result.score is not None and not result.unscored


def kept_indices(events: NDArray[np.int8], max_points: int) -> NDArray[np.intp] | None:
    """The points a bounded trace keeps: all of them when they fit, else every press boundary (``down``,
    ``up``, ``cancel``) and evenly spaced moves; ``None`` when the boundaries alone do not fit."""
    n = len(events)
    if n <= max_points:
        return np.arange(n)
    boundaries = np.flatnonzero(events != Event.MOVE)
    if len(boundaries) > max_points:
        return None
    moves = np.flatnonzero(events == Event.MOVE)
    room = max_points - len(boundaries)  # < len(moves), since n > max_points
    picked = moves[np.linspace(0, len(moves) - 1, room).round().astype(np.intp)] if room else moves[:0]
    return np.union1d(boundaries, picked)


def bound_trace(trace: Trace, max_points: int = MAX_COLLECTED_POINTS) -> Trace | None:
    """The trace as collection keeps it: downsampled to ``max_points`` and rounded (``None`` when it has more
    press boundaries than ``max_points``, which no person produces)."""
    points = trace.points
    events = np.fromiter((EVENT_CODES[e] for e in points.event), dtype=np.int8, count=len(points.event))
    found = kept_indices(events, max_points)
    if found is None:
        return None
    idx = found.tolist()

    def take(values: list[Any] | None) -> list[Any] | None:
        return None if values is None else [values[i] for i in idx]

    try:
        bounded = TracePoints(
            x=[round(points.x[i], COORD_DECIMALS) for i in idx],
            y=[round(points.y[i], COORD_DECIMALS) for i in idx],
            t_ms=[round(points.t_ms[i], TIME_DECIMALS) for i in idx],
            event=[points.event[i] for i in idx],
            pointer_type=take(points.pointer_type),
            trusted=take(points.trusted),
            coalesced=take(points.coalesced),
        )
        return Trace(points=bounded, viewport=trace.viewport, task=trace.task)
    except ValueError:  # rounding pushed a 180 s trace past the limit: not worth keeping
        return None


class Collector:
    """Keeps scored traces of collecting sites (bounded, within each site's quota) and attaches labels."""

    def __init__(self, store: Store, telemetry: Telemetry) -> None:
        self._store = store
        self._telemetry = telemetry

    @property
    def store(self) -> Store:
        """Where collected traces live (``COLLECT_REDIS_URL``'s Redis, or the main store)."""
        return self._store

    async def record(
        self,
        site: Site,
        session: SessionRecord,
        phase: str,
        trace: Trace,
        passed: bool,
        reasons: list[str],
        result: PhaseResult | None,
    ) -> None:
        """Stores one scored trace with its decision, if the site collects; a model refusal is kept ``refused``.

        Never fails the answer: a trace that is too large, over the site's quota or lost to a store failure is
        dropped and counted (``backend_collect_dropped_total{reason}``).
        """
        if not site.policy.collect or not scored(result):
            return
        data = _record_bytes(phase, trace, passed, reasons, result)
        if data is None:
            self._dropped("oversized")
            return
        try:
            trace_to_keep = TraceToKeep(
                site.sitekey, session.session_id, new_id(), data, retention_s(site), refused=not passed
            )
            kept = await self._store.add_trace(trace_to_keep, quota_bytes=quota_bytes(site))
        except Exception:
            logger.exception("trace not collected", extra={"fields": {"session": ref(session.session_id)}})
            self._dropped("store_error")
            return
        if not kept:
            self._dropped("quota")

    def _dropped(self, reason: str) -> None:
        self._telemetry.collect_dropped.labels(reason).inc()

    async def label(self, site: Site, session_id: str, label: str) -> int:
        """Attaches the site's label to a session's passing, scored traces; returns how many it covers."""
        return await self._store.set_label(site.sitekey, session_id, label, retention_s(site))


def _record_bytes(
    phase: str, trace: Trace, passed: bool, reasons: list[str], result: PhaseResult | None
) -> bytes | None:
    """The stored record (bounded trace and decision), or ``None`` when it cannot be kept within the cap."""
    bounded = bound_trace(trace)
    if bounded is None:
        return None
    payload = {
        "phase": phase,
        "created_s": time.time(),
        "points_received": len(trace.points.x),
        "trace": bounded.model_dump(mode="json", exclude_none=True),
        "decision": {
            "passed": passed,
            "refused": not passed,
            "reasons": reasons,
            **(result.model_dump() if result else {}),
        },
    }
    data = orjson.dumps(payload)
    return data if len(data) <= MAX_RECORD_BYTES else None
