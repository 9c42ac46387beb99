"""An independent forward pass of EfficientNet-Lite0 written straight from the source checkpoint's keys.

It shares no code with timm: the block layout (kernel sizes read from the weights, strides and residuals
from the published Lite0 definition), TensorFlow "same" padding, BN epsilon 1e-3 and ReLU6 are spelled out
here, so agreement with the converted timm model checks the tensor-by-tensor mapping, not timm against itself.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import torch
import torch.nn.functional as F  # noqa: N812

# EfficientNet-Lite0: (repeats, stride of the first block) per stage; expansion 1 in stage 1, else 6.
_STAGES = ((1, 1), (2, 2), (2, 2), (3, 2), (3, 1), (4, 2), (1, 1))
_BN_EPS = 1e-3


def _block_strides() -> list[int]:
    return [stride if i == 0 else 1 for repeats, stride in _STAGES for i in range(repeats)]


def _same_pad(x: torch.Tensor, kernel: int, stride: int) -> torch.Tensor:
    pads = []
    for size in (x.shape[-1], x.shape[-2]):
        total = max((math.ceil(size / stride) - 1) * stride + kernel - size, 0)
        pads += [total // 2, total - total // 2]
    return F.pad(x, pads)


def _conv(x: torch.Tensor, w: torch.Tensor, stride: int = 1, groups: int = 1) -> torch.Tensor:
    return F.conv2d(_same_pad(x, w.shape[-1], stride), w, stride=stride, groups=groups)


def _bn(x: torch.Tensor, sd: Mapping[str, torch.Tensor], prefix: str) -> torch.Tensor:
    return F.batch_norm(
        x,
        sd[f"{prefix}.running_mean"],
        sd[f"{prefix}.running_var"],
        sd[f"{prefix}.weight"],
        sd[f"{prefix}.bias"],
        training=False,
        eps=_BN_EPS,
    )


def forward(sd: Mapping[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """ImageNet logits of the lukemelas-style state dict ``sd`` for a normalised NCHW batch."""
    x = F.relu6(_bn(_conv(x, sd["_conv_stem.weight"], stride=2), sd, "_bn0"))
    for i, stride in enumerate(_block_strides()):
        p = f"_blocks.{i}"
        inputs = x
        if f"{p}._expand_conv.weight" in sd:
            x = F.relu6(_bn(_conv(x, sd[f"{p}._expand_conv.weight"]), sd, f"{p}._bn0"))
        dw = sd[f"{p}._depthwise_conv.weight"]
        x = F.relu6(_bn(_conv(x, dw, stride=stride, groups=dw.shape[0]), sd, f"{p}._bn1"))
        x = _bn(_conv(x, sd[f"{p}._project_conv.weight"]), sd, f"{p}._bn2")
        if stride == 1 and x.shape == inputs.shape:
            x = x + inputs
    x = F.relu6(_bn(_conv(x, sd["_conv_head.weight"]), sd, "_bn1"))
    return F.linear(x.mean(dim=(2, 3)), sd["_fc.weight"], sd["_fc.bias"])
