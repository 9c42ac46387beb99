"""The labelled tile set on disk and its one deterministic train/val/test split.

Tiles are listed in sorted order and split per class with a seeded permutation, so every stage (training,
curation, evaluation, the attacker) sees the same split without storing it: test tiles never influence the
model and are what the bank's precision is measured on.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

Split = Literal["train", "val", "test"]
SPLITS: tuple[Split, ...] = ("train", "val", "test")


@dataclass(frozen=True, slots=True)
class Tile:
    """One labelled tile: ``path`` relative to the tile root, ``label`` its folder name."""

    path: str
    label: str


def list_tiles(root: Path, suffixes: tuple[str, ...] = (".jpg", ".jpeg", ".png")) -> list[Tile]:
    """Every tile under ``root/<class>/``, sorted by path."""
    tiles = [
        Tile(path=f"{folder.name}/{file.name}", label=folder.name)
        for folder in sorted(p for p in root.iterdir() if p.is_dir())
        for file in sorted(folder.iterdir())
        if file.suffix.lower() in suffixes
    ]
    if not tiles:
        raise FileNotFoundError(f"no tiles under {root}")
    return tiles


def split_tiles(
    tiles: Sequence[Tile], val_fraction: float, test_fraction: float, seed: int
) -> dict[str, Split]:
    """Assigns each tile (by path) to ``train``, ``val`` or ``test``, stratified by label.

    Each class is permuted with its own generator derived from ``seed`` and the class name, so adding a class
    does not reshuffle the others; the first ``test_fraction`` of the permutation is test, the next
    ``val_fraction`` val (each rounded, at least one tile when the class has three or more).
    """
    if not 0 <= val_fraction < 1 or not 0 <= test_fraction < 1 or val_fraction + test_fraction >= 1:
        raise ValueError("val_fraction and test_fraction must be in [0, 1) and sum below 1")
    assignment: dict[str, Split] = {}
    for label in sorted({t.label for t in tiles}):
        paths = sorted(t.path for t in tiles if t.label == label)
        rng = np.random.default_rng([seed, *label.encode()])
        order = rng.permutation(len(paths))
        n_test, n_val = _split_counts(len(paths), val_fraction, test_fraction)
        for rank, index in enumerate(order):
            assignment[paths[index]] = (
                "test" if rank < n_test else "val" if rank < n_test + n_val else "train"
            )
    return assignment


def _split_counts(n: int, val_fraction: float, test_fraction: float) -> tuple[int, int]:
    minimum = 1 if n >= 3 else 0
    n_test = max(minimum if test_fraction > 0 else 0, round(n * test_fraction))
    n_val = max(minimum if val_fraction > 0 else 0, round(n * val_fraction))
    return n_test, n_val


def select(tiles: Iterable[Tile], assignment: dict[str, Split], split: Split) -> list[Tile]:
    """The tiles of one split, in the order given."""
    return [t for t in tiles if assignment[t.path] == split]
