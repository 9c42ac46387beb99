"""Fine-tuning EfficientNet-Lite0 on the tiles, and recording the result in MLflow (pipelines and notebooks).

The backbone starts from the converted ImageNet weights (:mod:`tcurity.images.effnet`). Two ways to train:

- **cached features** (``cache_features``, the CPU profile): the stem and the first ``freeze_stages`` stages are
  frozen and run once per tile and view (:mod:`tcurity.images.features`, cached on disk); each epoch trains only
  the remaining stages and the head on those maps, mirrored or not per draw. An epoch then costs seconds, not
  minutes, so a larger input size and more epochs fit the CPU budget;
- **end to end** (the GPU profile): every batch is decoded, cropped, flipped and colour-jittered, and the
  network from ``freeze_stages`` on is trained on it, with mixed precision on CUDA.

Both run on CPU or CUDA. Validation reads tiles exactly as serving does
(:func:`tcurity.images.classifier.images_to_tensor`), and the epoch with the best validation accuracy is kept;
the kept model's validation accuracy is measured once more through the whole network, as serving runs it.
"""

from __future__ import annotations

import copy
import json
import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from pydantic import BaseModel, ConfigDict
from sklearn.metrics import confusion_matrix
from torch import nn
from torch.utils.data import DataLoader, Dataset
from torchvision.transforms import v2

from tcurity.config import TrainProfile
from tcurity.images.classes import CLASSES
from tcurity.images.classifier import ClassifierSpec, images_to_tensor, resolve_device, save_classifier
from tcurity.images.effnet import MEAN, STD, backbone_stages, build_lite0
from tcurity.images.features import VIEWS, cached_features
from tcurity.images.tiles import Tile

logger = logging.getLogger(__name__)

TRAINING_FILE = "training.json"
SCHEDULE_SLACK = 0.05
"""How far the clock may run ahead of the step count before the learning rate follows the clock."""


