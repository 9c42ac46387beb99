"""Trace datasets on disk: records survive a Parquet round trip unchanged."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from tcurity.datasets import TraceRecord, read_traces, write_traces
from tcurity.geometry import grid_layout
from tcurity.traces import Event, GridTask, PerforationTask, Point2, TraceArrays

PERFORATION = PerforationTask(
    area_px=(640, 260), start=Point2(x=0.7, y=0.1), end=Point2(x=0.72, y=0.9), bend=-0.03, band=0.1
)
TEAR = TraceArrays(
    x=np.array([0.7, 0.705, 0.71, 0.72]),
    y=np.array([0.1, 0.4, 0.7, 0.9]),
    t_ms=np.array([0.0, 109.2, 109.2, 327.6]),
    event=np.array([Event.DOWN, Event.MOVE, Event.MOVE, Event.UP], dtype=np.int8),
)
DRAGS = TraceArrays(
    x=np.array([0.2, 0.2, 0.5, 0.5, 0.6, 0.7]),
    y=np.array([0.1, 0.1, 0.85, 0.85, 0.2, 0.88]),
    t_ms=np.array([0.0, 5.0, 400.0, 900.0, 1000.0, 1500.0]),
    event=np.array([Event.MOVE, Event.DOWN, Event.UP, Event.MOVE, Event.DOWN, Event.CANCEL], dtype=np.int8),
)
RECORDS = [
    TraceRecord("human-00001", "human", "human", "user12", "train", PERFORATION, TEAR),
    TraceRecord("bot-00001", "bot", "windmouse", "", "attacker", grid_layout(2), DRAGS),
]


def test_records_round_trip(tmp_path: Path) -> None:
    target = tmp_path / "traces" / "phase_a.parquet"
    assert write_traces(RECORDS, target) == 2
    back = read_traces(target)
    assert len(back) == 2
    for wrote, read in zip(RECORDS, back, strict=True):
        assert (read.trace_id, read.source, read.family, read.user, read.split) == (
            wrote.trace_id,
            wrote.source,
            wrote.family,
            wrote.user,
            wrote.split,
        )
        assert read.task == wrote.task
        assert type(read.task) is type(wrote.task)
        for field in ("x", "y", "t_ms", "event"):
            written, stored = getattr(wrote.arrays, field), getattr(read.arrays, field)
            assert stored.dtype == written.dtype
            assert stored.tolist() == written.tolist()
    assert isinstance(back[1].task, GridTask)
    assert back[1].arrays.press_spans() == [(1, 2), (4, 5)]


def test_several_files_are_read_in_order(tmp_path: Path) -> None:
    write_traces(RECORDS[1:], tmp_path / "b.parquet")
    write_traces(RECORDS[:1], tmp_path / "a.parquet")
    back = read_traces([tmp_path / "b.parquet", tmp_path / "a.parquet"])
    assert [r.trace_id for r in back] == ["bot-00001", "human-00001"]


def test_the_file_holds_one_row_per_trace_with_the_task_as_json(tmp_path: Path) -> None:
    target = tmp_path / "traces.parquet"
    write_traces(RECORDS, target)
    table = pq.read_table(target)
    assert table.num_rows == 2
    assert table.column_names == [
        "trace_id",
        "source",
        "family",
        "user",
        "split",
        "task",
        "x",
        "y",
        "t_ms",
        "event",
    ]
    assert PerforationTask.model_validate_json(table["task"][0].as_py()) == PERFORATION


def test_an_empty_dataset_round_trips(tmp_path: Path) -> None:
    assert write_traces([], tmp_path / "empty.parquet") == 0
    assert read_traces(tmp_path / "empty.parquet") == []
