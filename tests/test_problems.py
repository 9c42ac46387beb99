"""The Phase B challenge generator, on a tiny bank of real tiles checked by a real (tiny) classifier."""

from __future__ import annotations

import base64
import hashlib
import io
import json
from collections import Counter
from dataclasses import fields
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tcurity.config import params
from tcurity.images.bank import ImageBank
from tcurity.images.classes import CLASSES, CONFUSABLE_PAIRS, DISPLAY_NAMES, DISTRACTOR_ONLY
from tcurity.images.classifier import TileClassifier
from tcurity.problems import (
    ClientProblem,
    ClientTile,
    ProblemAnswer,
    ProblemConfig,
    ProblemGenerationError,
    ProblemGenerator,
    subject_particle,
)
from tcurity.task_checks import tiles_in_order
from tests.images.tiny import tiny_classifier, write_tiny_bank

TILES_PER_CLASS = 7


@pytest.fixture(scope="module")
def bank(tmp_path_factory: pytest.TempPathFactory) -> ImageBank:
    """A bank of the first real tiles of every class, written by the real curation writer."""
    return ImageBank.load(write_tiny_bank(tmp_path_factory.mktemp("bank"), TILES_PER_CLASS))


@pytest.fixture(scope="module")
def classifier(bank: ImageBank) -> TileClassifier:
    """The converted ImageNet backbone with a logistic head fitted to the bank's tiles: small, real, fast."""
    model, spec = tiny_classifier(bank)
    return TileClassifier(model, spec, device="cpu")


@pytest.fixture(scope="module")
def served(bank: ImageBank, classifier: TileClassifier) -> list[tuple[ClientProblem, ProblemAnswer]]:
    return ProblemGenerator(bank, classifier, ProblemConfig(), seed=11).generate_batch(24)


def _decode(jpeg: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(jpeg))
    image.load()
    return image


def test_client_view_leaks_neither_answer_nor_tile_classes(
    served: list[tuple[ClientProblem, ProblemAnswer]],
) -> None:
    assert {f.name for f in fields(ClientTile)} == {"tile_id", "position", "jpeg"}
    for client, answer in served:
        payload = client.to_dict()
        assert set(payload) == {"problem_id", "target", "prompt", "grid", "tiles"}
        assert payload["target"] == {"en": client.target.en, "ko": client.target.ko}, (
            "no class key (review 8)"
        )
        tiles = payload["tiles"]
        assert isinstance(tiles, list) and all(set(t) == {"tile_id", "position", "image"} for t in tiles)
        # Everything but the random ids and images (where any short string may occur by chance).
        text = json.dumps([payload["target"], payload["prompt"], payload["grid"]], ensure_ascii=False)
        other_names = [c for c in CLASSES if c != answer.target] + [
            n for c, d in DISPLAY_NAMES.items() if c != answer.target for n in (d.en, d.ko)
        ]
        assert not any(name in text for name in other_names)
        assert [t["position"] for t in tiles] == list(range(9))
        ids = [t.tile_id for t in client.tiles]
        assert len(set(ids)) == 9 and all(len(i) >= 16 for i in ids)
        assert set(answer.numbers) == set(ids)
        assert client.problem_id == answer.problem_id


def test_no_two_served_tiles_share_bytes_or_hashes(
    bank: ImageBank, served: list[tuple[ClientProblem, ProblemAnswer]]
) -> None:
    jpegs = [t.jpeg for client, _ in served for t in client.tiles]
    assert len({hashlib.sha256(j).digest() for j in jpegs}) == len(jpegs)
    assert len({hashlib.md5(j, usedforsecurity=False).digest() for j in jpegs}) == len(jpegs)
    bank_bytes = {(bank.root / t.path).read_bytes() for t in bank.tiles}
    assert not bank_bytes & set(jpegs)
    sources = Counter(path for _, answer in served for path in answer.sources.values())
    assert sources.most_common(1)[0][1] > 1  # a tiny bank reuses its tiles, and still no bytes repeat


