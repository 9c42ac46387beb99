"""The harness's counting: rates from outcomes (probes count toward Phase B only), targets, the answer book."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import orjson
import pytest

from redteam.browser import Outcome, summarise_signals, trace_signals
from redteam.oracle import AnswerBook
from redteam.osinput import at_polling_rate
from redteam.report import by_layer, summarise, targets
from tcurity.traces import Event, TraceArrays


def test_probes_count_toward_phase_b_only() -> None:
    outcomes = [
        Outcome(phase_a=False),
        Outcome(phase_a=True, phase_b=True, booked=True),
        Outcome(phase_a=True, phase_b=False),
        Outcome(phase_a=False),
        Outcome(phase_a=True, phase_b=True, probe=True),
    ]
    row = summarise(outcomes, Counter({"phase_a:speed_cv_low": 2}))
    assert row["attempts"] == 4
    assert row["phase_a_pass_rate"] == 0.5
    assert (row["phase_b_attempts"], row["phase_b_probes"], row["phase_b_pass_rate"]) == (3, 1, 0.6667)
    assert row["full_pass_rate"] == 0.25
    assert row["bookings"] == 1
    assert row["block_reasons"] == {"phase_a:speed_cv_low": 2}


def test_a_relayed_use_counts_only_when_accepted() -> None:
    row = summarise([Outcome(True, True, full=False), Outcome(True, True, booked=True, full=True)], Counter())
    assert row["full_pass_rate"] == 0.5


def _summary(attackers: dict[str, float], humans: float, attempts: int = 10) -> dict:
    rows = {name: {"attempts": attempts, "full_pass_rate": rate} for name, rate in attackers.items()}
    return {"attackers": rows, "humans": {"attempts": attempts, "full_pass_rate": humans}}


def test_targets() -> None:
    assert targets(_summary({"playwright_default": 0.0, "solver_windmouse": 0.01}, 0.99))["met"]
    over = targets(_summary({"solver_replay": 0.3, "replay": 0.01}, 0.99))
    assert over["attackers_over_target"] == {"solver_replay": 0.3, "replay": 0.01}  # replay: 0 % exactly
    assert not over["met"]
    assert not targets(_summary({"relay": 0.0}, 0.97))["humans_met"]
    assert targets(_summary({"relay": 0.0}, 1.0, attempts=0))["attackers_not_measured"] == ["relay"]


def test_the_answer_book_finds_answers_by_problem_and_by_tile() -> None:
    book = AnswerBook(keep=2)
    for i in range(3):
        body = {
            "problems": [
                {
                    "client": {"tiles": [{"tile_id": f"t{i}{k}"} for k in range(9)]},
                    "answer": {"problem_id": f"p{i}", "answer": [f"t{i}3", f"t{i}1"]},
                }
            ]
        }
        book.record(orjson.dumps(body))
    assert book.get("p0") is None  # the oldest went
    assert book.get("p2") == ["t23", "t21"]
    assert book.by_tile("t25") == ["t23", "t21"]
    assert book.by_tile("t05") is None


def test_a_rerun_merges_into_the_summary_of_the_same_models() -> None:
    from redteam.report import merge

    base = {
        "attackers": {
            "a": {"attempts": 6, "full_pass_rate": 0.0},
            "replay": {"attempts": 0, "full_pass_rate": 0.0},
        },
        "humans": {"attempts": 15, "full_pass_rate": 1.0},
        "models": {"m": "9"},
        "run": {"started": "t0"},
    }
    rerun = {
        "attackers": {"replay": {"attempts": 6, "full_pass_rate": 0.0}},
        "humans": {"attempts": 0, "full_pass_rate": 0.0},
        "models": {"m": "9"},
        "run": {"started": "t1"},
    }
    merged = merge(rerun, base)
    assert merged["attackers"]["replay"]["attempts"] == 6 and merged["attackers"]["a"]["attempts"] == 6
    assert merged["humans"]["attempts"] == 15  # a re-run without people keeps theirs
    assert merged["run"]["reruns"] == [{"rows": ["replay"], "started": "t1"}]
    assert merged["targets"]["met"]
    with pytest.raises(ValueError, match="other models"):
        merge({**rerun, "models": {"m": "10"}}, base)


def test_block_reasons_are_summed_by_layer() -> None:
    reasons = Counter(
        {
            "phase_a:injected_input": 2,
            "phase_b:automation_env": 1,
            "phase_a:speed_cv_low": 3,
            "phase_a:replayed_trace": 4,
            "phase_b:drag_end_speed_frac_min_high": 5,
            "siteverify:timeout-or-duplicate": 6,
        }
    )
    assert by_layer(reasons) == {
        "integrity": 3,
        "phase_a": 3,
        "phase_b": 5,
        "replay": 4,
        "siteverify": 6,
    }
    assert summarise([], reasons)["block_layers"]["integrity"] == 3


def test_the_signals_row_counts_the_integrity_layers_verdicts() -> None:
    fixtures = Path(__file__).parents[1] / "fixtures/integrity"
    sent = [orjson.loads((fixtures / f"{name}.json").read_bytes()) for name in ("cdp_headed", "os_xdotool")]
    broken = sent[1] | {"points": {"x": [0.1, 0.2], "y": [0.5, 0.5], "t_ms": [0, 9], "event": ["down", "up"]}}
    signals = [trace_signals(trace) for trace in [*sent, broken]]
    assert [s["integrity"] for s in signals[:2]] == [["injected_input", "automation_env"], []]
    row = summarise_signals(signals[:2])
    assert row["integrity_flagged"] == 0.5
    assert row["integrity_reasons"] == {"automation_env": 1, "injected_input": 1}
    assert signals[2]["integrity"] is None


def test_a_recording_is_played_at_a_mouses_polling_rate() -> None:
    # Two moves 20 ms apart gain one at 8 and one at 16 ms, on the straight line; the press and release stay.
    arrays = TraceArrays(
        np.array([0.0, 0.2, 0.6]),
        np.array([0.5, 0.5, 0.5]),
        np.array([0.0, 20.0, 40.0]),
        np.array([Event.DOWN, Event.MOVE, Event.UP], dtype=np.int8),
    )
    dense = at_polling_rate(arrays, 8.0)
    assert dense.t_ms.tolist() == [0.0, 8.0, 16.0, 20.0, 28.0, 36.0, 40.0]
    assert np.allclose(dense.x, [0.0, 0.08, 0.16, 0.2, 0.36, 0.52, 0.6])
    assert dense.event.tolist() == [
        Event.DOWN,
        Event.MOVE,
        Event.MOVE,
        Event.MOVE,
        Event.MOVE,
        Event.MOVE,
        Event.UP,
    ]
