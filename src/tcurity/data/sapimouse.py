"""Reading the SapiMouse sessions (120 people in a web browser, 60–125 Hz) and splitting them by person.

The files are vendored under ``data/raw/sapimouse/userN/session_<date>_<length>.csv.gz`` with their citation in
``data/raw/README.md``. Their columns are Balabit's without ``record timestamp``: ``client timestamp`` (integer
milliseconds), ``button``, ``state`` (``Move``, ``Pressed``, ``Drag``, ``Released``), ``x``, ``y`` (page pixels).
:func:`read_session` turns a file into the session frame that :func:`tcurity.data.strokes.cut_strokes` cuts, the
same cutter as Balabit's, so both populations follow one set of rules and keep their own timing.

User names carry the prefix :data:`USER_PREFIX` (``sapi_user7``): Balabit also has a ``user7``, and a person must
never be confused with another one across populations. :func:`split_users` deals the users into the train, calib,
test and attacker sets of ``params.yaml: sapimouse_split``, by person, stratified by recording rate so that every
set holds both 60 Hz and ≥ 110 Hz people (``docs/data.md``).
"""

from __future__ import annotations

import gzip
import logging
from collections.abc import Collection, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd

from tcurity.data.strokes import Stroke, cut_strokes, keep_within, movement_gaps_ms

if TYPE_CHECKING:
    from tcurity.config import PrepareHumansParams

logger = logging.getLogger(__name__)

USER_PREFIX = "sapi_"
SPLITS: tuple[str, ...] = ("train", "calib", "test", "attacker")
HIGH_RATE_MAX_GAP_MS = 10.0
"""A session whose median gap between movement events is at most this (≥ 100 Hz) is a *high-rate* session.

The data hold two clear groups: medians of 7–8 ms (125 Hz) and 16–17 ms (60 Hz), with a few at 13 ms."""

RateClass = Literal["high", "standard"]


def read_session(path: Path) -> pd.DataFrame:
    """One session file as a frame with columns ``t_ms`` (float ms), ``button``, ``state``, ``x``, ``y``.

    Raises:
        ValueError: when the file does not have SapiMouse's five columns.
    """
    with gzip.open(path, "rt") as f:
        frame = pd.read_csv(f)
    if len(frame.columns) != 5:
        raise ValueError(f"{path}: expected 5 SapiMouse columns, found {list(frame.columns)}")
    frame.columns = ["client_ms", "button", "state", "x", "y"]
    frame["t_ms"] = frame["client_ms"].astype(np.float64)
    frame["x"] = frame["x"].astype(np.float64)
    frame["y"] = frame["y"].astype(np.float64)
    return frame[["t_ms", "button", "state", "x", "y"]]


def user_name(folder: str) -> str:
    """The project's name of a SapiMouse user folder (``user7`` → ``sapi_user7``)."""
    return f"{USER_PREFIX}{folder}"


def session_files(root: Path) -> Iterator[tuple[str, str, Path]]:
    """``(user, session, file)`` for every session under ``root``, users and files in a stable order.

    ``user`` is prefixed (:func:`user_name`); ``session`` is the file's stem without ``session_`` and ``.csv``
    (``2020_05_14_1min``). Users are ordered by their number, so ``user2`` comes before ``user10``.
    """
    dirs = [p for p in root.iterdir() if p.is_dir() and p.name.startswith("user")]
    for user_dir in sorted(dirs, key=lambda p: int(p.name.removeprefix("user"))):
        for file in sorted(user_dir.glob("session_*.csv.gz")):
            session = file.name.removeprefix("session_").removesuffix(".csv.gz")
            yield user_name(user_dir.name), session, file


def median_gap_ms(frame: pd.DataFrame, max_gap_ms: float = 400.0) -> float:
    """Median positive gap between successive movement events (``Move``/``Drag``): the session's sampling period.

    Zero gaps (two events in one millisecond) are left out: they say how events were delivered, not how often.
    Returns ``inf`` for a session without two successive movement events.
    """
    gaps = movement_gaps_ms(frame, max_gap_ms)
    gaps = gaps[gaps > 0]
    return float(np.median(gaps)) if len(gaps) else float("inf")


