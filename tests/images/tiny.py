"""A small real Phase B image stack for tests: a bank of real tiles and a real classifier fitted to it.

The bank is written by the real curation writer; the classifier is the converted ImageNet backbone with a
logistic head fitted to the bank's tiles (seconds on a CPU).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import torch
from sklearn.linear_model import LogisticRegression
from torch import nn

from tcurity.config import params, resolve
from tcurity.images.bank import ImageBank
from tcurity.images.classes import CLASSES
from tcurity.images.classifier import ClassifierSpec, images_to_tensor
from tcurity.images.curate import write_bank
from tcurity.images.effnet import build_lite0
from tcurity.images.tiles import list_tiles


def write_tiny_bank(out: Path, tiles_per_class: int = 7) -> Path:
    """Writes a bank of the first ``tiles_per_class`` real tiles of every class into ``out``; returns ``out``."""
    root = resolve(params().data.tiles_dir)
    tiles = list_tiles(root)
    chosen = [t for label in CLASSES for t in [t for t in tiles if t.label == label][:tiles_per_class]]
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
    write_bank(scores, root, out, threshold=0.9, model={"name": "fixture", "version": "0"})
    return out


def tiny_classifier(bank: ImageBank, input_size: int = 64) -> tuple[nn.Module, ClassifierSpec]:
    """The converted backbone with a logistic head fitted to ``bank``'s tiles, and its spec."""
    spec = ClassifierSpec(classes=CLASSES, input_size=input_size)
    model: Any = build_lite0(num_classes=len(CLASSES)).eval()  # timm: attributes typed as Tensor | Module
    images = [bank.image(t) for t in bank.tiles]
    with torch.no_grad():
        features = model.forward_head(model.forward_features(images_to_tensor(images, spec)), pre_logits=True)
    head = LogisticRegression(C=10.0, max_iter=2000).fit(features.numpy(), [t.label for t in bank.tiles])
    assert tuple(head.classes_) == CLASSES
    with torch.no_grad():
        model.classifier.weight.copy_(torch.from_numpy(head.coef_))
        model.classifier.bias.copy_(torch.from_numpy(head.intercept_))
    return model, spec
