"""The operator's commands (``python -m tcurity.cli models …``) against a real SQLite MLflow registry."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
import pytest
from mlflow.pyfunc import PythonModel
from mlflow.tracking import MlflowClient

from tcurity import model_ops, registry
from tcurity.config import PROJECT_ROOT, params
from tcurity.model_ops import OperatorError

EFFNET = model_ops.find_role("effnet").name
PASSING = {"val_accuracy": 0.95, "bank_precision": 0.99}
FAILING = {"val_accuracy": 0.50, "bank_precision": 0.99}


class _Constant(PythonModel):  # type: ignore[misc]
    """A model that scores 0 (a DataFrame hint, as the project's pyfunc has: MLflow neither infers nor warns)."""

    def predict(
        self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None
    ) -> list[float]:
        return [0.0] * len(model_input)


def _register(name: str, metrics: dict[str, float], profile: str = "cpu") -> str:
    with mlflow.start_run(experiment_id=registry.ensure_experiment("ops-test")):
        info = mlflow.pyfunc.log_model(name="model", python_model=_Constant(), pip_requirements=["mlflow"])
    version = registry.register_challenger(info.model_uri, name, tags={"profile": profile})
    registry.set_version_metrics(name, version.version, metrics)
    return str(version.version)


def _champion(name: str) -> str | None:
    version = registry.version_by_alias(name, registry.CHAMPION)
    return str(version.version) if version else None


def _lines(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_list_shows_versions_aliases_and_gate_results(mlflow_registry: str) -> None:
    v1 = _register(EFFNET, PASSING)
    assert registry.promote_challenger(EFFNET, [registry.Gate("val_accuracy", 0.9)]).promoted
    v2 = _register(EFFNET, FAILING)
    effnet = next(m for m in model_ops.list_models() if m.role == "effnet")
    assert (effnet.champion, effnet.challenger) == (v1, v2)
    newest, oldest = effnet.versions
    assert (newest.version, newest.aliases, oldest.aliases) == (v2, ["challenger"], ["champion"])
    gate = params().promote_effnet.min_val_accuracy["cpu"]
    assert newest.gate_failures == [f"val_accuracy: 0.5000 < gate {gate:.4f}"]
    assert oldest.passes


def test_promote_on_purpose_is_recorded_on_the_version_and_in_the_log(
    mlflow_registry: str, tmp_path: Path
) -> None:
    v1 = _register(EFFNET, PASSING)
    log = tmp_path / "operator.jsonl"
    record = model_ops.promote("effnet", v1, "first champion, checked by hand", by="ops-a", log_path=log)
    assert _champion(EFFNET) == v1
    tags = MlflowClient().get_model_version(EFFNET, v1).tags
    assert (tags["operator.action"], tags["operator.by"], tags["operator.reason"]) == (
        "promote",
        "ops-a",
        "first champion, checked by hand",
    )
    assert tags["operator.at"] == record.at and tags["operator.forced"] == "false"
    (line,) = _lines(log)
    assert line | {"at": None} == {
        "action": "promote",
        "model": EFFNET,
        "version": v1,
        "previous_champion": None,
        "by": "ops-a",
        "at": None,
        "reason": "first champion, checked by hand",
        "forced": False,
        "gate_failures": [],
    }


def test_promoting_a_version_that_fails_its_gates_needs_force(mlflow_registry: str, tmp_path: Path) -> None:
    v1 = _register(EFFNET, FAILING)
    log = tmp_path / "operator.jsonl"
    with pytest.raises(OperatorError, match="fails its gates"):
        model_ops.promote("effnet", v1, "try", log_path=log)
    assert _champion(EFFNET) is None and not log.exists()
    record = model_ops.promote(EFFNET, v1, "demo machine, accepted on purpose", force=True, log_path=log)
    assert record.forced and _champion(EFFNET) == v1
    tags = MlflowClient().get_model_version(EFFNET, v1).tags
    assert (tags["operator.forced"], tags[registry.PROMOTION_TAG]) == ("true", "forced")
    assert tags[registry.PROMOTION_BY_TAG] == f"operator:{record.by}"


def test_an_operator_action_needs_a_reason_and_a_real_version(mlflow_registry: str, tmp_path: Path) -> None:
    v1 = _register(EFFNET, PASSING)
    with pytest.raises(OperatorError, match="say why"):
        model_ops.promote("effnet", v1, "  ", log_path=tmp_path / "log")
    with pytest.raises(OperatorError, match="no version 99"):
        model_ops.promote("effnet", "99", "typo", log_path=tmp_path / "log")
    with pytest.raises(OperatorError, match="unknown model"):
        model_ops.promote("nope", v1, "typo", log_path=tmp_path / "log")


def test_rollback_goes_to_the_newest_earlier_passing_version(mlflow_registry: str, tmp_path: Path) -> None:
    v1 = _register(EFFNET, PASSING)
    _register(EFFNET, FAILING)
    v3 = _register(EFFNET, PASSING)
    log = tmp_path / "operator.jsonl"
    model_ops.promote("effnet", v3, "release", by="ops-a", log_path=log)
    record = model_ops.rollback("effnet", "v3 mislabels buses", by="ops-b", log_path=log)
    assert (record.version, record.previous_champion, _champion(EFFNET)) == (v1, v3, v1)
    left = MlflowClient().get_model_version(EFFNET, v3).tags
    assert (left["operator.rolled_back_by"], left["operator.rolled_back_reason"]) == (
        "ops-b",
        "v3 mislabels buses",
    )
    assert left[registry.PROMOTION_TAG] == "rolled_back", "serving will not load the version left behind"
    assert MlflowClient().get_model_version(EFFNET, v1).tags[registry.PROMOTION_TAG] == "passed"
    assert [line["action"] for line in _lines(log)] == ["promote", "rollback"]


def test_rollback_never_goes_back_to_a_version_rolled_back_from(mlflow_registry: str, tmp_path: Path) -> None:
    v1, v2, v3 = (_register(EFFNET, PASSING) for _ in range(3))
    log = tmp_path / "operator.jsonl"
    model_ops.promote("effnet", v2, "release", log_path=log)
    model_ops.rollback("effnet", "v2 mislabels buses", log_path=log)
    model_ops.promote("effnet", v3, "release", log_path=log)
    assert model_ops.rollback("effnet", "v3 is slow", log_path=log).version == v1, "v2 was taken down"
    model_ops.promote("effnet", v3, "fixed", log_path=log)
    with pytest.raises(OperatorError, match="was rolled back from \\(v2 mislabels buses\\)"):
        model_ops.rollback("effnet", "again", to=v2, log_path=log)
    assert _champion(EFFNET) == v3
    assert (
        model_ops.rollback("effnet", "v2 was fine after all", to=v2, force=True, log_path=log).version == v2
    )
    assert MlflowClient().get_model_version(EFFNET, v2).tags[registry.PROMOTION_TAG] == "passed"


def test_a_forced_rollback_is_refused_when_serving_would_refuse_its_target(
    mlflow_registry: str, tmp_path: Path
) -> None:
    v1 = _register(EFFNET, FAILING)
    v2 = _register(EFFNET, PASSING)
    log = tmp_path / "operator.jsonl"
    model_ops.promote("effnet", v2, "release", log_path=log)
    with pytest.raises(OperatorError, match="SERVE_FORCED_MODELS is false"):
        model_ops.rollback("effnet", "v2 is broken", to=v1, force=True, log_path=log, serve_forced=False)
    assert _champion(EFFNET) == v2
    assert MlflowClient().get_model_version(EFFNET, v2).tags[registry.PROMOTION_TAG] == "passed"
    record = model_ops.rollback("effnet", "v2 is broken", to=v1, force=True, log_path=log, serve_forced=True)
    assert (record.forced, _champion(EFFNET)) == (True, v1)
    assert MlflowClient().get_model_version(EFFNET, v2).tags[registry.PROMOTION_TAG] == "rolled_back"


def test_serving_serves_forced_reads_the_ai_servers_setting() -> None:
    assert [model_ops.serving_serves_forced(env) for env in ({}, {"SERVE_FORCED_MODELS": "False"})] == [
        False,
        False,
    ]
    assert model_ops.serving_serves_forced({"SERVE_FORCED_MODELS": " TRUE "}) is True


def test_rollback_without_a_champion_or_an_earlier_version_is_refused(
    mlflow_registry: str, tmp_path: Path
) -> None:
    v1 = _register(EFFNET, PASSING)
    with pytest.raises(OperatorError, match="no champion"):
        model_ops.rollback("effnet", "why", log_path=tmp_path / "log")
    model_ops.promote("effnet", v1, "release", log_path=tmp_path / "log")
    with pytest.raises(OperatorError, match="no version before"):
        model_ops.rollback("effnet", "why", log_path=tmp_path / "log")


def test_missing_champions_say_what_failed_and_the_fix(mlflow_registry: str, tmp_path: Path) -> None:
    missing = {m.role: m for m in model_ops.missing_champions()}
    assert set(missing) == {"phase_a", "phase_b", "effnet"}
    assert (missing["effnet"].why, missing["effnet"].fix) == (
        "never trained (no registered version)",
        "make train",
    )
    v1 = _register(EFFNET, PASSING)
    _register(EFFNET, FAILING)
    effnet = {m.role: m for m in model_ops.missing_champions()}["effnet"]
    assert effnet.fix == f'python -m tcurity.cli models promote effnet {v1} --reason "..."'


def test_the_cli_lists_and_refuses_with_status_2(mlflow_registry: str) -> None:
    v1 = _register(EFFNET, FAILING)
    run = [sys.executable, "-m", "tcurity.cli"]
    listed = subprocess.run(
        [*run, "models", "list", "--json"], capture_output=True, text=True, cwd=PROJECT_ROOT, check=True
    )
    effnet = next(m for m in json.loads(listed.stdout) if m["role"] == "effnet")
    assert [v["version"] for v in effnet["versions"]] == [v1]
    refused = subprocess.run(
        [*run, "models", "promote", "effnet", v1, "--reason", "x"],
        check=False,
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
    )
    assert refused.returncode == 2 and "fails its gates" in refused.stderr
    check = subprocess.run([*run, "check"], check=False, capture_output=True, text=True, cwd=PROJECT_ROOT)
    assert (
        check.returncode == 1
        and "effnet (" in check.stdout
        and "fix: dvc repro --force train_effnet" in check.stdout
    )


def test_a_promotion_on_purpose_records_a_passed_promotion(mlflow_registry: str, tmp_path: Path) -> None:
    v1 = _register(EFFNET, PASSING)
    model_ops.promote("effnet", v1, "first champion", by="ops-a", log_path=tmp_path / "log")
    version = MlflowClient().get_model_version(EFFNET, v1)
    assert (version.tags[registry.PROMOTION_TAG], version.tags[registry.PROMOTION_BY_TAG]) == (
        "passed",
        "operator:ops-a",
    )
    assert registry.check_servable(version) == version.tags[registry.DIGEST_TAG]


def test_promotion_backfills_the_digest_of_a_passing_version_from_before_digests(
    mlflow_registry: str, tmp_path: Path
) -> None:
    v1, v2 = _register(EFFNET, PASSING), _register(EFFNET, FAILING)
    digest = MlflowClient().get_model_version(EFFNET, v1).tags[registry.DIGEST_TAG]
    for version in (v1, v2):
        MlflowClient().delete_model_version_tag(EFFNET, version, registry.DIGEST_TAG)
    model_ops.promote("effnet", v1, "re-promoted after the upgrade", log_path=tmp_path / "log")
    assert MlflowClient().get_model_version(EFFNET, v1).tags[registry.DIGEST_TAG] == digest
    with pytest.raises(OperatorError, match="no artifact digest and fails its gates"):
        model_ops.promote("effnet", v2, "forced", force=True, log_path=tmp_path / "log")
    assert _champion(EFFNET) == v1


def test_a_version_whose_files_changed_is_not_promoted(mlflow_registry: str, tmp_path: Path) -> None:
    v1 = _register(EFFNET, PASSING)
    source = str(MlflowClient().get_model_version(EFFNET, v1).source).removeprefix("models:/")
    stored = Path(MlflowClient().get_logged_model(source).artifact_location.removeprefix("file://"))
    (stored / "MLmodel").write_text("changed after registration\n")
    with pytest.raises(OperatorError, match=r"not the \w+ recorded at registration"):
        model_ops.promote("effnet", v1, "release", log_path=tmp_path / "log")
    assert _champion(EFFNET) is None


def test_a_champion_from_before_promotion_records_is_reported_with_the_fix(
    mlflow_registry: str, tmp_path: Path
) -> None:
    v1 = _register(EFFNET, PASSING)
    MlflowClient().set_registered_model_alias(EFFNET, registry.CHAMPION, v1)  # as an older release left it
    effnet = {m.role: m for m in model_ops.missing_champions()}["effnet"]
    assert "has no passed promotion record" in effnet.why
    assert effnet.fix == f'python -m tcurity.cli models promote effnet {v1} --reason "..."'
    model_ops.promote("effnet", v1, "re-promoted after the upgrade", log_path=tmp_path / "log")
    assert "effnet" not in {m.role for m in model_ops.missing_champions()}
