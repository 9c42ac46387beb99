"""The headline files DVC shows: the right numbers picked from a full metrics payload."""

from __future__ import annotations

import json
from pathlib import Path

from tcurity.evaluate.headline import attacker_headline, behaviour_headline, image_headline, write_headline


def _behaviour_payload() -> dict[str, object]:
    return {
        "model": {"name": "tcurity-phase-a-iforest", "version": "5"},
        "auc": 0.97,
        "human_pass_rate": 0.98,
        "human_pass_rate_by_population": {"sapimouse": 0.98, "balabit": 0.96},
        "bot_block_rate": {"linear": 1.0, "replay": 0.125, "windmouse": 0.5},
        "family_kind": {"linear": "naive", "replay": "humanised", "windmouse": "humanised"},
        "bot_recall_at_1pct_frr": 0.78,
        "human_sampling": {"linear": 0.9, "replay": 0.01, "windmouse": 0.2},
        "leave_one_family_out": {"replay": 0.0075, "windmouse": 0.2},
        "targets": {
            "auc": {"met": False},
            "human_pass_rate": {"met": False},
            "naive_block_rate_min": {"met": True},
        },
        "score_ms": {"p50": 1.9, "p99": 2.75},
        "n_bot": {"linear": 400, "replay": 400, "windmouse": 400},
    }


def test_a_behaviour_headline_picks_the_gates_the_weakest_family_and_the_populations() -> None:
    assert behaviour_headline(_behaviour_payload()) == {
        "model_version": 5,
        "auc": 0.97,
        "human_pass_rate": 0.98,
        "block_rate_min": 0.125,
        "naive_block_rate_min": 1.0,
        "humanised_block_rate_min": 0.125,
        "lofo_block_rate_min": 0.0075,
        "weakest_family": "replay",
        "human_pass_rate_balabit": 0.96,
        "human_pass_rate_sapimouse": 0.98,
        "bot_recall_at_1pct_frr": 0.78,
        "human_sampling_block_rate_min": 0.01,
        "targets_met": 1,
        "targets": 3,
        "score_ms_p99": 2.75,
    }


def test_a_behaviour_headline_leaves_out_what_the_payload_lacks() -> None:
    payload = _behaviour_payload()
    for key in ("leave_one_family_out", "score_ms", "human_sampling"):
        del payload[key]
    headline = behaviour_headline(payload)
    assert not {"lofo_block_rate_min", "score_ms_p99", "human_sampling_block_rate_min"} & set(headline)
    assert len(headline) == 12


def test_an_image_headline_names_the_worst_recalled_class_and_the_bank() -> None:
    payload = {
        "model": {"name": "tcurity-phase-b-effnet", "version": "2"},
        "val_accuracy": 0.8555,
        "test_accuracy": 0.8518,
        "per_class": {
            "bus": {"precision": 0.85, "recall": 0.92, "support": 90},
            "other": {"precision": 0.66, "recall": 0.6556, "support": 90},
        },
        "bank_precision": 0.9696,
        "bank_precision_detail": {"precision": 0.9696, "coverage": 0.5567, "admitted": 461},
        "bank_size": {"bus": 498, "other": 74},
    }
    assert image_headline(payload) == {
        "model_version": 2,
        "val_accuracy": 0.8555,
        "test_accuracy": 0.8518,
        "worst_class": "other",
        "worst_class_recall": 0.6556,
        "bank_precision": 0.9696,
        "bank_coverage": 0.5567,
        "bank_tiles": 572,
    }


def test_an_attacker_headline_keeps_the_solve_rates_and_the_throughput() -> None:
    payload = {
        "model": {"name": "tcurity-phase-b-effnet", "version": "2"},
        "attacker_solve_rate": 0.4233,
        "attacker": {"problems": 300, "solve_rate_unseen_tiles": 0.3767, "random_guess_solve_rate": 0.0041},
        "problems_per_s": {"cpu": 18.42, "cuda": None},
    }
    assert attacker_headline(payload) == {
        "model_version": 2,
        "attacker_solve_rate": 0.4233,
        "attacker_solve_rate_unseen_tiles": 0.3767,
        "random_guess_solve_rate": 0.0041,
        "problems_per_s_cpu": 18.42,
    }


def test_the_committed_headlines_are_the_full_files_own(tmp_path: Path) -> None:
    """The headline files in reports/metrics/headline are what the functions make of the full files beside them."""
    from tcurity.config import load_params, resolve

    p = load_params()
    for full, headline_path, pick in (
        (p.evaluate_phase_a.metrics_path, p.evaluate_phase_a.headline_path, behaviour_headline),
        (p.evaluate_phase_b.metrics_path, p.evaluate_phase_b.headline_path, behaviour_headline),
        (p.evaluate_images.metrics_path, p.evaluate_images.headline_path, image_headline),
        (
            p.evaluate_images.attacker_metrics_path,
            p.evaluate_images.attacker_headline_path,
            attacker_headline,
        ),
    ):
        write_headline(tmp_path / "h.json", pick(json.loads(resolve(full).read_text())))
        assert (tmp_path / "h.json").read_text() == resolve(headline_path).read_text()
