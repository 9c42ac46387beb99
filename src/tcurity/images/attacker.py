"""The attacker's view: an independent classifier solving served problems, for the evaluation stage.

The tile set is public, so a bot can train its own classifier on it. This one shares nothing with the
served model: a small CNN trained from scratch (no ImageNet weights) on the public training tiles, half of
them passed through the served look (:func:`tcurity.images.render.render_tile`, which a bot can imitate from
served problems). It reads the prompt, clicks every tile it believes shows the target (at least
``min_targets``, at most ``max_targets``) and is handed the stamped numbers for free, as a trivial OCR of the
badge would give them. Its per-problem solve rate says how much friction the image task adds; the pointer
trace, not the image, is the evidence that a person solved it.
"""

from __future__ import annotations

import io
import logging
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass
from math import comb
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import nn
from torch.utils.data import DataLoader
from torchvision.transforms import v2

from tcurity.config import AttackerParams, VariationConfig
from tcurity.images.classifier import ClassifierSpec, images_to_tensor
from tcurity.images.effnet import MEAN, STD
from tcurity.images.render import render_tile
from tcurity.images.tiles import Tile
from tcurity.images.train import TileDataset
from tcurity.problems import ClientProblem, ProblemAnswer
from tcurity.task_checks import tiles_in_order

logger = logging.getLogger(__name__)

ARCH = "attacker-small-cnn"


class SmallCNN(nn.Module):
    """Four conv–BN–ReLU–pool stages and a linear head; about 0.1 M parameters."""

    def __init__(self, n_classes: int, widths: Sequence[int] = (16, 32, 64, 128)) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        channels = 3
        for width in widths:
            layers += [
                nn.Conv2d(channels, width, 3, padding=1, bias=False),
                nn.BatchNorm2d(width),
                nn.ReLU(inplace=True),
                nn.MaxPool2d(2),
            ]
            channels = width
        self.features = nn.Sequential(*layers)
        self.head = nn.Sequential(
            nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(0.3), nn.Linear(channels, n_classes)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


class _AttackerTiles(TileDataset):
    """Training tiles; half of the draws first get the served look (zoom, colour, number badge, JPEG)."""

    def __init__(
        self, root: Path, tiles: Sequence[Tile], classes: Sequence[str], size: int, seed: int
    ) -> None:
        transform = v2.Compose(
            [
                v2.PILToTensor(),
                v2.RandomResizedCrop(size, scale=(0.6, 1.0), antialias=True),
                v2.RandomHorizontalFlip(),
                v2.ColorJitter(0.2, 0.2, 0.2),
                v2.ToDtype(torch.float32, scale=True),
                v2.Normalize(MEAN, STD),
            ]
        )
        super().__init__(root, tiles, classes, transform)
        self.rng = random.Random(seed)
        self.variation = VariationConfig()

    def varied(self, image: Image.Image) -> Image.Image:
        """Half of the draws as a problem serves them, numbered 1-9 (the attacker sees served tiles)."""
        if self.rng.random() < 0.5:
            return render_tile(image, self.rng.randint(1, 9), self.rng, self.variation).image
        return image


class AttackerScorer:
    """The trained attacker as a batched scorer (same interface as the served classifier)."""

    def __init__(self, model: nn.Module, spec: ClassifierSpec) -> None:
        self.model = model.eval()
        self.spec = spec

    @property
    def classes(self) -> tuple[str, ...]:
        """Output order of :meth:`predict_proba`."""
        return self.spec.classes

    @torch.inference_mode()
    def predict_proba(self, images: Sequence[Image.Image]) -> np.ndarray:
        """Softmax probabilities, shape ``(len(images), len(classes))``."""
        if not images:
            return np.zeros((0, len(self.classes)), np.float32)
        return self.model(images_to_tensor(images, self.spec)).softmax(dim=1).numpy()


def train_attacker(
    root: Path, train_tiles: Sequence[Tile], classes: Sequence[str], cfg: AttackerParams, seed: int
) -> AttackerScorer:
    """Trains the attacker's CNN from scratch on ``train_tiles`` (CPU; about a minute on two cores)."""
    torch.manual_seed(seed)
    model = SmallCNN(len(classes))
    dataset = _AttackerTiles(root, train_tiles, classes, cfg.input_size, seed)
    loader = DataLoader(
        dataset,
        batch_size=cfg.batch_size,
        shuffle=True,
        drop_last=True,
        generator=torch.Generator().manual_seed(seed),
    )
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=cfg.lr, total_steps=cfg.epochs * len(loader)
    )
    loss_fn = nn.CrossEntropyLoss(label_smoothing=0.05)
    for epoch in range(1, cfg.epochs + 1):
        started, total, correct, seen = time.perf_counter(), 0.0, 0, 0
        model.train()
        for images, labels in loader:
            logits = model(images)
            loss = loss_fn(logits, labels)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
            total += float(loss.detach()) * len(labels)
            correct += int((logits.argmax(dim=1) == labels).sum())
            seen += len(labels)
        logger.info(
            "attacker epoch %d/%d: loss %.4f acc %.4f | %.1f s",
            epoch,
            cfg.epochs,
            total / seen,
            correct / seen,
            time.perf_counter() - started,
        )
    spec = ClassifierSpec(arch=ARCH, classes=tuple(classes), input_size=cfg.input_size)
    return AttackerScorer(model, spec)


@dataclass(frozen=True)
class AttackReport:
    """How the attacker fared on served problems."""

    problems: int
    solved: int
    tile_accuracy: float

    @property
    def solve_rate(self) -> float:
        """Share of problems answered exactly (right tiles, right order)."""
        return self.solved / self.problems if self.problems else 0.0


def attack(
    problems: Sequence[tuple[ClientProblem, ProblemAnswer]],
    scorer: AttackerScorer,
    select_prob: float,
    min_targets: int,
    max_targets: int,
) -> AttackReport:
    """Solves each problem from its client view only (plus the stamped numbers) and checks the answer."""
    images = [_decode(t.jpeg) for client, _ in problems for t in client.tiles]
    probs = scorer.predict_proba(images)
    solved, tiles_right, start = 0, 0, 0
    for client, answer in problems:
        rows = probs[start : start + len(client.tiles)]
        start += len(client.tiles)
        p_target = rows[:, scorer.classes.index(client.target.key)]
        n_pick = int(np.clip((p_target >= select_prob).sum(), min_targets, max_targets))
        picked = [client.tiles[i].tile_id for i in np.argsort(-p_target, kind="stable")[:n_pick]]
        submitted = sorted(picked, key=answer.numbers.__getitem__)
        solved += tiles_in_order(answer.answer, submitted)
        truth = {t for t, c in answer.tile_classes.items() if c == answer.target}
        tiles_right += sum((t.tile_id in picked) == (t.tile_id in truth) for t in client.tiles)
    return AttackReport(len(problems), solved, tiles_right / max(1, len(images)))


def _decode(jpeg: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(jpeg))
    image.load()
    return image


def random_guess_solve_rate(min_targets: int, max_targets: int, cells: int = 9) -> float:
    """Solve rate of a bot that picks a random allowed subset (and reads the numbers): the floor."""
    return 1.0 / sum(comb(cells, k) for k in range(min_targets, max_targets + 1))