class TrainConfig(BaseModel):
    """One run's schedule (a profile of ``params.yaml: train_effnet``) plus seed and device."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    input_size: int
    epochs: int
    batch_size: int
    lr: float
    weight_decay: float
    label_smoothing: float
    freeze_stages: int
    min_crop_scale: float
    max_train_minutes: float
    seed: int
    device: str = "auto"
    loader_workers: int = 0
    cache_features: bool = False
    dropout: float = 0.0

    @classmethod
    def from_profile(cls, profile: TrainProfile, seed: int, device: str = "auto") -> TrainConfig:
        """The config of a ``params.yaml`` profile."""
        return cls(seed=seed, device=device, **profile.model_dump())


@dataclass(frozen=True, slots=True)
class EpochStats:
    """Per-epoch progress, logged to MLflow (step = epoch) and to the DVC plot."""

    epoch: int
    train_loss: float
    train_accuracy: float
    val_loss: float
    val_accuracy: float
    lr: float
    seconds: float


@dataclass
class TrainResult:
    """A trained classifier and how it got there."""

    model: nn.Module
    spec: ClassifierSpec
    history: list[EpochStats]
    best_epoch: int
    val_accuracy: float
    val_confusion: np.ndarray
    device: str
    seconds: float
    n_train: int
    n_val: int


class TileDataset(Dataset[tuple[torch.Tensor, int]]):
    """Labelled tiles read from disk and augmented per draw (decoding a 120 px JPEG is cheap)."""

    def __init__(
        self,
        root: Path,
        tiles: Sequence[Tile],
        classes: Sequence[str],
        transform: Callable[[Image.Image], torch.Tensor],
    ) -> None:
        self.root = root
        self.tiles = list(tiles)
        self.index = {c: i for i, c in enumerate(classes)}
        self.transform = transform

    def __len__(self) -> int:
        return len(self.tiles)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        tile = self.tiles[i]
        with Image.open(self.root / tile.path) as raw:
            image = raw.convert("RGB")
        return self.transform(self.varied(image)), self.index[tile.label]

    def varied(self, image: Image.Image) -> Image.Image:
        """The tile as drawn, before the transform: as read here; a subclass may vary it first."""
        return image


def train_transform(input_size: int, min_crop_scale: float) -> Callable[[Image.Image], torch.Tensor]:
    """Training augmentation: crop and zoom, flip, colour — at least as wide as serving's variation.

    A short schedule learns faster from milder crops (``min_crop_scale`` near 0.7); a long one can afford
    harder ones.
    """
    return v2.Compose(
        [
            v2.PILToTensor(),
            v2.RandomResizedCrop(input_size, scale=(min_crop_scale, 1.0), ratio=(0.85, 1.18), antialias=True),
            v2.RandomHorizontalFlip(),
            v2.ColorJitter(brightness=0.2, contrast=0.2, saturation=0.2, hue=0.02),
            v2.ToDtype(torch.float32, scale=True),
            v2.Normalize(MEAN, STD),
        ]
    )


def load_images(root: Path, tiles: Sequence[Tile]) -> list[Image.Image]:
    """Decoded RGB tiles, in order."""
    images = []
    for tile in tiles:
        with Image.open(root / tile.path) as raw:
            images.append(raw.convert("RGB"))
    return images


def fit(
    root: Path,
    train_tiles: Sequence[Tile],
    val_tiles: Sequence[Tile],
    cfg: TrainConfig,
    classes: Sequence[str] = CLASSES,
    cache_dir: Path | None = None,
) -> TrainResult:
    """Fine-tunes the pretrained EfficientNet-Lite0 and returns the best epoch's model (on CPU).

    With ``cfg.cache_features`` the frozen stages' maps are read from (or computed once into) ``cache_dir``
    (:mod:`tcurity.images.features`; ``None`` computes them without keeping them) and only the rest is trained.
    The run ends after ``cfg.epochs`` epochs or at ``cfg.max_train_minutes`` (computing the maps included),
    whichever comes first: the learning rate decays over whichever of the two is further along, so a run cut
    short by a busy machine still ends annealed (its last, partial epoch is validated like the others). The
    returned validation accuracy and confusion are the kept model's, run whole on the validation tiles.
    """
    torch.manual_seed(cfg.seed)
    started = time.perf_counter()
    run: _Run | _CachedRun = (
        _CachedRun(root, train_tiles, val_tiles, cfg, classes, cache_dir)
        if cfg.cache_features
        else _Run(root, train_tiles, val_tiles, cfg, classes)
    )
    history: list[EpochStats] = []
    best: tuple[float, int, dict[str, torch.Tensor]] | None = None
    for epoch in range(1, cfg.epochs + 1):
        stats = run.epoch(epoch)
        history.append(stats)
        if best is None or stats.val_accuracy > best[0]:
            best = (stats.val_accuracy, epoch, copy.deepcopy(run.model.state_dict()))
        if run.out_of_time():
            if epoch < cfg.epochs:
                logger.warning("time budget of %.1f min reached in epoch %d", cfg.max_train_minutes, epoch)
            break
    if best is None:
        raise ValueError("no epoch ran: epochs must be at least 1")
    _, best_epoch, best_state = best
    run.model.load_state_dict(best_state)
    predicted = predict_logits(run.model, run.spec, load_images(root, val_tiles), run.device).argmax(dim=1)
    val_labels = np.array([run.spec.classes.index(t.label) for t in val_tiles])
    best_acc = float((predicted.numpy() == val_labels).mean())
    confusion = confusion_matrix(val_labels, predicted.numpy(), labels=range(len(classes)))
    model = run.model.cpu().to(memory_format=torch.contiguous_format).eval()
    seconds = time.perf_counter() - started
    logger.info(
        "best epoch %d: val accuracy %.4f (whole network; %.1f s in all)", best_epoch, best_acc, seconds
    )
    return TrainResult(
        model,
        run.spec,
        history,
        best_epoch,
        best_acc,
        confusion,
        str(run.device),
        seconds,
        len(train_tiles),
        len(val_tiles),
    )


def _epoch_stats(
    epoch: int,
    cfg: TrainConfig,
    train_loss: float,
    train_acc: float,
    val_logits: torch.Tensor,
    val_labels: np.ndarray,
    scheduler: torch.optim.lr_scheduler.LambdaLR,
    started: float,
) -> EpochStats:
    """One epoch's stats from its training figures and validation logits; logs the progress line."""
    val_loss = float(nn.functional.cross_entropy(val_logits, torch.from_numpy(val_labels)))
    predicted = val_logits.argmax(dim=1).numpy()
    stats = EpochStats(
        epoch,
        train_loss,
        train_acc,
        val_loss,
        float((predicted == val_labels).mean()),
        float(scheduler.get_last_lr()[0]),
        time.perf_counter() - started,
    )
    logger.info(
        "epoch %d/%d: train loss %.4f acc %.4f | val loss %.4f acc %.4f | lr %.2e | %.1f s",
        epoch,
        cfg.epochs,
        stats.train_loss,
        stats.train_accuracy,
        stats.val_loss,
        stats.val_accuracy,
        stats.lr,
        stats.seconds,
    )
    return stats


