"""``make up``'s first run trains every model serving needs, and nothing that only reports (scripts/up.sh)."""

from __future__ import annotations

import re
import subprocess

import yaml

from tcurity import model_ops
from tcurity.config import PROJECT_ROOT

UP = PROJECT_ROOT / "scripts" / "up.sh"


def _stages() -> dict[str, dict[str, object]]:
    stages: dict[str, dict[str, object]] = yaml.safe_load((PROJECT_ROOT / "dvc.yaml").read_text())["stages"]
    return stages


def _paths(entries: object) -> list[str]:
    return [next(iter(e)) if isinstance(e, dict) else str(e) for e in (entries or [])]  # type: ignore[attr-defined]


def _outputs(stage: dict[str, object]) -> list[str]:
    return [p for key in ("outs", "metrics", "plots") for p in _paths(stage.get(key))]


def _upstream(targets: list[str]) -> set[str]:
    """Every stage ``dvc repro TARGETS`` runs: the targets and, transitively, whatever makes their deps."""
    stages = _stages()
    seen: set[str] = set()
    todo = list(targets)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        for dep in _paths(stages[name].get("deps")):
            todo += [
                other
                for other, stage in stages.items()
                if any(dep == out or dep.startswith(out + "/") for out in _outputs(stage))
            ]
    return seen


def _first_run_targets() -> list[str]:
    match = re.search(r"^FIRST_RUN_TARGETS=\(([^)]*)\)", UP.read_text(), re.MULTILINE)
    assert match, "scripts/up.sh names its first-run targets in FIRST_RUN_TARGETS=(...)"
    return match.group(1).split()


def test_the_first_run_trains_and_promotes_every_served_model() -> None:
    ran = _upstream(_first_run_targets())
    for role in model_ops.roles():
        assert role.train_stage in ran, role
        assert f"promote_{role.role}" in ran, role
    assert {"evaluate_phase_a", "evaluate_phase_b", "evaluate_images", "curate_bank"} <= ran


def test_the_first_run_leaves_the_reports_to_make_train() -> None:
    assert not _upstream(_first_run_targets()) & {
        "evaluate_attacker",
        "explore_phase_a",
        "evaluate_phase_b_unseen",
    }


def test_up_sh_parses() -> None:
    subprocess.run(["bash", "-n", str(UP)], check=True)
