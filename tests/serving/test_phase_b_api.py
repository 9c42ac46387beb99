"""Phase B problems through the AI server: a real (small) classifier registered in a real registry, a real bank."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator
from pathlib import Path

import mlflow
import pytest
from fastapi.testclient import TestClient

from serving.app import create_app
from tcurity import registry
from tcurity.images.bank import ImageBank
from tcurity.images.classifier import spec_as_dict
from tcurity.images.tracking import log_classifier
from tests.images.tiny import tiny_classifier, write_tiny_bank
from tests.serving.conftest import AUTH, promote, settings
from tests.serving.test_models import _refusals, _Tripwire

EFFNET = "tcurity-phase-b-effnet"
TILES_PER_CLASS = 7


@pytest.fixture(scope="module")
def bank_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A bank of the first real tiles of every class, written by the real curation writer."""
    return write_tiny_bank(tmp_path_factory.mktemp("bank"), TILES_PER_CLASS)


def register_classifier(bank: ImageBank) -> str:
    """The small real classifier of ``tests.images.tiny``, logged as training logs it."""
    model, spec = tiny_classifier(bank)
    with mlflow.start_run(experiment_id=registry.ensure_experiment("serving-tests")):
        info = log_classifier(model, spec, ["torch", "timm"])
    version = str(registry.register_challenger(info.model_uri, EFFNET).version)
    promote(version, EFFNET)
    return version


@pytest.fixture
def client(mlflow_registry: str, bank_dir: Path) -> Iterator[TestClient]:
    register_classifier(ImageBank.load(bank_dir))
    with TestClient(create_app(settings(phase_b_problem_image_root=bank_dir))) as c:
        yield c


def test_problems_are_checked_and_leak_nothing(client: TestClient) -> None:
    response = client.post("/v1/phase-b/problems", json={"count": 3}, headers=AUTH)
    assert response.status_code == 200, response.text
    payload = response.json()
    assert payload["model"]["name"] == EFFNET
    problems = payload["problems"]
    assert len(problems) == 3
    digests, ids = set(), set()
    for problem in problems:
        client_view, answer = problem["client"], problem["answer"]
        assert set(client_view) == {"problem_id", "target", "prompt", "grid", "tiles"}
        assert set(client_view["target"]) == {"en", "ko"}, "display names only, no class key (review 8)"
        assert len(client_view["tiles"]) == 9
        assert set(answer["answer"]) <= {t["tile_id"] for t in client_view["tiles"]}
        assert 2 <= len(answer["answer"]) <= 4
        numbers = [answer["numbers"][t] for t in answer["answer"]]
        assert numbers == sorted(numbers)
        assert "answer" not in str(client_view) and answer["target"] not in {"other"}
        for tile in client_view["tiles"]:
            assert set(tile) == {"tile_id", "position", "image"}
            digests.add(hashlib.sha256(base64.b64decode(tile["image"].split(",", 1)[1])).hexdigest())
            ids.add(tile["tile_id"])
    assert len(digests) == 27, "no two served tiles share bytes"
    assert len(ids) == 27, "tile ids are fresh per problem"


def test_problem_count_is_bounded(client: TestClient) -> None:
    too_many = client.post("/v1/phase-b/problems", json={"count": 500}, headers=AUTH)
    assert too_many.status_code == 422
    assert too_many.json()["error"]["code"] == "invalid_request"
    assert client.post("/v1/phase-b/problems", json={"count": 1}).status_code == 401


def test_without_a_classifier_there_are_no_problems(mlflow_registry: str, bank_dir: Path) -> None:
    with TestClient(create_app(settings(phase_b_problem_image_root=bank_dir))) as c:
        response = c.post("/v1/phase-b/problems", json={"count": 1}, headers=AUTH)
        assert response.status_code == 503
        assert response.json()["error"]["code"] == "bank_unavailable"
        assert "effnet" in c.get("/ready").json()["missing"]


def test_the_classifier_is_loaded_from_its_state_dict_never_its_pickle(
    mlflow_registry: str, bank_dir: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Security review 7: the registered module's pickle would run code on load; serving never reads it."""
    marker = tmp_path / "unpickled"
    model, spec = tiny_classifier(ImageBank.load(bank_dir))
    model.tripwire = _Tripwire(marker)  # pickled with the module, not part of its state dict
    with mlflow.start_run(experiment_id=registry.ensure_experiment("serving-tests")):
        info = log_classifier(model, spec, ["torch", "timm"])
    promote(str(registry.register_challenger(info.model_uri, EFFNET).version), EFFNET)
    with TestClient(create_app(settings(phase_b_problem_image_root=bank_dir))) as client:
        assert client.post("/v1/phase-b/problems", json={"count": 1}, headers=AUTH).status_code == 200
    assert not marker.exists(), "the classifier's pickle was loaded"
    assert "holds no state dict" not in caplog.text


def test_a_classifier_without_a_state_dict_is_refused_never_unpickled(
    mlflow_registry: str, bank_dir: Path, tmp_path: Path
) -> None:
    """A pickle-only version with a passed promotion and a matching digest is still refused (review 7)."""
    marker = tmp_path / "unpickled"
    model, spec = tiny_classifier(ImageBank.load(bank_dir))
    model.tripwire = _Tripwire(marker)
    with mlflow.start_run(experiment_id=registry.ensure_experiment("serving-tests")):
        info = mlflow.pytorch.log_model(
            model,
            name="model",
            serialization_format="pickle",
            pip_requirements=["torch"],  # inferring them would load the pickle here
            metadata=spec_as_dict(spec),
        )
    promote(str(registry.register_challenger(info.model_uri, EFFNET).version), EFFNET)
    with TestClient(create_app(settings(phase_b_problem_image_root=bank_dir))) as client:
        ready = client.get("/ready")
        assert ready.status_code == 503
        assert "effnet" in ready.json()["missing"]
        assert "holds no state dict" in ready.json()["errors"]["effnet"]
        assert _refusals(client, "no_state_dict") == 1.0
    assert not marker.exists(), "the classifier's pickle was loaded"
