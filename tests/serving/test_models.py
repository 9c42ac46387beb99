"""Which champion versions the AI server loads (security review finding 7), against a real registry.

A version is served only with a passed promotion record and artefacts that still hash to the digest recorded at
registration; a behaviour bundle is read from its json and npz, never from the pyfunc's pickle.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
from fastapi.testclient import TestClient
from mlflow.tracking import MlflowClient

from serving.app import create_app
from tcurity import registry
from tcurity.sampling import Path2
from tcurity.scoring import ARRAYS_FILE, BUNDLE_FILE, PYFUNC_BUNDLE_DIR, BundlePyfunc, ModelBundle
from tcurity.train.behaviour import fit_isolation_forest
from tests.serving.conftest import AUTH, FEATURES, PHASE_A, promote, settings, train_and_register
from tests.serving.test_phase_a_api import URL, teleport_body


def _stored_dir(version: str) -> Path:
    """The folder of the registered version's files in the temporary registry's artefact store."""
    model_id = str(MlflowClient().get_model_version(PHASE_A, version).source).removeprefix("models:/")
    location = MlflowClient().get_logged_model(model_id).artifact_location
    return Path(location.removeprefix("file://"))


def _alias_without_promotion(version: str) -> None:
    """What an insider with registry access does: move ``champion`` straight to a version."""
    MlflowClient().set_registered_model_alias(PHASE_A, registry.CHAMPION, version)


def _phase_a_version(client: TestClient) -> str | None:
    model = client.get("/version", headers=AUTH).json()["models"]["phase_a"]
    return None if model is None else str(model["version"])


def _refusals(client: TestClient, reason: str) -> float:
    for line in client.get("/metrics", headers=AUTH).text.splitlines():
        if line.startswith("ai_model_refusals_total{") and f'reason="{reason}"' in line:
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_a_champion_without_a_promotion_record_is_not_served(
    mlflow_registry: str, human_paths: list[Path2]
) -> None:
    _alias_without_promotion(train_and_register(human_paths, seed=1))
    with TestClient(create_app(settings())) as client:
        ready = client.get("/ready")
        assert ready.status_code == 503
        assert "phase_a" in ready.json()["missing"]
        error = ready.json()["errors"]["phase_a"]
        assert "no passed promotion record" in error
        assert "python -m tcurity.cli models promote" in error
        assert (
            client.post(URL, json=teleport_body(), headers=AUTH).json()["error"]["code"]
            == "model_unavailable"
        )
        assert _refusals(client, "unpromoted") == 1.0


def test_moving_champion_to_an_unpromoted_version_keeps_the_promoted_one(
    client: TestClient, champion: str, human_paths: list[Path2]
) -> None:
    unpromoted = train_and_register(human_paths, seed=2)
    _alias_without_promotion(unpromoted)
    assert client.post("/v1/admin/reload", headers=AUTH).json()["changed"] == []
    assert _phase_a_version(client) == champion
    assert client.post(URL, json=teleport_body(), headers=AUTH).status_code == 200
    ready = client.get("/ready").json()
    assert "phase_a" not in ready["missing"]
    assert "refused" in ready["errors"]["phase_a"]
    client.post("/v1/admin/reload", headers=AUTH)  # the same refusal is not counted again
    assert _refusals(client, "unpromoted") == 1.0


def test_a_tampered_artifact_is_refused_and_the_old_model_keeps_serving(
    client: TestClient, champion: str, human_paths: list[Path2]
) -> None:
    tampered = train_and_register(human_paths, seed=2)
    bundle_json = _stored_dir(tampered) / PYFUNC_BUNDLE_DIR / BUNDLE_FILE
    payload = json.loads(bundle_json.read_text())
    payload["threshold"] = -1e9  # an always-pass bundle
    bundle_json.write_text(json.dumps(payload))
    promote(tampered)
    assert client.post("/v1/admin/reload", headers=AUTH).json()["changed"] == []
    assert _phase_a_version(client) == champion
    assert "not the" in client.get("/ready").json()["errors"]["phase_a"]
    scored = client.post(URL, json=teleport_body(), headers=AUTH).json()
    assert scored["passed"] is False
    assert _refusals(client, "digest_mismatch") == 1.0


def test_a_tampered_first_champion_means_not_ready(mlflow_registry: str, human_paths: list[Path2]) -> None:
    version = train_and_register(human_paths, seed=1)
    (_stored_dir(version) / "MLmodel").write_text("tampered\n")
    promote(version)
    with TestClient(create_app(settings())) as client:
        assert "phase_a" in client.get("/ready").json()["missing"]
        assert _refusals(client, "digest_mismatch") == 1.0


def test_a_forced_version_is_served_only_when_allowed(mlflow_registry: str, human_paths: list[Path2]) -> None:
    version = train_and_register(human_paths, seed=1)
    registry.record_promotion(PHASE_A, version, registry.FORCED, "operator:ops-a")
    _alias_without_promotion(version)
    with TestClient(create_app(settings())) as client:
        assert "SERVE_FORCED_MODELS=true" in client.get("/ready").json()["errors"]["phase_a"]
        assert _refusals(client, "forced") == 1.0
    with TestClient(create_app(settings(serve_forced_models=True))) as client:
        assert _phase_a_version(client) == version


def test_rolling_back_to_a_refused_version_stops_serving_the_one_rolled_back_from(
    client: TestClient, champion: str, human_paths: list[Path2]
) -> None:
    """What ``models rollback --force`` to a forced version leaves, with ``SERVE_FORCED_MODELS=false``."""
    forced = train_and_register(human_paths, seed=2)
    registry.record_promotion(PHASE_A, forced, registry.FORCED, "operator:ops-a")
    _alias_without_promotion(forced)
    MlflowClient().set_model_version_tag(PHASE_A, champion, registry.PROMOTION_TAG, registry.ROLLED_BACK)
    assert client.post("/v1/admin/reload", headers=AUTH).json()["changed"] == ["phase_a"]
    assert _phase_a_version(client) is None, "the version rolled back from must not keep scoring"
    ready = client.get("/ready")
    assert ready.status_code == 503
    assert "phase_a" in ready.json()["missing"]
    assert "SERVE_FORCED_MODELS=true" in ready.json()["errors"]["phase_a"]
    assert client.post(URL, json=teleport_body(), headers=AUTH).json()["error"]["code"] == "model_unavailable"
    client.post("/v1/admin/reload", headers=AUTH)  # neither refusal is counted again
    assert (_refusals(client, "unpromoted"), _refusals(client, "forced")) == (1.0, 1.0)


def test_a_served_version_whose_promotion_is_withdrawn_is_dropped_until_promoted_again(
    client: TestClient, champion: str
) -> None:
    MlflowClient().set_model_version_tag(PHASE_A, champion, registry.PROMOTION_TAG, registry.ROLLED_BACK)
    assert client.post("/v1/admin/reload", headers=AUTH).json()["changed"] == ["phase_a"]
    assert _phase_a_version(client) is None
    assert "no passed promotion record" in client.get("/ready").json()["errors"]["phase_a"]
    client.post("/v1/admin/reload", headers=AUTH)
    assert _refusals(client, "unpromoted") == 1.0, "the drop and the alias's refusal are one event"
    promote(champion)
    assert client.post("/v1/admin/reload", headers=AUTH).json()["changed"] == ["phase_a"]
    assert _phase_a_version(client) == champion
    ready = client.get("/ready").json()
    assert "phase_a" not in ready["missing"] and "phase_a" not in ready["errors"]


def test_a_version_registered_before_digests_is_refused_with_the_fix(
    mlflow_registry: str, human_paths: list[Path2]
) -> None:
    version = train_and_register(human_paths, seed=1)
    MlflowClient().delete_model_version_tag(PHASE_A, version, registry.DIGEST_TAG)
    promote(version)
    with TestClient(create_app(settings())) as client:
        error = client.get("/ready").json()["errors"]["phase_a"]
        assert "no artifact digest" in error
        assert f"python -m tcurity.cli models promote {PHASE_A} {version}" in error


class _Tripwire:
    """Unpickling this creates ``path``: proof that something unpickled the model."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> tuple[Any, tuple[str, str]]:
        return (open, (str(self.path), "w"))


