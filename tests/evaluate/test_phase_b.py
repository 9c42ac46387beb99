"""Phase B evaluation helpers on hand-made feature tables."""

from __future__ import annotations

import pandas as pd

from tcurity.evaluate.phase_b import people, single_feature_separation


def rows(
    source: str, family: str, split: str, a: list[float], b: list[float], sampling: str = "native"
) -> pd.DataFrame:
    return pd.DataFrame(
        {"source": source, "family": family, "split": split, "sampling": sampling, "a": a, "b": b}
    )


def test_the_screen_reads_training_people_and_training_bots_only() -> None:
    table = pd.concat(
        [
            rows("human", "human", "train", [1.0, 2.0], [5.0, 6.0]),
            rows("bot", "slow", "train", [3.0, 4.0], [5.5, 5.5]),
            # Neither held-out people nor evaluation bots may move the screen: if read, they would flip ``a``.
            rows("human", "human", "test", [9.0, 9.0], [0.0, 0.0]),
            rows("human", "human", "calib", [9.0, 9.0], [0.0, 0.0]),
            rows("human", "human", "balabit_train", [9.0, 9.0], [0.0, 0.0]),
            rows("bot", "slow", "test", [0.0, 0.0], [0.0, 0.0]),
        ],
        ignore_index=True,
    )
    # ``a``: every bot above every person, AUC 0, separation 1. ``b``: people 5 and 6 around the bots' 5.5, AUC 0.5.
    assert single_feature_separation(table, ["a", "b"]) == {"slow": {"a": 1.0, "b": 0.5}}


def test_people_of_one_split_label() -> None:
    table = pd.concat(
        [rows("human", "human", "balabit_test", [1.0], [1.0]), rows("human", "human", "test", [2.0], [2.0])],
        ignore_index=True,
    )
    assert list(people(table, "balabit_test").a) == [1.0]
