"""Registration, metrics on versions and gated promotion, against a real SQLite MLflow registry."""

from __future__ import annotations

import mlflow
import pytest
from mlflow.pyfunc import PythonModel

from tcurity import registry
from tcurity.registry import CHALLENGER, CHAMPION, Gate


class _Constant(PythonModel):  # type: ignore[misc]
    def predict(self, context, model_input, params=None):  # type: ignore[no-untyped-def]
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