def _register_bundle(bundle_dir: Path, python_model: BundlePyfunc) -> str:
    with mlflow.start_run(experiment_id=registry.ensure_experiment("serving-tests")):
        info = mlflow.pyfunc.log_model(
            name="model",
            python_model=python_model,
            artifacts={"bundle": str(bundle_dir)},
            pip_requirements=["mlflow"],
        )
    version = str(registry.register_challenger(info.model_uri, PHASE_A).version)
    promote(version)
    return version


def _small_bundle(directory: Path) -> Path:
    x = np.random.default_rng(0).normal(size=(200, len(FEATURES)))
    bundle, _ = fit_isolation_forest(x[:150], x[150:], FEATURES, 20, 64, 1.0, 0.01, 100.0, 0)
    bundle.save(directory)
    return directory


def test_loading_a_bundle_never_unpickles(mlflow_registry: str, tmp_path: Path) -> None:
    marker = tmp_path / "unpickled"
    python_model = BundlePyfunc()
    python_model.tripwire = _Tripwire(marker)
    with tempfile.TemporaryDirectory() as tmp:
        version = _register_bundle(_small_bundle(Path(tmp) / "bundle"), python_model)
    with TestClient(create_app(settings())) as client:
        assert _phase_a_version(client) == version
        assert client.post(URL, json=teleport_body(), headers=AUTH).status_code == 200
    assert not marker.exists(), "the pyfunc's pickle was loaded"


def test_a_bundle_whose_npz_holds_an_object_array_is_refused(mlflow_registry: str, tmp_path: Path) -> None:
    bundle_dir = _small_bundle(tmp_path / "bundle")
    forest = ModelBundle.load(bundle_dir).forest
    arrays = {k: getattr(forest, k) for k in ("left", "right", "feature", "threshold")}
    value = np.empty(forest.value.shape, dtype=object)
    value[...] = 0.0
    np.savez(bundle_dir / ARRAYS_FILE, **arrays, value=value, max_depth=np.array(forest.max_depth))
    _register_bundle(bundle_dir, BundlePyfunc())
    with TestClient(create_app(settings())) as client:
        assert "phase_a" in client.get("/ready").json()["missing"]
        assert "Object arrays cannot be loaded" in client.get("/ready").json()["errors"]["phase_a"]
        assert _refusals(client, "invalid_bundle") == 1.0