def rate_class(median_gaps_ms: list[float]) -> RateClass:
    """``high`` when every session of a user was recorded at ≥ 100 Hz (:data:`HIGH_RATE_MAX_GAP_MS`)."""
    return "high" if median_gaps_ms and max(median_gaps_ms) <= HIGH_RATE_MAX_GAP_MS else "standard"


def split_users(strata: Mapping[str, str], fractions: Mapping[str, float], seed: int) -> dict[str, list[str]]:
    """Deals users into the sets of :data:`SPLITS`, by person, stratified, reproducibly.

    Within each stratum (sorted by name), users are put in a seeded random order (``numpy`` PCG64 from
    ``seed``, one permutation per stratum in sorted stratum order), then the first ones go to ``train``, the next
    to ``calib``, and so on. Each set gets ``fractions[set] · n`` users of a stratum of ``n``, rounded by largest
    remainder (ties to the earlier set) so that the counts add up to ``n``. Every user lands in exactly one set.

    Returns:
        Each set's users, sorted by name.

    Raises:
        ValueError: when ``fractions`` does not name exactly the sets of :data:`SPLITS` or does not sum to 1.
    """
    if set(fractions) != set(SPLITS) or not np.isclose(sum(fractions.values()), 1.0):
        raise ValueError(f"fractions must give {SPLITS} and sum to 1, got {dict(fractions)}")
    rng = np.random.default_rng(seed)
    out: dict[str, list[str]] = {name: [] for name in SPLITS}
    for stratum in sorted(set(strata.values())):
        members = sorted(u for u, s in strata.items() if s == stratum)
        order = [members[i] for i in rng.permutation(len(members))]
        for name, chunk in zip(SPLITS, _deal(order, [fractions[s] for s in SPLITS]), strict=True):
            out[name].extend(chunk)
    return {name: sorted(users, key=_user_key) for name, users in out.items()}


def _deal(order: list[str], fractions: list[float]) -> list[list[str]]:
    """Consecutive chunks of ``order`` sized by ``fractions`` (largest remainder, ties to the earlier chunk)."""
    exact = np.array(fractions) * len(order)
    counts = np.floor(exact).astype(int)
    remainder = exact - counts
    for i in sorted(range(len(fractions)), key=lambda k: (-remainder[k], k))[
        : len(order) - int(counts.sum())
    ]:
        counts[i] += 1
    bounds = np.concatenate([[0], np.cumsum(counts)])
    return [order[bounds[k] : bounds[k + 1]] for k in range(len(fractions))]


def _user_key(user: str) -> tuple[str, int]:
    """Sorts ``sapi_user2`` before ``sapi_user10``."""
    head = user.rstrip("0123456789")
    tail = user[len(head) :]
    return head, int(tail) if tail else -1


def user_rate_classes(root: Path) -> dict[str, RateClass]:
    """Every user's :func:`rate_class`, from the median gaps of their sessions under ``root``."""
    gaps: dict[str, list[float]] = {}
    for user, _, file in session_files(root):
        gaps.setdefault(user, []).append(median_gap_ms(read_session(file)))
    return {user: rate_class(g) for user, g in gaps.items()}


def cut_sessions(root: Path, max_pause_ms: float, users: Collection[str] | None = None) -> Iterator[Stroke]:
    """Every pointing stroke and drag of the sessions under ``root`` (of ``users`` only, when given).

    The cutter is Balabit's (:func:`tcurity.data.strokes.cut_strokes`); the strokes keep their recorded times.
    """
    for user, session, file in session_files(root):
        if users is None or user in users:
            yield from cut_strokes(read_session(file), user, session, max_pause_ms)


def kept_strokes(
    root: Path, limits: PrepareHumansParams, users: Collection[str] | None = None
) -> list[Stroke]:
    """The clean strokes (:func:`tcurity.data.strokes.keep_within` the ``prepare_humans`` limits) of ``users``
    (every user when ``None``), in a stable order."""
    return [s for s in cut_sessions(root, limits.max_pause_ms, users) if keep_within(s, limits)]
