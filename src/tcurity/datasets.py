"""Trace datasets on disk: one Parquet row per trace, in the schema of :mod:`tcurity.traces`.

Human traces from the adapter and bot traces from the simulators are stored alike, so featurisation, training
and evaluation read one format. Each row holds the trace's identity and labels, its task geometry (as the
schema's JSON) and the event columns as lists.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from pydantic import TypeAdapter

from tcurity.traces import GridTask, PerforationTask, TaskGeometry, TraceArrays

Source = Literal["human", "bot"]
_TASK_ADAPTER: TypeAdapter[PerforationTask | GridTask] = TypeAdapter(TaskGeometry)

_SCHEMA = pa.schema(
    [
        ("trace_id", pa.string()),
        ("source", pa.string()),
        ("family", pa.string()),
        ("user", pa.string()),
        ("split", pa.string()),
        ("task", pa.string()),
        ("x", pa.list_(pa.float64())),
        ("y", pa.list_(pa.float64())),
        ("t_ms", pa.list_(pa.float64())),
        ("event", pa.list_(pa.int8())),
    ]
)


@dataclass(frozen=True, slots=True)
class TraceRecord:
    """One stored trace with its labels.

    Attributes:
        trace_id: unique within a dataset.
        source: ``human`` or ``bot`` (the label models learn).
        family: the bot family, or ``human``.
        user: the human user the movement came from (bots: the user whose trace a replay used, else ``""``).
        split: ``train``, ``calib``, ``test`` or ``attacker`` (see ``params.yaml: split``).
        task: the task geometry the trace answered.
        arrays: the events.
    """

    trace_id: str
    source: Source
    family: str
    user: str
    split: str
    task: PerforationTask | GridTask
    arrays: TraceArrays


def write_traces(records: Iterable[TraceRecord], path: Path) -> int:
    """Writes records to a Parquet file (replacing it); returns how many were written."""
    rows = list(records)
    columns: dict[str, list[object]] = {name: [] for name in _SCHEMA.names}
    for r in rows:
        columns["trace_id"].append(r.trace_id)
        columns["source"].append(r.source)
        columns["family"].append(r.family)
        columns["user"].append(r.user)
        columns["split"].append(r.split)
        columns["task"].append(r.task.model_dump_json())
        columns["x"].append(r.arrays.x)
        columns["y"].append(r.arrays.y)
        columns["t_ms"].append(r.arrays.t_ms)
        columns["event"].append(r.arrays.event)
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table(columns, schema=_SCHEMA), path, compression="zstd")
    return len(rows)


def read_traces(paths: Path | Sequence[Path]) -> list[TraceRecord]:
    """Reads the records of one or several Parquet files, in file order."""
    records: list[TraceRecord] = []
    for path in [paths] if isinstance(paths, Path) else paths:
        table = pq.read_table(path).to_pydict()
        for i, trace_id in enumerate(table["trace_id"]):
            arrays = TraceArrays(
                x=np.asarray(table["x"][i], dtype=np.float64),
                y=np.asarray(table["y"][i], dtype=np.float64),
                t_ms=np.asarray(table["t_ms"][i], dtype=np.float64),
                event=np.asarray(table["event"][i], dtype=np.int8),
            )
            records.append(
                TraceRecord(
                    trace_id=trace_id,
                    source=table["source"][i],
                    family=table["family"][i],
                    user=table["user"][i],
                    split=table["split"][i],
                    task=_TASK_ADAPTER.validate_json(table["task"][i]),
                    arrays=arrays,
                )
            )
    return records
