"""The trace schema: field rules, the validation codes of ``check_points`` and the array form."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from pydantic import ValidationError

from tcurity.config import PROJECT_ROOT
from tcurity.geometry import grid_layout
from tcurity.traces import (
    MAX_APPROACH_POINTS,
    MAX_DURATION_MS,
    MAX_POINTS,
    MAX_SUB_PER_EVENT,
    TRACE_CODES,
    EnvReport,
    Event,
    PerforationTask,
    Point2,
    SubSamples,
    Trace,
    TraceArrays,
    TracePoints,
    TraceValidationError,
    Viewport,
    check_points,
    check_task_presses,
    make_trace,
)
from tests.vocabulary import literal_args, undocumented

TASK = PerforationTask(area_px=(640, 260), start=Point2(x=0.7, y=0.1), end=Point2(x=0.7, y=0.9))
VIEWPORT = Viewport(width_px=1280, height_px=800)


def points(**overrides: Any) -> dict[str, Any]:
    """The fields of a valid three-event press (down, move, up), with some replaced."""
    fields: dict[str, Any] = {
        "x": [0.7, 0.7, 0.7],
        "y": [0.1, 0.5, 0.9],
        "t_ms": [0.0, 100.0, 200.0],
        "event": ["down", "move", "up"],
    }
    return fields | overrides


def trace(**overrides: Any) -> Trace:
    return Trace(points=TracePoints(**points(**overrides)), viewport=VIEWPORT, task=TASK)


def code_of(**overrides: Any) -> str:
    """The validation code ``check_points`` gives for the overridden fields (bypassing field validation)."""
    with pytest.raises(TraceValidationError) as caught:
        check_points(TracePoints.model_construct(**points(**overrides)))
    return caught.value.code


# --- check_points and Trace ----------------------------------------------------------------------------------


def test_a_valid_press_passes() -> None:
    check_points(TracePoints(**points()))
    assert trace().points.event == ["down", "move", "up"]


@pytest.mark.parametrize(
    "overrides",
    [
        {"y": [0.1, 0.9]},
        {"t_ms": [0.0, 100.0, 200.0, 300.0]},
        {"event": ["down", "up"]},
        {"pointer_type": ["mouse", "mouse"]},
        {"trusted": [True, True, True, True]},
        {"coalesced": [1]},
        {"screen_dx": [0.0, 0.0], "screen_dy": [0.0, 0.0, 0.0]},
        {"movement_x": [0.0] * 4, "movement_y": [0.0] * 4},
        {"frame_ms": [1.0]},
        {"pressure": [0.5, 0.5]},
        {"tilt_x": [0.0] * 2, "tilt_y": [0.0] * 2},
    ],
)
def test_length_mismatch(overrides: dict[str, Any]) -> None:
    assert code_of(**overrides) == "length_mismatch"
    with pytest.raises(ValidationError, match="length_mismatch"):
        trace(**overrides)


def test_optional_fields_of_the_right_length_pass() -> None:
    t = trace(pointer_type=["mouse"] * 3, trusted=[True] * 3, coalesced=[1, 2, 0])
    assert t.points.coalesced == [1, 2, 0]


def test_too_few_points() -> None:
    two = {"x": [0.7, 0.7], "y": [0.1, 0.9], "t_ms": [0.0, 100.0], "event": ["down", "up"]}
    assert code_of(**two) == "too_few_points"
    with pytest.raises(ValidationError, match="too_few_points"):
        trace(**two)


def test_too_many_points() -> None:
    n = MAX_POINTS + 1
    many = {
        "x": [0.5] * n,
        "y": [0.5] * n,
        "t_ms": [float(i) for i in range(n)],
        "event": ["down"] + ["move"] * (n - 2) + ["up"],
    }
    assert code_of(**many) == "too_many_points"
    # Through the model the lists' own length limit refuses it first.
    with pytest.raises(ValidationError, match="at most 8000"):
        trace(**many)


def test_exactly_max_points_is_accepted() -> None:
    n = MAX_POINTS
    t = trace(
        x=[0.5] * n,
        y=[0.5] * n,
        t_ms=[float(i) for i in range(n)],
        event=["down"] + ["move"] * (n - 2) + ["up"],
    )
    assert len(t.arrays()) == MAX_POINTS


def test_time_not_monotonic() -> None:
    assert code_of(t_ms=[0.0, 100.0, 99.0]) == "time_not_monotonic"
    with pytest.raises(ValidationError, match="time_not_monotonic"):
        trace(t_ms=[0.0, 100.0, 99.0])


def test_equal_times_are_allowed() -> None:
    assert trace(t_ms=[5.0, 5.0, 5.0]).points.t_ms == [5.0, 5.0, 5.0]


def test_duration_too_long() -> None:
    too_long = [1000.0, 2000.0, 1000.0 + MAX_DURATION_MS + 1.0]
    assert code_of(t_ms=too_long) == "duration_too_long"
    with pytest.raises(ValidationError, match="duration_too_long"):
        trace(t_ms=too_long)


def test_duration_of_exactly_the_limit_passes() -> None:
    trace(t_ms=[0.0, 1.0, MAX_DURATION_MS])


@pytest.mark.parametrize(
    ("events", "detail"),
    [
        (["down", "down", "up"], "'down' at 1 while already pressed"),
        (["up", "down", "up"], "'up' at 0 without a 'down'"),
        (["cancel", "down", "up"], "'cancel' at 0 without a 'down'"),
        (["move", "down", "move"], "the last press never ends"),
        (["move", "move", "move"], "at least one press"),
    ],
)
def test_bad_event_sequence(events: list[str], detail: str) -> None:
    with pytest.raises(TraceValidationError) as caught:
        check_points(TracePoints(**points(event=events)))
    assert caught.value.code == "bad_event_sequence"
    assert detail in caught.value.message
    with pytest.raises(ValidationError, match="bad_event_sequence"):
        trace(event=events)


def test_a_press_may_end_in_cancel_and_presses_may_follow() -> None:
    t = Trace(
        points=TracePoints(
            x=[0.5] * 5,
            y=[0.5] * 5,
            t_ms=[0.0, 1.0, 2.0, 3.0, 4.0],
            event=["down", "cancel", "move", "down", "up"],
        ),
        viewport=VIEWPORT,
        task=grid_layout(2),
    )
    assert t.arrays().press_spans() == [(0, 1), (3, 4)]


@pytest.mark.parametrize(
    "events",
    [
        ["down", "move", "up", "move", "down", "up"],  # a junk press after the tear
        ["down", "cancel", "move", "down", "up"],  # a let-go, then a re-grab
    ],
)
def test_a_tear_is_exactly_one_press(events: list[str]) -> None:
    n = len(events)
    fields = {
        "x": [0.7] * n,
        "y": [0.1 + 0.8 * i / (n - 1) for i in range(n)],
        "t_ms": [10.0 * i for i in range(n)],
    }
    with pytest.raises(ValidationError, match="bad_event_sequence") as caught:
        trace(**fields, event=events)
    assert "exactly one press" in str(caught.value)
    with pytest.raises(TraceValidationError) as direct:
        check_task_presses(TracePoints(**fields, event=events), TASK)
    assert direct.value.code == "bad_event_sequence"
    check_task_presses(TracePoints(**fields, event=events), grid_layout(2))  # a grid answer holds several


@pytest.mark.parametrize(("moves", "ok"), [(MAX_APPROACH_POINTS, True), (MAX_APPROACH_POINTS + 1, False)])
def test_a_tears_approach_is_bounded(moves: int, ok: bool) -> None:
    events = ["move"] * moves + ["down", "move", "up"]
    n = len(events)
    points = TracePoints(x=[0.7] * n, y=[0.5] * n, t_ms=[float(i) for i in range(n)], event=events)
    if ok:
        check_task_presses(points, TASK)
        return
    with pytest.raises(TraceValidationError) as caught:
        check_task_presses(points, TASK)
    assert caught.value.code == "too_many_points"
    assert "approach" in caught.value.message
    check_task_presses(points, grid_layout(2))  # only a tear's approach is bounded so


# --- field rules ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_nan_and_inf_are_refused(bad: float) -> None:
    with pytest.raises(ValidationError):
        Point2(x=bad, y=0.5)
    with pytest.raises(ValidationError):
        TracePoints(**points(x=[0.7, bad, 0.7]))
    with pytest.raises(ValidationError):
        TracePoints(**points(t_ms=[0.0, bad, 200.0]))


@pytest.mark.parametrize("coordinate", [-1.0001, 2.0001, -5.0, 10.0])
def test_coordinates_outside_the_allowed_range_are_refused(coordinate: float) -> None:
    with pytest.raises(ValidationError):
        Point2(x=coordinate, y=0.5)
    with pytest.raises(ValidationError):
        TracePoints(**points(y=[0.1, coordinate, 0.9]))


def test_coordinates_at_the_range_limits_are_accepted() -> None:
    assert trace(x=[-1.0, 2.0, 0.5]).points.x == [-1.0, 2.0, 0.5]


def test_negative_time_is_refused() -> None:
    with pytest.raises(ValidationError):
        TracePoints(**points(t_ms=[-1.0, 100.0, 200.0]))


def test_unknown_event_name_is_refused() -> None:
    with pytest.raises(ValidationError):
        TracePoints(**points(event=["down", "hover", "up"]))


def test_extra_fields_are_forbidden() -> None:
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        Point2(x=0.5, y=0.5, z=0.0)  # type: ignore[call-arg]
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        TracePoints(**points(force=[0.5, 0.5, 0.5]))
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        Trace(points=TracePoints(**points()), viewport=VIEWPORT, task=TASK, label="human")  # type: ignore[call-arg]


def test_perforation_ends_must_differ() -> None:
    with pytest.raises(ValidationError, match="start and end must differ"):
        PerforationTask(area_px=(640, 260), start=Point2(x=0.5, y=0.5), end=Point2(x=0.5, y=0.5))


def test_perforation_with_ends_one_coordinate_apart_is_accepted() -> None:
    task = PerforationTask(area_px=(640, 260), start=Point2(x=0.5, y=0.5), end=Point2(x=0.5, y=0.6))
    assert task.end.y == 0.6


def test_task_kind_selects_the_geometry() -> None:
    t = Trace.model_validate(
        {"points": points(), "viewport": VIEWPORT.model_dump(), "task": TASK.model_dump()},
    )
    assert isinstance(t.task, PerforationTask)


# --- array form -----------------------------------------------------------------------------------------------


def test_arrays_round_trip() -> None:
    wire = TracePoints(
        x=[0.1, 0.2, 0.3, 0.4, 0.5],
        y=[0.5, 0.4, 0.3, 0.2, 0.1],
        t_ms=[0.0, 10.0, 20.0, 20.0, 35.5],
        event=["move", "down", "move", "cancel", "move"],
    )
    arrays = TraceArrays.from_points(wire)
    assert arrays.x.dtype == np.float64
    assert arrays.event.dtype == np.int8
    assert arrays.event.tolist() == [Event.MOVE, Event.DOWN, Event.MOVE, Event.CANCEL, Event.MOVE]
    assert arrays.t_ms.tolist() == [0.0, 10.0, 20.0, 20.0, 35.5]
    assert len(arrays) == 5
    assert arrays.to_points() == wire


def test_press_spans_of_two_presses() -> None:
    arrays = TraceArrays(
        x=np.zeros(8),
        y=np.zeros(8),
        t_ms=np.arange(8.0),
        event=np.array([1, 0, 1, 2, 1, 0, 1, 2], dtype=np.int8),
    )
    assert arrays.press_spans() == [(1, 3), (5, 7)]


def test_press_spans_ignore_a_press_that_never_ends() -> None:
    arrays = TraceArrays(
        x=np.zeros(3), y=np.zeros(3), t_ms=np.arange(3.0), event=np.array([0, 1, 1], np.int8)
    )
    assert arrays.press_spans() == []


def test_in_pixels_scales_each_axis_by_its_own_size() -> None:
    arrays = TraceArrays(
        x=np.array([0.0, 0.5, 1.0]),
        y=np.array([0.25, 1.0, -0.5]),
        t_ms=np.zeros(3),
        event=np.zeros(3, np.int8),
    )
    px, py = arrays.in_pixels((640, 260))
    assert px.tolist() == [0.0, 320.0, 640.0]
    assert py.tolist() == [65.0, 260.0, -130.0]


def test_make_trace_validates_and_picks_a_desktop_viewport() -> None:
    arrays = TraceArrays.from_points(TracePoints(**points()))
    t = make_trace(arrays, TASK)
    assert t.viewport == Viewport(width_px=1280, height_px=800, device_pixel_ratio=1.0)
    assert t.points == TracePoints(**points())
    assert t.task == TASK


def test_make_trace_viewport_is_at_least_the_task_area() -> None:
    big = PerforationTask(area_px=(2000, 900), start=Point2(x=0.7, y=0.1), end=Point2(x=0.7, y=0.9))
    t = make_trace(TraceArrays.from_points(TracePoints(**points())), big)
    assert (t.viewport.width_px, t.viewport.height_px) == (2000, 900)


def test_make_trace_keeps_a_given_viewport_and_refuses_bad_arrays() -> None:
    phone = Viewport(width_px=390, height_px=844, device_pixel_ratio=3.0)
    arrays = TraceArrays.from_points(TracePoints(**points()))
    assert make_trace(arrays, TASK, phone).viewport == phone
    backwards = TraceArrays(arrays.x, arrays.y, arrays.t_ms[::-1].copy(), arrays.event)
    with pytest.raises(ValidationError, match="time_not_monotonic"):
        make_trace(backwards, TASK)


# --- integrity evidence (docs/integrity.md) ----------------------------------------------------------------------


def evidence() -> dict[str, Any]:
    """Every integrity column, valid, for the three-event press of :func:`points`."""
    return {
        "screen_dx": [40.0, 40.0, 40.0],
        "screen_dy": [86.0, 86.0, 86.0],
        "movement_x": [0.0, 3.0, 0.0],
        "movement_y": [0.0, -1.0, 0.0],
        "frame_ms": [15.2, 14.9, 0.4],
        "pressure": [0.5, 0.5, 0.0],
        "contact_w": [1.0, 1.0, 1.0],
        "contact_h": [1.0, 1.0, 1.0],
        "tilt_x": [0.0, 10.0, 0.0],
        "tilt_y": [0.0, -5.0, 0.0],
        "sub": {"index": [1, 1], "x": [0.69, 0.7], "y": [0.4, 0.5], "t_ms": [92.0, 100.0]},
    }


def test_every_integrity_column_of_the_right_length_passes() -> None:
    t = trace(**evidence())
    assert t.points.movement_x == [0.0, 3.0, 0.0]
    assert t.points.sub == SubSamples(index=[1, 1], x=[0.69, 0.7], y=[0.4, 0.5], t_ms=[92.0, 100.0])


@pytest.mark.parametrize("column", ["screen_dx", "movement_y", "contact_w"])
def test_paired_columns_come_together(column: str) -> None:
    fields = evidence()
    del fields[column]
    assert code_of(**fields) == "unpaired_column"


@pytest.mark.parametrize(
    ("column", "bad"),
    [
        ("screen_dx", [1e6, 0.0, 0.0]),
        ("movement_x", [0.0, 20_000.0, 0.0]),
        ("frame_ms", [-1.0, 0.0, 0.0]),
        ("frame_ms", [0.0, 1_000.5, 0.0]),
        ("pressure", [0.0, 1.5, 0.0]),
        ("tilt_x", [0.0, 91.0, 0.0]),
        ("contact_h", [0.0, float("nan"), 0.0]),
    ],
)
def test_integrity_values_out_of_range_are_refused(column: str, bad: list[float]) -> None:
    with pytest.raises(ValidationError, match=column):
        trace(**(evidence() | {column: bad}))


@pytest.mark.parametrize(
    "sub",
    [
        {"index": [1, 1], "x": [0.69], "y": [0.4, 0.5], "t_ms": [92.0, 100.0]},  # lengths differ
        {"index": [2, 1], "x": [0.69, 0.7], "y": [0.4, 0.5], "t_ms": [92.0, 100.0]},  # out of order
        {"index": [3], "x": [0.7], "y": [0.5], "t_ms": [100.0]},  # past the last event
        {"index": [1], "x": [0.7], "y": [0.5], "t_ms": [101.5]},  # after its own event
        {"index": [2], "x": [0.7], "y": [0.5], "t_ms": [50.0]},  # before the previous event
        {"index": [1] * (MAX_SUB_PER_EVENT + 1), "x": [0.7] * 9, "y": [0.5] * 9, "t_ms": [100.0] * 9},
    ],
)
def test_bad_subsamples(sub: dict[str, Any]) -> None:
    with pytest.raises(ValidationError, match="bad_subsamples"):
        trace(sub=sub)


def test_env_report_limits() -> None:
    env = EnvReport(webdriver=False, headless=False, brands=["Chromium", "Not:A-Brand"])
    assert Trace(points=TracePoints(**points()), viewport=VIEWPORT, task=TASK, env=env).env == env
    with pytest.raises(ValidationError, match="brands"):
        EnvReport(brands=["x"] * 11)
    with pytest.raises(ValidationError, match="brands"):
        EnvReport(brands=["x" * 65])
    with pytest.raises(ValidationError, match="webdriver"):
        EnvReport.model_validate({"webdriver": [True]})


def test_a_press_has_one_pointer_type() -> None:
    """Review finding 13: mixed pointer types within a press are refused (``mixed_pointer_types``); types may
    differ between presses and outside them."""
    assert code_of(pointer_type=["mouse", "touch", "mouse"]) == "mixed_pointer_types"
    assert code_of(pointer_type=["touch", "touch", "pen"]) == "mixed_pointer_types"
    check_points(TracePoints(**points(pointer_type=["pen", "pen", "pen"])))
    two = points(
        x=[0.1, 0.2, 0.3, 0.4, 0.5],
        y=[0.1, 0.2, 0.3, 0.4, 0.5],
        t_ms=[0.0, 10.0, 20.0, 30.0, 40.0],
        event=["down", "up", "move", "down", "up"],
        pointer_type=["mouse", "mouse", "touch", "touch", "touch"],
    )
    check_points(TracePoints(**two))


def test_every_trace_code_raised_is_documented_and_every_documented_one_raised() -> None:
    raised = literal_args(PROJECT_ROOT / "src/tcurity", "TraceValidationError", 0)
    assert undocumented(raised, set(TRACE_CODES)) == {}
    assert set(TRACE_CODES) <= set(raised)
