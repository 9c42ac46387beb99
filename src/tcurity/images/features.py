"""The frozen part of EfficientNet-Lite0 run once per tile, its outputs cached on disk (the CPU profile).

When training freezes the stem and the first block stages, their output for a tile never changes from one epoch,
seed or learning rate to the next, so it is computed once (:func:`compute_features`) and kept in a file named by
everything that determines it (:class:`FeatureKey`): the tile set's content, the input size, the frozen stages,
the digest of the pretrained weights and the views (each tile as read, and mirrored). Training then runs only
the trainable tail on the cached maps (:mod:`tcurity.images.train`). A cache file whose stored key differs from
the one asked for is never used: it is recomputed.

Pre-processing is serving's own (:func:`tcurity.images.classifier.images_to_tensor`), so the tail sees exactly
what the whole network would compute inside; maps are stored as float16 (half the disk and memory; training
reads them back as float32).
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import torch
from PIL import Image
from pydantic import BaseModel, ConfigDict
from torch import nn

from tcurity.images.classifier import ClassifierSpec, images_to_tensor
from tcurity.images.effnet import backbone_stages, source_weights_path
from tcurity.images.tiles import Tile

logger = logging.getLogger(__name__)

FORMAT_VERSION = 1
"""Bumped whenever what a cache file holds, or how it is computed, changes."""
VIEWS: tuple[str, ...] = ("as_read", "mirrored")
"""The views cached per tile: the tile as read and mirrored left to right (training picks one per draw)."""


class FeatureKey(BaseModel):
    """Everything the cached maps depend on; its digest names the cache file."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    format_version: int = FORMAT_VERSION
    tiles_digest: str
    input_size: int
    frozen_stages: int
    weights_digest: str
    views: tuple[str, ...] = VIEWS

    def digest(self) -> str:
        """A short content name for the cache file (16 hex digits of a SHA-256 of the key)."""
        return hashlib.sha256(self.model_dump_json().encode()).hexdigest()[:16]


@dataclass(frozen=True)
class CachedFeatures:
    """The frozen stages' output maps of a tile set, one tensor per view, each ``(n_tiles, C, H, W)`` float16."""

    key: FeatureKey
    paths: tuple[str, ...]
    maps: dict[str, torch.Tensor]
    seconds: float
    """How long computing them took (0 when they were read from the cache)."""


def tiles_digest(root: Path, tiles: Sequence[Tile]) -> str:
    """SHA-256 over every tile's path, label and bytes, in the order given."""
    h = hashlib.sha256()
    for tile in tiles:
        h.update(f"{tile.path}\0{tile.label}\0".encode())
        h.update(hashlib.sha256((root / tile.path).read_bytes()).digest())
    return h.hexdigest()


@lru_cache(maxsize=4)
def weights_digest(path: Path | None = None) -> str:
    """SHA-256 of the pretrained checkpoint the backbone is built from."""
    return hashlib.sha256((path or source_weights_path()).read_bytes()).hexdigest()


def feature_key(root: Path, tiles: Sequence[Tile], input_size: int, frozen_stages: int) -> FeatureKey:
    """The key of the maps of ``tiles`` at ``input_size`` through the stem and ``frozen_stages`` stages."""
    if frozen_stages < 1:
        raise ValueError("caching needs at least one frozen block stage")
    return FeatureKey(
        tiles_digest=tiles_digest(root, tiles),
        input_size=input_size,
        frozen_stages=frozen_stages,
        weights_digest=weights_digest(),
    )


def frozen_trunk(model: nn.Module, frozen_stages: int) -> nn.Sequential:
    """The stem and the first ``frozen_stages`` stages of ``model`` as one eval-mode module (shared weights)."""
    return nn.Sequential(*backbone_stages(model, frozen_stages)).eval()


@torch.inference_mode()
def compute_features(
    trunk: nn.Module,
    root: Path,
    tiles: Sequence[Tile],
    spec: ClassifierSpec,
    device: torch.device,
    batch_size: int = 128,
) -> dict[str, torch.Tensor]:
    """The trunk's output maps of every tile in every view of :data:`VIEWS`, float16 on CPU."""
    maps: dict[str, list[torch.Tensor]] = {view: [] for view in VIEWS}
    for start in range(0, len(tiles), batch_size):
        images = _read(root, tiles[start : start + batch_size])
        for view in VIEWS:
            shown = (
                images
                if view == "as_read"
                else [im.transpose(Image.Transpose.FLIP_LEFT_RIGHT) for im in images]
            )
            batch = images_to_tensor(shown, spec).to(device, memory_format=torch.channels_last)
            maps[view].append(trunk(batch).half().cpu())
    return {view: torch.cat(chunks).contiguous() for view, chunks in maps.items()}


def _read(root: Path, tiles: Sequence[Tile]) -> list[Image.Image]:
    images = []
    for tile in tiles:
        with Image.open(root / tile.path) as raw:
            images.append(raw.convert("RGB"))
    return images


def cached_features(
    cache_dir: Path | None,
    model: nn.Module,
    root: Path,
    tiles: Sequence[Tile],
    input_size: int,
    frozen_stages: int,
    device: torch.device,
) -> CachedFeatures:
    """The frozen stages' maps of ``tiles``: read from ``cache_dir`` when a file with the same key is there,
    otherwise computed with ``model``'s trunk (which must hold the pretrained weights) and written there
    (``cache_dir`` ``None``: computed, not kept)."""
    key = feature_key(root, tiles, input_size, frozen_stages)
    path = cache_dir / f"effnet-features-{key.digest()}.pt" if cache_dir is not None else None
    paths = tuple(t.path for t in tiles)
    stored = _load(path, key, paths) if path is not None else None
    if stored is not None:
        logger.info("feature cache hit: %s", path)
        return CachedFeatures(key, paths, stored, 0.0)
    started = time.perf_counter()
    spec = ClassifierSpec(classes=("unused",), input_size=input_size)
    maps = compute_features(frozen_trunk(model, frozen_stages), root, tiles, spec, device)
    seconds = time.perf_counter() - started
    logger.info("computed the frozen stages' maps of %d tiles in %.1f s", len(tiles), seconds)
    if path is not None:
        _store(path, key, paths, maps)
    return CachedFeatures(key, paths, maps, seconds)


def _load(path: Path, key: FeatureKey, paths: tuple[str, ...]) -> dict[str, torch.Tensor] | None:
    """The maps stored at ``path`` when its key and tile order are the ones asked for, else ``None``."""
    if not path.is_file():
        return None
    try:
        stored = torch.load(path, map_location="cpu", weights_only=True)
        same = stored["key"] == key.model_dump_json() and tuple(stored["paths"]) == paths
        maps = {view: stored["maps"][view] for view in key.views}
    except (OSError, RuntimeError, KeyError, TypeError, ValueError) as exc:
        logger.warning("feature cache %s unreadable (%s): recomputing", path, exc)
        return None
    if not same or any(m.shape[0] != len(paths) for m in maps.values()):
        logger.warning("feature cache %s holds another key: recomputing", path)
        return None
    return maps


def _store(path: Path, key: FeatureKey, paths: tuple[str, ...], maps: dict[str, torch.Tensor]) -> None:
    """Writes the cache file atomically (a reader never sees half of one)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".tmp", delete=False) as tmp:
        torch.save({"key": key.model_dump_json(), "paths": list(paths), "maps": maps}, tmp)
    os.replace(tmp.name, path)
