"""Human movements cut out of recorded mouse sessions: the one cutter every data set goes through.

A session is a frame with columns ``t_ms`` (the client's clock, ms), ``button``, ``state``, ``x`` and ``y`` (the
Balabit columns, which SapiMouse shares). Two kinds of movement are cut out of it:

- *pointing strokes*: the pointer leaves rest and travels to a target that is then pressed (the ``Move`` rows
  after the last pause before a ``Pressed`` row, ending at the press);
- *drags*: the ``Drag`` rows between a ``Pressed`` and its ``Released`` row.

A stroke keeps the recording's own times (ms from the stroke's first event) and pixels. The readers of each data
set (:mod:`tcurity.data.balabit`, :mod:`tcurity.data.sapimouse`) only turn their files into such frames, so that
both populations are cut by the same rules (``docs/data.md``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from numpy.typing import NDArray

from tcurity.sampling import Path2, merge_equal_times

if TYPE_CHECKING:
    from tcurity.config import PrepareHumansParams

logger = logging.getLogger(__name__)

StrokeKind = Literal["point", "drag"]


@dataclass(frozen=True, slots=True)
class Stroke:
    """One human movement cut from a session, in screen pixels and ms from its first event."""

    stroke_id: str
    user: str
    session: str
    kind: StrokeKind
    path: Path2
    pause_before_ms: float  # rest before the movement started (pointing strokes; 0 for drags)

    @property
    def chord_px(self) -> float:
        return float(np.hypot(self.path.x[-1] - self.path.x[0], self.path.y[-1] - self.path.y[0]))

    @property
    def max_deviation(self) -> float:
        """The largest distance of any point from the start→end chord, as a fraction of the chord."""
        return chord_deviation(self.path)


def chord_deviation(path: Path2) -> float:
    """Largest perpendicular distance of ``path`` from its start→end chord, divided by the chord's length."""
    dx, dy = path.x[-1] - path.x[0], path.y[-1] - path.y[0]
    chord = float(np.hypot(dx, dy))
    if chord == 0.0:
        return float("inf")
    cross = np.abs(dx * (path.y - path.y[0]) - dy * (path.x - path.x[0])) / chord
    return float(np.max(cross) / chord)


def _path(rows: pd.DataFrame) -> Path2:
    t = rows["t_ms"].to_numpy(np.float64)
    merged = merge_equal_times(t, rows["x"].to_numpy(np.float64), rows["y"].to_numpy(np.float64))
    return Path2(merged.t_ms - merged.t_ms[0], merged.x, merged.y)


def cut_strokes(frame: pd.DataFrame, user: str, session: str, max_pause_ms: float) -> list[Stroke]:
    """Cuts one session into pointing strokes and drags.

    A pointing stroke starts at the last ``Move`` row that follows a gap of more than ``max_pause_ms`` (or any
    other event) and ends at the ``Pressed`` row it leads to; a drag runs from ``Pressed`` to ``Released``.
    """
    t = frame["t_ms"].to_numpy(np.float64)
    state = frame["state"].to_numpy()
    strokes: list[Stroke] = []
    run_start = 0
    press_at: int | None = None
    for i in range(len(frame)):
        gap = t[i] - t[i - 1] if i else np.inf
        if state[i] == "Move":
            if gap > max_pause_ms or (i and state[i - 1] != "Move"):
                run_start = i
        elif state[i] == "Pressed":
            if i - run_start >= 2 and state[i - 1] == "Move":
                pause = float(t[run_start] - t[run_start - 1]) if run_start else 0.0
                strokes.append(
                    _stroke(frame.iloc[run_start : i + 1], user, session, "point", pause, len(strokes))
                )
            press_at = i
        elif state[i] == "Released" and press_at is not None:
            if i - press_at >= 3 and all(s == "Drag" for s in state[press_at + 1 : i]):
                strokes.append(
                    _stroke(frame.iloc[press_at : i + 1], user, session, "drag", 0.0, len(strokes))
                )
            press_at = None
    return strokes