def test_answer_is_the_targets_in_ascending_number_order(
    served: list[tuple[ClientProblem, ProblemAnswer]],
) -> None:
    for client, answer in served:
        assert sorted(answer.numbers.values()) == list(range(1, 10))
        targets = [i for i, c in answer.tile_classes.items() if c == answer.target]
        assert list(answer.answer) == sorted(targets, key=answer.numbers.__getitem__)
        assert tiles_in_order(answer.answer, list(answer.answer))
        assert not tiles_in_order(answer.answer, list(reversed(answer.answer)))
        assert not tiles_in_order(answer.answer, list(answer.answer)[:-1])
        assert not tiles_in_order(answer.answer, [t.tile_id for t in client.tiles])


def test_composition_rules(served: list[tuple[ClientProblem, ProblemAnswer]]) -> None:
    for client, answer in served:
        classes = set(answer.tile_classes.values())
        assert 2 <= len(answer.answer) <= 4
        assert answer.target != DISTRACTOR_ONLY
        assert client.target.ko == DISPLAY_NAMES[answer.target].ko
        assert not any(pair <= classes for pair in CONFUSABLE_PAIRS if answer.target in pair)
        assert len(set(answer.sources.values())) == 9  # no photo twice in one grid
    assert len({a.target for _, a in served}) >= 4  # targets vary (seeded: deterministic)


def test_every_served_tile_passed_the_classifier_check(
    classifier: TileClassifier, served: list[tuple[ClientProblem, ProblemAnswer]]
) -> None:
    cfg = ProblemConfig()
    for client, answer in served:
        probs = classifier.predict_proba([_decode(t.jpeg) for t in client.tiles])
        target = CLASSES.index(answer.target)
        for tile, row in zip(client.tiles, probs, strict=True):
            if answer.tile_classes[tile.tile_id] == answer.target:
                assert row[target] >= cfg.min_target_prob
            else:
                assert row[target] < cfg.max_distractor_target_prob
                assert int(np.argmax(row)) != target


def test_a_check_nothing_can_pass_stops_generation(bank: ImageBank, classifier: TileClassifier) -> None:
    impossible = ProblemConfig(max_distractor_target_prob=0.0, check_rounds=1)
    with pytest.raises(ProblemGenerationError):
        ProblemGenerator(bank, classifier, impossible, seed=1).generate()


def test_same_seed_same_problem_but_fresh_ids(bank: ImageBank, classifier: TileClassifier) -> None:
    first = ProblemGenerator(bank, classifier, seed=5).generate_batch(3)
    again = ProblemGenerator(bank, classifier, seed=5).generate_batch(3)
    other = ProblemGenerator(bank, classifier, seed=6).generate_batch(3)

    def content(problems: list[tuple[ClientProblem, ProblemAnswer]]) -> list[object]:
        return [
            (a.target, [(a.tile_classes[t.tile_id], a.numbers[t.tile_id], t.jpeg) for t in c.tiles])
            for c, a in problems
        ]

    assert content(first) == content(again)
    assert content(first) != content(other)
    assert not {c.problem_id for c, _ in first} & {c.problem_id for c, _ in again}
    assert not {t.tile_id for c, _ in first for t in c.tiles} & {t.tile_id for c, _ in again for t in c.tiles}


def test_unseeded_generators_differ(bank: ImageBank) -> None:
    one = ProblemGenerator(bank, None).generate_batch(4)
    two = ProblemGenerator(bank, None).generate_batch(4)
    assert [t.jpeg for c, _ in one for t in c.tiles] != [t.jpeg for c, _ in two for t in c.tiles]


def test_client_tiles_are_data_urls_of_the_served_jpeg(
    served: list[tuple[ClientProblem, ProblemAnswer]],
) -> None:
    client, _ = served[0]
    tile = client.to_dict()["tiles"][0]  # type: ignore[index]
    assert tile["image"].startswith("data:image/jpeg;base64,")
    assert base64.b64decode(tile["image"].split(",", 1)[1]) == client.tiles[0].jpeg
    assert "번호 순서대로" in client.prompt["ko"]


def test_korean_prompt_uses_the_right_particle() -> None:
    assert [subject_particle(w) for w in ("버스", "신호등", "소화전", "자동차", "횡단보도")] == [
        "가",
        "이",
        "이",
        "가",
        "가",
    ]


def test_params_yaml_problem_section_is_valid() -> None:
    cfg = params().problems
    assert cfg.min_targets == 2 and cfg.max_targets == 4


def test_a_bank_without_enough_tiles_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ProblemGenerationError):
        ProblemGenerator(ImageBank(tmp_path, []), None)