class _Run:
    """The moving parts of one end-to-end fine-tuning run: model, data, optimiser and schedule."""

    def __init__(
        self,
        root: Path,
        train_tiles: Sequence[Tile],
        val_tiles: Sequence[Tile],
        cfg: TrainConfig,
        classes: Sequence[str],
    ) -> None:
        self.cfg = cfg
        self.device = resolve_device(cfg.device)
        self.spec = ClassifierSpec(classes=tuple(classes), input_size=cfg.input_size)
        self.model = (
            build_lite0(num_classes=len(classes)).to(self.device).to(memory_format=torch.channels_last)
        )
        self.frozen = _freeze(self.model, cfg.freeze_stages)
        # Seeded again once the model is built: building draws from the global generator or not (the converted
        # weights are cached per process), and the augmentations draw from it.
        torch.manual_seed(cfg.seed)
        self.loader = _train_loader(root, train_tiles, classes, cfg, self.device)
        self.val_images = load_images(root, val_tiles)
        self.val_labels = np.array([self.spec.classes.index(t.label) for t in val_tiles])
        self.started = time.perf_counter()
        self.budget_s = cfg.max_train_minutes * 60.0
        self.optimizer, self.scheduler, self.loss_fn = _optimisation(
            self.model, cfg, len(self.loader), self.time_progress
        )
        logger.info(
            "training on %s: %d train / %d val tiles, %d px, %d epochs, %d frozen stages",
            self.device,
            len(train_tiles),
            len(val_tiles),
            cfg.input_size,
            cfg.epochs,
            cfg.freeze_stages,
        )

    def epoch(self, epoch: int) -> EpochStats:
        """Trains one epoch, validates, logs the progress line; returns the stats."""
        started = time.perf_counter()
        train_loss, train_acc = self._train()
        logits = predict_logits(self.model, self.spec, self.val_images, self.device)
        return _epoch_stats(
            epoch, self.cfg, train_loss, train_acc, logits, self.val_labels, self.scheduler, started
        )

    def time_progress(self) -> float:
        """Share of the time budget used so far."""
        return (time.perf_counter() - self.started) / self.budget_s

    def out_of_time(self) -> bool:
        """Whether the time budget is spent (training stops mid-epoch then)."""
        return self.time_progress() >= 1.0

    def _train(self) -> tuple[float, float]:
        """One pass over the training tiles; mean loss and accuracy (on augmented tiles)."""
        self.model.train()
        for module in self.frozen:
            module.eval()
        total_loss, correct, seen = 0.0, 0, 0
        on_cuda = self.device.type == "cuda"
        for batch, targets in self.loader:
            images = batch.to(self.device, non_blocking=True, memory_format=torch.channels_last)
            labels = targets.to(self.device, non_blocking=True)
            loss_sum, hits = _train_step(self, self.model, images, labels, on_cuda)
            total_loss += loss_sum
            correct += hits
            seen += len(labels)
            if self.out_of_time():
                break
        return total_loss / max(seen, 1), correct / max(seen, 1)


