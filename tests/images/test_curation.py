"""The curation gate, the bank it writes, and the held-out metrics computed from curation scores."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tcurity.config import params, resolve
from tcurity.images.bank import BankIndex, ImageBank
from tcurity.images.curate import bank_summary, choose_threshold, gate, write_bank
from tcurity.images.evaluate import bank_precision, classification_metrics, top_confusions
from tcurity.images.tiles import list_tiles


def _scores(rows: list[tuple[str, str, str, str, float]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["path", "label", "split", "predicted", "confidence"])
    frame["label_prob"] = frame["confidence"]
    return frame


HAND_MADE = _scores(
    [
        ("bus/1.jpg", "bus", "train", "bus", 0.95),  # agrees, confident: in
        ("bus/2.jpg", "bus", "test", "bus", 0.90),  # exactly at the threshold: in
        ("bus/3.jpg", "bus", "test", "bus", 0.89),  # agrees, not confident enough: out
        ("bus/4.jpg", "bus", "test", "car", 0.99),  # confident but disagrees with the label: out
        ("car/1.jpg", "car", "test", "car", 0.97),  # in
        ("car/2.jpg", "car", "val", "bus", 0.40),  # out
        ("other/1.jpg", "other", "test", "other", 0.93),  # distractor, in
        ("other/2.jpg", "other", "test", "car", 0.95),  # an "other" tile the model sees a car in: out
    ]
)


def test_gate_admits_confident_agreement_only() -> None:
    assert gate(HAND_MADE, threshold=0.9).tolist() == [True, True, False, False, True, False, True, False]


def test_bank_summary_counts_per_class() -> None:
    summary = bank_summary(HAND_MADE, threshold=0.9)
    assert summary["admitted"] == 4 and summary["scored"] == 8
    assert summary["per_class"] == {
        "bus": {"scored": 4, "admitted": 2, "admitted_share": 0.5},
        "car": {"scored": 2, "admitted": 1, "admitted_share": 0.5},
        "other": {"scored": 2, "admitted": 1, "admitted_share": 0.5},
    }


def test_bank_precision_judges_the_confident_model_against_held_out_labels() -> None:
    # Test rows at >= 0.9: bus/2 (right), bus/4 (wrong), car/1 (right), other/1 (right), other/2 (wrong).
    assert bank_precision(HAND_MADE, threshold=0.9, split="test") == {
        "precision": 0.6,
        "coverage": 0.5,
        "admitted": 5,
        "held_out": 6,
    }


# Test tiles from the most confident down: right, wrong, right, right, right, wrong, right (0.99 ... 0.90, 0.80).
# Gate precision at each confidence: 0.99: 1/1, 0.98: 1/2, 0.97: 2/3, 0.96: 3/4, 0.95: 4/5, 0.92: 4/6, 0.90: 5/7.
LADDER = _scores(
    [
        ("bus/1.jpg", "bus", "test", "bus", 0.99),
        ("bus/2.jpg", "bus", "test", "car", 0.98),
        ("bus/3.jpg", "bus", "test", "bus", 0.97),
        ("bus/4.jpg", "bus", "test", "bus", 0.96),
        ("car/1.jpg", "car", "test", "car", 0.95),
        ("car/2.jpg", "car", "test", "bus", 0.92),
        ("car/3.jpg", "car", "test", "car", 0.90),
        ("car/4.jpg", "car", "val", "bus", 0.999),  # another split: never read
    ]
)


@pytest.mark.parametrize(
    ("floor", "target", "expected"),
    [
        (0.5, 0.75, (0.95, 0.8)),  # 0.96 reaches it too, 0.95 is lower; 0.92 and 0.90 fall short
        (0.5, 0.70, (0.90, 5 / 7)),  # every tile: 5 of 7; never below the lowest confidence scored
        (0.5, 0.81, (0.99, 1.0)),
        (0.97, 0.60, (0.97, 2 / 3)),
        (0.975, 0.60, (0.99, 1.0)),  # the floor comes first: 0.97 is no candidate
        (0.5, 1.0, (0.99, 1.0)),
    ],
)
def test_the_gate_is_the_lowest_confidence_that_reaches_the_precision(
    floor: float, target: float, expected: tuple[float, float]
) -> None:
    threshold, precision = choose_threshold(LADDER, floor, target, split="test")
    assert threshold == expected[0] and precision == pytest.approx(expected[1])


def test_a_target_no_confidence_reaches_takes_the_most_precise_gate() -> None:
    wrong_on_top = _scores([("a.jpg", "bus", "val", "car", 0.99), ("b.jpg", "bus", "val", "bus", 0.9)])
    assert choose_threshold(wrong_on_top, 0.5, 0.9) == (0.9, 0.5)


def test_ties_are_admitted_together() -> None:
    tied = _scores([("a.jpg", "bus", "val", "car", 0.97), ("b.jpg", "bus", "val", "bus", 0.97)])
    assert choose_threshold(tied, 0.5, 0.6) == (0.97, 0.5)  # 0.5 is the best there is, at the only cut


def test_a_classifier_confident_about_nothing_cannot_curate() -> None:
    with pytest.raises(ValueError, match="cannot curate"):
        choose_threshold(LADDER, 0.9999, 0.9, split="test")


def test_classification_metrics_on_hand_made_scores() -> None:
    report = classification_metrics(HAND_MADE, ["bus", "car", "other"], split="test")
    assert report.accuracy == pytest.approx(4 / 6)
    assert report.per_class["bus"] == {"precision": 1.0, "recall": 0.6667, "support": 3}
    assert report.per_class["car"] == {"precision": 0.3333, "recall": 1.0, "support": 1}
    np.testing.assert_array_equal(report.confusion, [[2, 1, 0], [0, 1, 0], [0, 1, 1]])
    assert top_confusions(report.confusion, ["bus", "car", "other"]) == [
        {"true": "other", "predicted": "car", "count": 1},
        {"true": "bus", "predicted": "car", "count": 1},
    ]


def test_write_bank_copies_admitted_tiles_and_indexes_them(tmp_path: Path) -> None:
    root = resolve(params().data.tiles_dir)
    real = {label: [t for t in list_tiles(root) if t.label == label][:2] for label in ("bus", "other")}
    scores = _scores(
        [
            (real["bus"][0].path, "bus", "test", "bus", 0.97),
            (real["bus"][1].path, "bus", "train", "car", 0.97),
            (real["other"][0].path, "other", "val", "other", 0.91),
            (real["other"][1].path, "other", "train", "other", 0.5),
        ]
    )
    bank_dir = tmp_path / "bank"
    (bank_dir / "stale").mkdir(parents=True)
    index = write_bank(scores, root, bank_dir, threshold=0.9, model={"name": "m", "version": "3"})
    assert not (bank_dir / "stale").exists()
    assert [(t.label, t.split) for t in index.tiles] == [("bus", "test"), ("other", "val")]
    assert BankIndex.read(bank_dir) == index
    bank = ImageBank.load(bank_dir)
    assert bank.sizes() == {"bus": 1, "other": 1}
    assert (bank_dir / index.tiles[0].path).read_bytes() == (root / real["bus"][0].path).read_bytes()
    assert bank.image(index.tiles[0]).mode == "RGB"
    assert ImageBank.load(bank_dir, splits=("test",)).sizes() == {"bus": 1}
