"""Registration, metrics on versions and gated promotion, against a real SQLite MLflow registry."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
import pytest
from mlflow.entities.model_registry import ModelVersion, ModelVersionTag
from mlflow.pyfunc import PythonModel
from mlflow.tracking import MlflowClient

from tcurity import registry
from tcurity.bundles import load_bundle
from tcurity.registry import CHALLENGER, CHAMPION, Gate, UntrustedVersionError
from tcurity.sampling import Path2
from tcurity.scoring import BUNDLE_FILE, PYFUNC_BUNDLE_DIR
from tests.serving.conftest import FEATURES, PHASE_A, promote, train_and_register


class _Constant(PythonModel):  # type: ignore[misc]
    """A model that scores 0 (a DataFrame hint, as the project's pyfunc has: MLflow neither infers nor warns)."""

    def predict(
        self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None
    ) -> list[float]:
        return [0.0] * len(model_input)


def _register(name: str, metrics: dict[str, float]) -> str:
    with mlflow.start_run(experiment_id=registry.ensure_experiment("test-exp")):
        info = mlflow.pyfunc.log_model(name="model", python_model=_Constant(), pip_requirements=["mlflow"])
    version = registry.register_challenger(info.model_uri, name)
    registry.set_version_metrics(name, version.version, metrics)
    return str(version.version)


GATES = [Gate("auc", 0.9), Gate("human_pass_rate", 0.95)]


def test_first_passing_challenger_becomes_champion(mlflow_registry: str) -> None:
    v1 = _register("m", {"auc": 0.95, "human_pass_rate": 0.99})
    assert str(registry.version_by_alias("m", CHALLENGER).version) == v1  # type: ignore[union-attr]
    decision = registry.promote_challenger("m", GATES)
    assert decision.promoted
    assert decision.previous_champion is None
    assert str(registry.version_by_alias("m", CHAMPION).version) == v1  # type: ignore[union-attr]


def test_challenger_below_a_gate_is_not_promoted(mlflow_registry: str) -> None:
    _register("m", {"auc": 0.85, "human_pass_rate": 0.99})
    decision = registry.promote_challenger("m", GATES)
    assert not decision.promoted
    assert decision.failures == ["auc: 0.8500 < gate 0.9000"]
    assert registry.version_by_alias("m", CHAMPION) is None


def test_challenger_worse_than_champion_is_not_promoted(mlflow_registry: str) -> None:
    v1 = _register("m", {"auc": 0.97, "human_pass_rate": 0.99})
    registry.promote_challenger("m", GATES)
    _register("m", {"auc": 0.95, "human_pass_rate": 0.995})  # passes the gates, but AUC got worse
    decision = registry.promote_challenger("m", GATES)
    assert not decision.promoted
    assert decision.previous_champion == v1
    assert "auc: 0.9500 worse than champion's 0.9700" in decision.failures
    assert str(registry.version_by_alias("m", CHAMPION).version) == v1  # type: ignore[union-attr]


def test_better_challenger_replaces_champion(mlflow_registry: str) -> None:
    _register("m", {"auc": 0.95, "human_pass_rate": 0.99})
    registry.promote_challenger("m", GATES)
    v2 = _register("m", {"auc": 0.96, "human_pass_rate": 0.99})
    assert registry.promote_challenger("m", GATES).promoted
    assert str(registry.version_by_alias("m", CHAMPION).version) == v2  # type: ignore[union-attr]


def test_missing_metric_blocks_promotion(mlflow_registry: str) -> None:
    _register("m", {"auc": 0.99})
    assert registry.promote_challenger("m", GATES).failures == ["human_pass_rate: missing"]


def test_promoting_without_a_challenger_raises(mlflow_registry: str) -> None:
    with pytest.raises(LookupError):
        registry.promote_challenger("never-registered", GATES)


def test_decide_is_pure_and_explains_every_failure() -> None:
    failures = registry.decide({"auc": 0.5}, {"auc": 0.9}, [Gate("auc", 0.8)], max_drop=0.0)
    assert failures == ["auc: 0.5000 < gate 0.8000", "auc: 0.5000 worse than champion's 0.9000"]


def test_the_artifact_digest_covers_every_file_name_and_content(tmp_path: Path) -> None:
    (tmp_path / "a").write_bytes(b"x")
    (tmp_path / "registered_model_meta").write_text("written by the download, not registered\n")
    inner = hashlib.sha256(b"x").hexdigest()
    assert registry.artifact_digest(tmp_path) == hashlib.sha256(f"a\0{inner}\n".encode()).hexdigest()
    (tmp_path / "a").rename(tmp_path / "b")
    assert registry.artifact_digest(tmp_path) == hashlib.sha256(f"b\0{inner}\n".encode()).hexdigest()


def test_registration_records_the_digest_of_the_stored_files(mlflow_registry: str, tmp_path: Path) -> None:
    v1 = _register("m", {"auc": 0.95})
    downloaded = registry.download_version("m", v1, tmp_path / "download")
    tags = MlflowClient().get_model_version("m", v1).tags
    assert tags[registry.DIGEST_TAG] == registry.artifact_digest(downloaded)
    assert registry.PROMOTION_TAG not in tags


def test_a_promoted_challenger_carries_a_passed_promotion_record(mlflow_registry: str) -> None:
    v1 = _register("m", {"auc": 0.95, "human_pass_rate": 0.99})
    registry.promote_challenger("m", GATES)
    version = MlflowClient().get_model_version("m", v1)
    assert (version.tags[registry.PROMOTION_TAG], version.tags[registry.PROMOTION_BY_TAG]) == (
        "passed",
        "pipeline",
    )
    assert registry.check_servable(version) == version.tags[registry.DIGEST_TAG]


def _version(tags: dict[str, str]) -> ModelVersion:
    tag_list = [ModelVersionTag(key, value) for key, value in tags.items()]
    return ModelVersion(name="m", version="3", creation_timestamp=0, tags=tag_list)


@pytest.mark.parametrize(
    ("tags", "allow_forced", "reason"),
    [
        ({registry.DIGEST_TAG: "d"}, False, "unpromoted"),
        ({registry.PROMOTION_TAG: "rolled_back", registry.DIGEST_TAG: "d"}, False, "unpromoted"),
        ({registry.PROMOTION_TAG: "forced", registry.DIGEST_TAG: "d"}, False, "forced"),
        ({registry.PROMOTION_TAG: "passed"}, False, "no_digest"),
    ],
)
def test_servable_needs_a_promotion_record_and_a_digest(
    tags: dict[str, str], allow_forced: bool, reason: str
) -> None:
    with pytest.raises(registry.UntrustedVersionError) as refused:
        registry.check_servable(_version(tags), allow_forced)
    assert refused.value.reason == reason


def test_a_forced_version_is_servable_only_when_allowed() -> None:
    forced = _version({registry.PROMOTION_TAG: "forced", registry.DIGEST_TAG: "d"})
    assert registry.check_servable(forced, allow_forced=True) == "d"


def _stored_bundle_json(name: str, version: str) -> Path:
    """The registered version's ``bundle.json`` in the temporary registry's artefact store."""
    model_id = str(MlflowClient().get_model_version(name, version).source).removeprefix("models:/")
    location = Path(MlflowClient().get_logged_model(model_id).artifact_location.removeprefix("file://"))
    return location / PYFUNC_BUNDLE_DIR / BUNDLE_FILE


def test_a_challenger_loads_digest_checked_before_promotion_and_as_served_only_once_promoted(
    mlflow_registry: str, human_paths: list[Path2]
) -> None:
    version = train_and_register(human_paths, seed=1)
    bundle = load_bundle(PHASE_A, version, promoted=False)  # evaluation, before the gates
    assert bundle.feature_names == FEATURES
    assert (bundle.meta["model_name"], bundle.meta["version"]) == (PHASE_A, version)
    with pytest.raises(UntrustedVersionError) as refused:
        load_bundle(PHASE_A, version, promoted=True)
    assert refused.value.reason == "unpromoted"
    promote(version)
    assert load_bundle(PHASE_A, version, promoted=True).threshold == bundle.threshold


def test_a_bundle_whose_files_changed_is_refused_whoever_loads_it(
    mlflow_registry: str, human_paths: list[Path2]
) -> None:
    version = train_and_register(human_paths, seed=1)
    promote(version)
    stored = _stored_bundle_json(PHASE_A, version)
    payload = json.loads(stored.read_text())
    payload["threshold"] = -1e9  # an always-pass bundle
    stored.write_text(json.dumps(payload))
    for promoted in (False, True):
        with pytest.raises(UntrustedVersionError) as refused:
            load_bundle(PHASE_A, version, promoted=promoted)
        assert refused.value.reason == "digest_mismatch"
    with pytest.raises(UntrustedVersionError) as missing:
        load_bundle(PHASE_A, "99", promoted=False)
    assert missing.value.reason == "deleted"