class _CachedRun:
    """A run that trains only the stages after the frozen ones, and the head, on the frozen stages' cached maps.

    Each draw of a training tile takes its map as read or mirrored (a coin per tile and epoch, from the run's
    seeded generator), and each batch a random window of the maps (``cfg.min_crop_scale``); dropout before the
    classifier (``cfg.dropout``) and weight decay are the other regularisers.
    """

    def __init__(
        self,
        root: Path,
        train_tiles: Sequence[Tile],
        val_tiles: Sequence[Tile],
        cfg: TrainConfig,
        classes: Sequence[str],
        cache_dir: Path | None,
    ) -> None:
        if cfg.freeze_stages < 1:
            raise ValueError("cache_features needs freeze_stages of at least 1")
        self.started = time.perf_counter()
        self.cfg = cfg
        self.device = resolve_device(cfg.device)
        self.spec = ClassifierSpec(classes=tuple(classes), input_size=cfg.input_size)
        self.model: Any = build_lite0(num_classes=len(classes)).to(self.device)  # timm: attributes untyped
        self.model = self.model.to(memory_format=torch.channels_last)
        self.model.drop_rate = cfg.dropout  # timm's EfficientNet drops pooled features before the classifier
        self.frozen = _freeze(self.model, cfg.freeze_stages)
        self.tail_stages = list(self.model.blocks)[cfg.freeze_stages :]
        tiles = [*train_tiles, *val_tiles]
        features = cached_features(
            cache_dir, self.model, root, tiles, cfg.input_size, cfg.freeze_stages, self.device
        )
        self.train_started = time.perf_counter()
        n = len(train_tiles)
        self.views = [features.maps[view][:n] for view in VIEWS]
        self.val_maps = features.maps[VIEWS[0]][n:]
        index = {c: i for i, c in enumerate(classes)}
        self.train_labels = torch.tensor([index[t.label] for t in train_tiles])
        self.val_labels = np.array([index[t.label] for t in val_tiles])
        self.generator = torch.Generator().manual_seed(cfg.seed)
        self.steps_per_epoch = max(1, n // cfg.batch_size)
        self.budget_s = cfg.max_train_minutes * 60.0
        self.optimizer, self.scheduler, self.loss_fn = _optimisation(
            self.model, cfg, self.steps_per_epoch, self.time_progress
        )
        logger.info(
            "training on %s from cached maps %s: %d train / %d val tiles, %d px, %d epochs, %d frozen stages",
            self.device,
            tuple(self.val_maps.shape[1:]),
            n,
            len(val_tiles),
            cfg.input_size,
            cfg.epochs,
            cfg.freeze_stages,
        )

    def tail(self, maps: torch.Tensor) -> torch.Tensor:
        """Logits from frozen-stage maps: the remaining stages, the head convolution, pooling and classifier."""
        x = maps.to(self.device, dtype=torch.float32, non_blocking=True, memory_format=torch.channels_last)
        for stage in self.tail_stages:
            x = stage(x)
        return self.model.forward_head(self.model.bn2(self.model.conv_head(x)))

    def epoch(self, epoch: int) -> EpochStats:
        """Trains one pass over the cached training maps, validates on the cached validation maps."""
        started = time.perf_counter()
        train_loss, train_acc = self._train()
        return _epoch_stats(
            epoch,
            self.cfg,
            train_loss,
            train_acc,
            self._val_logits(),
            self.val_labels,
            self.scheduler,
            started,
        )

    def time_progress(self) -> float:
        """Share of the training time left after computing the maps that is used so far."""
        left = self.budget_s - (self.train_started - self.started)
        return (time.perf_counter() - self.train_started) / max(left, 1e-9)

    def out_of_time(self) -> bool:
        """Whether the time budget (computing the maps included) is spent; training stops mid-epoch then."""
        return time.perf_counter() - self.started >= self.budget_s

    def _train(self) -> tuple[float, float]:
        self.model.train()
        for module in self.frozen:
            module.eval()
        n, bs = len(self.train_labels), self.cfg.batch_size
        order = torch.randperm(n, generator=self.generator)
        mirrored = torch.rand(n, generator=self.generator) < 0.5
        total_loss, correct, seen = 0.0, 0, 0
        on_cuda = self.device.type == "cuda"
        for step in range(self.steps_per_epoch):
            idx = order[step * bs : (step + 1) * bs]
            maps = self._crop(
                torch.where(mirrored[idx, None, None, None], self.views[1][idx], self.views[0][idx])
            )
            labels = self.train_labels[idx].to(self.device, non_blocking=True)
            loss_sum, hits = _train_step(self, self.tail, maps, labels, on_cuda)
            total_loss += loss_sum
            correct += hits
            seen += len(labels)
            if self.out_of_time():
                break
        return total_loss / max(seen, 1), correct / max(seen, 1)

    def _crop(self, maps: torch.Tensor) -> torch.Tensor:
        """A random square window of the batch's maps, one per batch: its side is drawn between
        ``sqrt(min_crop_scale)`` of the map's and all of it, its place uniformly (the cached counterpart of the
        end-to-end run's random crops; the tail pools globally, so any size fits)."""
        side = maps.shape[-1]
        smallest = min(side, math.ceil(math.sqrt(self.cfg.min_crop_scale) * side))
        crop = int(torch.randint(smallest, side + 1, (1,), generator=self.generator))
        top, left = (int(v) for v in torch.randint(0, side - crop + 1, (2,), generator=self.generator))
        return maps[:, :, top : top + crop, left : left + crop]

    @torch.inference_mode()
    def _val_logits(self, batch_size: int = 256) -> torch.Tensor:
        self.model.eval()
        chunks = [
            self.tail(self.val_maps[start : start + batch_size]).float().cpu()
            for start in range(0, len(self.val_maps), batch_size)
        ]
        return torch.cat(chunks)


def _train_step(
    run: _Run | _CachedRun,
    forward: Callable[[torch.Tensor], torch.Tensor],
    inputs: torch.Tensor,
    labels: torch.Tensor,
    on_cuda: bool,
) -> tuple[float, int]:
    """One optimiser step of either run on one batch: ``forward`` (the whole model, or the cached run's tail) under
    bfloat16 autocast on CUDA, the loss in float32, then the scheduler's step. Returns the batch's summed loss and
    its count of correct predictions, which the epoch's means are built from."""
    with torch.autocast(run.device.type, dtype=torch.bfloat16, enabled=on_cuda):
        logits = forward(inputs)
        loss = run.loss_fn(logits.float(), labels)
    run.optimizer.zero_grad(set_to_none=True)
    loss.backward()
    run.optimizer.step()
    run.scheduler.step()
    return float(loss.detach()) * len(labels), int((logits.argmax(dim=1) == labels).sum())


def _freeze(model: nn.Module, n_stages: int) -> list[nn.Module]:
    """Freezes the stem and the first ``n_stages`` stages; returns them (kept in eval mode while training)."""
    frozen = backbone_stages(model, n_stages) if n_stages > 0 else []
    for module in frozen:
        module.requires_grad_(False)
    return frozen


def _train_loader(
    root: Path, tiles: Sequence[Tile], classes: Sequence[str], cfg: TrainConfig, device: torch.device
) -> DataLoader[tuple[torch.Tensor, int]]:
    generator = torch.Generator().manual_seed(cfg.seed)
    dataset = TileDataset(root, tiles, classes, train_transform(cfg.input_size, cfg.min_crop_scale))
    return DataLoader(
        dataset,
        batch_size=cfg.batch_size,
        shuffle=True,
        drop_last=True,
        generator=generator,
        num_workers=cfg.loader_workers,
        pin_memory=device.type == "cuda",
        persistent_workers=cfg.loader_workers > 0,
    )


def _optimisation(
    model: nn.Module, cfg: TrainConfig, steps_per_epoch: int, time_progress: Callable[[], float]
) -> tuple[torch.optim.AdamW, torch.optim.lr_scheduler.LambdaLR, nn.CrossEntropyLoss]:
    """What both runs optimise with: AdamW on the trainable parameters, the warm-up and cosine schedule over
    ``cfg.epochs`` epochs of ``steps_per_epoch`` steps (half an epoch of warm-up), and the loss."""
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, cfg.lr, weight_decay=cfg.weight_decay)
    scheduler = _warmup_cosine(
        optimizer,
        steps=cfg.epochs * steps_per_epoch,
        warmup=max(1, steps_per_epoch // 2),
        time_progress=time_progress,
    )
    return optimizer, scheduler, nn.CrossEntropyLoss(label_smoothing=cfg.label_smoothing)


def _warmup_cosine(
    optimizer: torch.optim.Optimizer, steps: int, warmup: int, time_progress: Callable[[], float]
) -> torch.optim.lr_scheduler.LambdaLR:
    """Linear warm-up over ``warmup`` steps, then cosine decay to 1 % of the base rate.

    The decay follows the step count, so a seed gives the same run every time, unless the time budget
    (``time_progress``, 0 to 1) is further along than the share of all steps taken (warm-up included) by more
    than :data:`SCHEDULE_SLACK`: a machine too busy to finish the epochs in time then anneals by the clock instead
    (and that run is not reproducible). The clock is set against the whole schedule, for the warm-up takes time
    but no decay: set against the decay alone it ran ahead in every first epoch, and the rate followed the clock
    on any machine for part of it.
    """

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        progress = (step - warmup) / max(1, steps - warmup)
        clock = time_progress()
        if clock > step / steps + SCHEDULE_SLACK:  # behind the budget: decay as far as the clock has run
            progress = max(progress, (clock * steps - warmup) / max(1, steps - warmup))
        progress = min(1.0, progress)
        return 0.01 + 0.99 * 0.5 * (1.0 + math.cos(math.pi * progress))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


@torch.inference_mode()
def predict_logits(
    model: nn.Module,
    spec: ClassifierSpec,
    images: Sequence[Image.Image],
    device: torch.device,
    batch_size: int = 256,
) -> torch.Tensor:
    """Eval-mode logits (on CPU) for tiles, pre-processed exactly as serving does."""
    was_training = model.training
    model.eval()
    chunks = []
    for start in range(0, len(images), batch_size):
        batch = images_to_tensor(images[start : start + batch_size], spec)
        chunks.append(model(batch.to(device, memory_format=torch.channels_last)).float().cpu())
    model.train(was_training)
    return torch.cat(chunks) if chunks else torch.empty((0, len(spec.classes)))


def save_training_outputs(result: TrainResult, profile: str, model_dir: Path, history_path: Path) -> None:
    """Writes the model (``model.pt`` + ``classifier.json``), ``training.json`` and the per-epoch history."""
    save_classifier(result.model, result.spec, model_dir)
    summary = TrainingSummary(
        profile=profile,
        device=result.device,
        val_accuracy=result.val_accuracy,
        best_epoch=result.best_epoch,
        epochs_run=len(result.history),
        train_seconds=round(result.seconds, 1),
        n_train=result.n_train,
        n_val=result.n_val,
        val_confusion=result.val_confusion.tolist(),
    )
    (model_dir / TRAINING_FILE).write_text(summary.model_dump_json(indent=2) + "\n")
    history_path.parent.mkdir(parents=True, exist_ok=True)
    history_path.write_text(json.dumps([asdict(s) for s in result.history], indent=2) + "\n")


class TrainingSummary(BaseModel):
    """What a training run recorded beside the model (``training.json``), for evaluation and promotion."""

    model_config = ConfigDict(frozen=True)
    profile: str
    device: str
    val_accuracy: float
    best_epoch: int
    epochs_run: int
    train_seconds: float
    n_train: int
    n_val: int
    val_confusion: list[list[int]]


def read_training_summary(model_dir: Path) -> TrainingSummary:
    """What :func:`save_training_outputs` recorded about the run."""
    return TrainingSummary.model_validate_json((model_dir / TRAINING_FILE).read_text())
