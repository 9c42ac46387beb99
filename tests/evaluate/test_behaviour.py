"""The metrics promotion compares, and the targets report, from an evaluation payload."""

from __future__ import annotations

from tcurity.evaluate.behaviour import gated_metrics, target_report


def test_gated_metrics_and_targets_come_from_the_payload() -> None:
    payload = {
        "human_pass_rate": 0.99,
        "auc": 0.95,
        "bot_block_rate": {"teleport": 1.0, "linear_steps": 0.9, "windmouse": 0.4, "replay": 0.7},
        "family_kind": {
            "teleport": "naive",
            "linear_steps": "naive",
            "windmouse": "humanised",
            "replay": "humanised",
        },
    }
    gated = gated_metrics(payload)
    assert gated == {
        "human_pass_rate": 0.99,
        "auc": 0.95,
        "block_rate_min": 0.4,
        "naive_block_rate_min": 0.9,
        "humanised_block_rate_min": 0.4,
    }
    assert (
        gated_metrics({**payload, "leave_one_family_out": {"replay": 0.1, "windmouse": 0.3}})[
            "lofo_block_rate_min"
        ]
        == 0.1
    )
    assert target_report(payload, {"auc": 0.99, "naive_block_rate_min": 0.9}) == {
        "auc": {"target": 0.99, "measured": 0.95, "met": False},
        "naive_block_rate_min": {"target": 0.9, "measured": 0.9, "met": True},
    }
