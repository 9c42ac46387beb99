"""How many cores a pipeline step may use, and a per-row computation shared out over them.

``TCURITY_JOBS`` sets it (default: every core this process may run on). It is an execution setting, never a model
parameter: the forests draw each tree's seed before the trees are shared out, and :func:`map_chunks` joins the
chunks in their order, so a stage's outputs are the same bytes on any number of cores
(``tests/test_parallel.py``). On the shared development machine ``TCURITY_JOBS=1`` keeps a stage to one core.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from itertools import pairwise
from typing import TypeVar

import pandas as pd

JOBS_VARIABLE = "TCURITY_JOBS"
# Below this many items a chunk's start-up (a fresh interpreter importing the package) costs more than it saves.
MIN_ITEMS_PER_JOB = 200

T = TypeVar("T")


def jobs() -> int:
    """Cores a step may use: ``TCURITY_JOBS`` when set, else every core this process may run on.

    Raises:
        ValueError: when ``TCURITY_JOBS`` is set to anything but a positive integer.
    """
    raw = os.environ.get(JOBS_VARIABLE, "").strip()
    if not raw:
        return len(os.sched_getaffinity(0))
    if not raw.isdigit() or int(raw) < 1:
        raise ValueError(f"{JOBS_VARIABLE} must be a positive integer, not {raw!r}")
    return int(raw)


def chunks(items: Sequence[T], n: int) -> list[Sequence[T]]:
    """``items`` cut into at most ``n`` contiguous, non-empty runs of near-equal length, in order."""
    n = max(1, min(n, len(items)))
    size, extra = divmod(len(items), n)
    bounds = [i * size + min(i, extra) for i in range(n + 1)]
    return [items[a:b] for a, b in pairwise(bounds) if b > a]


def map_chunks(table_of: Callable[[Sequence[T]], pd.DataFrame], items: Sequence[T]) -> pd.DataFrame:
    """``table_of(items)``, computed on :func:`jobs` processes: each takes one contiguous run of ``items`` and the
    tables are joined in order, so the result equals the one-process table row for row.

    ``table_of`` must be picklable (a module-level function or a ``functools.partial`` of one) and compute each row
    from its own item alone. The workers start from a fresh interpreter (``forkserver``), never a fork of a
    process whose threads may hold locks.
    """
    n = min(jobs(), len(items) // MIN_ITEMS_PER_JOB)
    if n <= 1:
        return table_of(items)
    context = multiprocessing.get_context("forkserver")
    with ProcessPoolExecutor(max_workers=n, mp_context=context) as pool:
        tables = list(pool.map(table_of, chunks(items, n)))
    return pd.concat(tables, ignore_index=True)
