"""Reading the Balabit Mouse Dynamics Challenge sessions (the low-rate, remote-desktop population).

The sessions are real remote-desktop mouse recordings (see ``data/raw/README.md`` for the source and citation).
:func:`read_session` turns one file into the session frame that :mod:`tcurity.data.strokes` cuts into pointing
strokes and drags; the cutter and the stroke files are re-exported here for the callers that read Balabit.
"""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd

from tcurity.data.strokes import (
    Stroke,
    StrokeKind,
    chord_deviation,
    cut_strokes,
    keep_stroke,
    keep_within,
    movement_gaps_ms,
    read_strokes,
    write_strokes,
)

__all__ = [
    "Stroke",
    "StrokeKind",
    "chord_deviation",
    "cut_strokes",
    "keep_stroke",
    "keep_within",
    "movement_gaps_ms",
    "read_session",
    "read_strokes",
    "session_files",
    "write_strokes",
]


def read_session(path: Path) -> pd.DataFrame:
    """One session file as a frame with columns ``t_ms`` (client clock), ``button``, ``state``, ``x``, ``y``."""
    with gzip.open(path, "rt") as f:
        frame = pd.read_csv(f)
    frame.columns = ["record_s", "client_s", "button", "state", "x", "y"]
    frame["t_ms"] = frame["client_s"].astype(np.float64) * 1000.0
    return frame[["t_ms", "button", "state", "x", "y"]]


def session_files(root: Path) -> Iterator[tuple[str, Path]]:
    """``(user, file)`` for every session under ``root`` (``userNN/session_*.csv.gz``), in a stable order."""
    for user_dir in sorted(p for p in root.iterdir() if p.is_dir()):
        for file in sorted(user_dir.glob("session_*.csv.gz")):
            yield user_dir.name, file
