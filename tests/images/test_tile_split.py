"""The one deterministic, stratified train/val/test split of the tiles."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from tcurity.images.tiles import Tile, list_tiles, select, split_tiles


def _tiles(counts: dict[str, int]) -> list[Tile]:
    return [Tile(f"{label}/{i:04d}.jpg", label) for label, n in counts.items() for i in range(n)]


def test_split_is_stratified_with_the_asked_shares() -> None:
    tiles = _tiles({"bus": 100, "car": 40, "other": 20})
    split = split_tiles(tiles, val_fraction=0.15, test_fraction=0.15, seed=7)
    counts = Counter((t.label, split[t.path]) for t in tiles)
    assert counts[("bus", "test")] == 15 and counts[("bus", "val")] == 15 and counts[("bus", "train")] == 70
    assert counts[("car", "test")] == 6 and counts[("car", "val")] == 6 and counts[("car", "train")] == 28
    assert (
        counts[("other", "test")] == 3 and counts[("other", "val")] == 3 and counts[("other", "train")] == 14
    )


def test_split_is_deterministic_and_depends_on_the_seed() -> None:
    tiles = _tiles({"bus": 50, "car": 50})
    first = split_tiles(tiles, 0.2, 0.2, seed=1)
    assert split_tiles(list(reversed(tiles)), 0.2, 0.2, seed=1) == first
    assert split_tiles(tiles, 0.2, 0.2, seed=2) != first


def test_a_new_class_does_not_reshuffle_the_others() -> None:
    before = split_tiles(_tiles({"bus": 30}), 0.2, 0.2, seed=3)
    after = split_tiles(_tiles({"bus": 30, "palm": 30}), 0.2, 0.2, seed=3)
    assert {k: v for k, v in after.items() if k.startswith("bus/")} == before


def test_select_keeps_order_and_the_splits_are_disjoint() -> None:
    tiles = _tiles({"bus": 20})
    split = split_tiles(tiles, 0.25, 0.25, seed=0)
    parts = [select(tiles, split, s) for s in ("train", "val", "test")]
    assert sum(len(p) for p in parts) == 20
    assert set().union(*({t.path for t in p} for p in parts)) == {t.path for t in tiles}
    assert parts[0] == sorted(parts[0], key=lambda t: t.path)


def test_bad_fractions_are_refused() -> None:
    with pytest.raises(ValueError):
        split_tiles(_tiles({"bus": 10}), 0.5, 0.5, seed=0)


def test_list_tiles_reads_class_folders(tmp_path: Path) -> None:
    for label in ("car", "bus"):
        (tmp_path / label).mkdir()
        (tmp_path / label / "b.jpg").write_bytes(b"")
        (tmp_path / label / "a.jpg").write_bytes(b"")
        (tmp_path / label / "notes.txt").write_text("")
    assert list_tiles(tmp_path) == [
        Tile("bus/a.jpg", "bus"),
        Tile("bus/b.jpg", "bus"),
        Tile("car/a.jpg", "car"),
        Tile("car/b.jpg", "car"),
    ]
