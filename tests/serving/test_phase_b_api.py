"""Phase B problems through the AI server: a real (small) classifier registered in a real registry, a real bank."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator
from pathlib import Path

import mlflow
import pandas as pd
import pytest
import torch
from fastapi.testclient import TestClient
from mlflow.tracking import MlflowClient
from sklearn.linear_model import LogisticRegression

from serving.app import create_app
from tcurity import registry
from tcurity.config import params, resolve
from tcurity.images.bank import ImageBank
from tcurity.images.classes import CLASSES
from tcurity.images.classifier import ClassifierSpec, images_to_tensor, spec_as_dict
from tcurity.images.curate import write_bank
from tcurity.images.effnet import build_lite0
from tcurity.images.tiles import list_tiles
from tests.serving.conftest import AUTH, settings

EFFNET = "tcurity-phase-b-effnet"
TILES_PER_CLASS = 7


@pytest.fixture(scope="module")
def bank_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A bank of the first real tiles of every class, written by the real curation writer."""
    root = resolve(params().data.tiles_dir)
    tiles = list_tiles(root)
    chosen = [t for label in CLASSES for t in [t for t in tiles if t.label == label][:TILES_PER_CLASS]]
    scores = pd.DataFrame(
        {
            "path": [t.path for t in chosen],
            "label": [t.label for t in chosen],
            "split": "test",
            "predicted": [t.label for t in chosen],
            "confidence": 1.0,
            "label_prob": 1.0,
        }
    )
    out = tmp_path_factory.mktemp("bank")
    write_bank(scores, root, out, threshold=0.9, model={"name": "fixture", "version": "0"})
    return out


def register_classifier(bank: ImageBank) -> str:
    """The converted ImageNet backbone with a logistic head fitted to the bank, logged as training logs it."""
    spec = ClassifierSpec(classes=CLASSES, input_size=64)
    model = build_lite0(num_classes=len(CLASSES)).eval()
    images = [bank.image(t) for t in bank.tiles]
    with torch.no_grad():
        features = model.forward_head(model.forward_features(images_to_tensor(images, spec)), pre_logits=True)
    head = LogisticRegression(C=10.0, max_iter=2000).fit(features.numpy(), [t.label for t in bank.tiles])
    with torch.no_grad():
        model.classifier.weight.copy_(torch.from_numpy(head.coef_))
        model.classifier.bias.copy_(torch.from_numpy(head.intercept_))
    with mlflow.start_run(experiment_id=registry.ensure_experiment("serving-tests")):
        info = mlflow.pytorch.log_model(
            model,
            name="model",
            serialization_format="pickle",
            pip_requirements=["torch", "timm"],
            metadata=spec_as_dict(spec),
        )
    version = str(registry.register_challenger(info.model_uri, EFFNET).version)
    MlflowClient().set_registered_model_alias(EFFNET, registry.CHAMPION, version)
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
