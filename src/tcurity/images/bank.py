"""The curated problem bank on disk (``data/bank``, served from ``PHASE_B_PROBLEM_IMAGE_ROOT``).

Layout: ``index.json`` plus ``images/<class>/<file>``. Each index entry names a tile (path relative to the
bank root), its class, the classifier's confidence in that class and the tile-set split it came from. The
bank is written by the curation stage and read by the problem generator; torch is not needed to read it.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from threading import Lock

from PIL import Image

INDEX_FILE = "index.json"
IMAGES_DIR = "images"
INDEX_VERSION = 1


@dataclass(frozen=True, slots=True)
class BankTile:
    """One admitted tile: ``path`` relative to the bank root."""

    path: str
    label: str
    confidence: float
    split: str


@dataclass(frozen=True)
class BankIndex:
    """The whole index: tiles plus how they were admitted (for audits)."""

    tiles: tuple[BankTile, ...]
    classes: tuple[str, ...]
    confidence_threshold: float
    model: dict[str, str]

    def write(self, root: Path) -> None:
        """Writes ``index.json`` under ``root``."""
        payload = {
            "version": INDEX_VERSION,
            "classes": list(self.classes),
            "confidence_threshold": self.confidence_threshold,
            "model": self.model,
            "tiles": [asdict(t) for t in self.tiles],
        }
        (root / INDEX_FILE).write_text(json.dumps(payload, indent=1, ensure_ascii=False) + "\n")

    @classmethod
    def read(cls, root: Path) -> BankIndex:
        """Reads ``root/index.json``.

        Raises:
            ValueError: for an index of another format version.
        """
        payload = json.loads((root / INDEX_FILE).read_text())
        if payload.get("version") != INDEX_VERSION:
            raise ValueError(f"bank index version {payload.get('version')!r}, expected {INDEX_VERSION}")
        return cls(
            tiles=tuple(BankTile(**t) for t in payload["tiles"]),
            classes=tuple(payload["classes"]),
            confidence_threshold=float(payload["confidence_threshold"]),
            model={str(k): str(v) for k, v in payload["model"].items()},
        )


class ImageBank:
    """Bank tiles grouped by class, with a bounded cache of decoded images.

    Decoding a 120 px JPEG costs about as much as varying it, so recently used tiles are kept decoded; the
    cache is an LRU of ``cache_size`` images (about 43 kB each) and safe to share between threads.
    """

    def __init__(self, root: Path, tiles: Iterable[BankTile], cache_size: int = 2048) -> None:
        self.root = root
        self.tiles = tuple(tiles)
        by_class: dict[str, list[BankTile]] = {}
        for tile in self.tiles:
            by_class.setdefault(tile.label, []).append(tile)
        self._by_class = {label: tuple(group) for label, group in sorted(by_class.items())}
        self._cache: OrderedDict[str, Image.Image] = OrderedDict()
        self._cache_size = cache_size
        self._lock = Lock()

    @classmethod
    def load(cls, root: Path, splits: Sequence[str] | None = None, cache_size: int = 2048) -> ImageBank:
        """The bank under ``root``; ``splits`` keeps only tiles of those tile-set splits (evaluation)."""
        tiles = BankIndex.read(root).tiles
        if splits is not None:
            tiles = tuple(t for t in tiles if t.split in splits)
        return cls(root, tiles, cache_size=cache_size)

    @property
    def classes(self) -> tuple[str, ...]:
        """Classes with at least one tile."""
        return tuple(self._by_class)

    def tiles_of(self, label: str) -> tuple[BankTile, ...]:
        """The tiles of one class (empty when the class has none)."""
        return self._by_class.get(label, ())

    def sizes(self) -> dict[str, int]:
        """Tile count per class."""
        return {label: len(group) for label, group in self._by_class.items()}

    def image(self, tile: BankTile) -> Image.Image:
        """The decoded RGB image of a tile; callers must not modify it (it may be shared)."""
        with self._lock:
            cached = self._cache.get(tile.path)
            if cached is not None:
                self._cache.move_to_end(tile.path)
                return cached
        with Image.open(self.root / tile.path) as raw:
            image = raw.convert("RGB")
        with self._lock:
            self._cache[tile.path] = image
            if len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return image