def _stroke(rows: pd.DataFrame, user: str, session: str, kind: StrokeKind, pause: float, n: int) -> Stroke:
    return Stroke(f"{user}-{session}-{n:05d}", user, session, kind, _path(rows), pause)


def keep_stroke(
    stroke: Stroke,
    min_chord_px: float,
    max_chord_px: float,
    min_duration_ms: float,
    max_duration_ms: float,
    max_pause_ms: float,
    max_deviation: float,
) -> bool:
    """Whether a stroke is a clean, single, goal-directed movement usable for our tasks.

    It must cover a chord of the task's scale, last a plausible time, have no inner pause longer than
    ``max_pause_ms`` (two movements glued together), hold at least four distinct samples and stay within
    ``max_deviation`` chord lengths of its chord (a tear along a line is roughly straight).
    """
    path = stroke.path
    if len(path) < 4 or not min_chord_px <= stroke.chord_px <= max_chord_px:
        return False
    if not min_duration_ms <= path.duration_ms <= max_duration_ms:
        return False
    if np.max(np.diff(path.t_ms)) > max_pause_ms:
        return False
    return stroke.max_deviation <= max_deviation


def keep_within(stroke: Stroke, limits: PrepareHumansParams) -> bool:
    """:func:`keep_stroke` with the limits of a settings object (``Params.prepare_humans``)."""
    return keep_stroke(
        stroke,
        limits.min_chord_px,
        limits.max_chord_px,
        limits.min_duration_ms,
        limits.max_duration_ms,
        limits.max_pause_ms,
        limits.max_deviation,
    )


def movement_gaps_ms(frame: pd.DataFrame, max_gap_ms: float) -> NDArray[np.float64]:
    """Gaps between successive movement events (``Move``/``Drag``) up to ``max_gap_ms``: the sampling process."""
    moving = frame["state"].isin(["Move", "Drag"]).to_numpy()
    t = frame["t_ms"].to_numpy(np.float64)
    both = moving[1:] & moving[:-1]
    gaps = np.diff(t)[both]
    return gaps[(gaps >= 0) & (gaps <= max_gap_ms)]


_STROKE_SCHEMA = pa.schema(
    [
        ("stroke_id", pa.string()),
        ("user", pa.string()),
        ("session", pa.string()),
        ("kind", pa.string()),
        ("pause_before_ms", pa.float64()),
        ("t_ms", pa.list_(pa.float64())),
        ("x", pa.list_(pa.float64())),
        ("y", pa.list_(pa.float64())),
    ]
)


def write_strokes(strokes: list[Stroke], path: Path) -> None:
    """Stores strokes as Parquet (one row each)."""
    columns: dict[str, list[object]] = {
        "stroke_id": [s.stroke_id for s in strokes],
        "user": [s.user for s in strokes],
        "session": [s.session for s in strokes],
        "kind": [s.kind for s in strokes],
        "pause_before_ms": [s.pause_before_ms for s in strokes],
        "t_ms": [s.path.t_ms for s in strokes],
        "x": [s.path.x for s in strokes],
        "y": [s.path.y for s in strokes],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table(columns, schema=_STROKE_SCHEMA), path, compression="zstd")


def read_strokes(path: Path) -> list[Stroke]:
    """Reads strokes written by :func:`write_strokes`."""
    table = pq.read_table(path).to_pydict()
    return [
        Stroke(
            stroke_id=table["stroke_id"][i],
            user=table["user"][i],
            session=table["session"][i],
            kind=table["kind"][i],
            pause_before_ms=table["pause_before_ms"][i],
            path=Path2(
                np.asarray(table["t_ms"][i], dtype=np.float64),
                np.asarray(table["x"][i], dtype=np.float64),
                np.asarray(table["y"][i], dtype=np.float64),
            ),
        )
        for i in range(len(table["stroke_id"]))
    ]
