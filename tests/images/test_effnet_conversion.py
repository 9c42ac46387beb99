"""The vendored lukemelas-style EfficientNet-Lite0 weights, converted into timm's ``tf_efficientnet_lite0``."""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

import pytest
import timm
import torch

from tcurity.config import params, resolve
from tcurity.images.classifier import ClassifierSpec, images_to_tensor
from tcurity.images.effnet import (
    ARCH,
    build_lite0,
    convert_state_dict,
    fold_batchnorm,
    load_source_state_dict,
)
from tcurity.images.tiles import list_tiles
from tcurity.images.train import load_images
from tests.images import lite0_reference

# ImageNet-1k indices: traffic light; school bus, minibus, trolleybus, passenger car (rail).
TRAFFIC_LIGHT = {920}
BUSES = {779, 654, 874, 705}


@pytest.fixture(scope="module")
def source() -> OrderedDict[str, torch.Tensor]:
    return load_source_state_dict()


@pytest.fixture(scope="module")
def imagenet_model() -> torch.nn.Module:
    return build_lite0().eval()


@pytest.fixture(scope="module")
def tiles_root() -> Path:
    return resolve(params().data.tiles_dir)


def test_every_tensor_lands_on_the_same_shape_and_kind(source: OrderedDict[str, torch.Tensor]) -> None:
    target = timm.create_model(ARCH, pretrained=False).state_dict()
    converted = convert_state_dict(source, target)
    assert list(converted) == list(target)
    assert len(converted) == len(source) == 296
    for (key, tensor), src in zip(converted.items(), source.values(), strict=True):
        assert tensor.shape == target[key].shape
        assert torch.equal(tensor, src)


def test_conversion_refuses_orders_that_do_not_fit(source: OrderedDict[str, torch.Tensor]) -> None:
    target = timm.create_model(ARCH, pretrained=False).state_dict()
    short = OrderedDict(list(source.items())[:-1])
    with pytest.raises(ValueError, match="tensors"):
        convert_state_dict(short, target)
    items = list(source.items())
    items[1], items[2] = items[2], items[1]  # bn weight and bias: same shape, so only the kind check sees it
    with pytest.raises(ValueError, match="does not fit"):
        convert_state_dict(OrderedDict(items), target)


def test_converted_model_computes_what_the_source_weights_define(
    source: OrderedDict[str, torch.Tensor], imagenet_model: torch.nn.Module, tiles_root: Path
) -> None:
    """Same logits as an independent functional Lite0 fed with the source state dict, on noise and tiles."""
    spec = ClassifierSpec(classes=tuple(str(i) for i in range(1000)), input_size=112)
    tiles = list_tiles(tiles_root)[::900]
    batch = torch.cat([torch.randn(2, 3, 112, 112), images_to_tensor(load_images(tiles_root, tiles), spec)])
    with torch.no_grad():
        expected = lite0_reference.forward(source, batch)
        got = imagenet_model(batch)
    assert torch.allclose(got, expected, atol=1e-4, rtol=1e-4)
    assert torch.equal(got.argmax(dim=1), expected.argmax(dim=1))


def test_imagenet_predictions_for_obvious_tiles_are_sensible(
    imagenet_model: torch.nn.Module, tiles_root: Path
) -> None:
    """Before any fine-tuning, buses look like ImageNet buses and traffic lights like traffic lights."""
    spec = ClassifierSpec(classes=tuple(str(i) for i in range(1000)), input_size=224)
    tiles = list_tiles(tiles_root)
    for label, wanted, at_least in (("bus", BUSES, 5), ("traffic_light", TRAFFIC_LIGHT, 3)):
        images = load_images(tiles_root, [t for t in tiles if t.label == label][:12])
        with torch.no_grad():
            top5 = imagenet_model(images_to_tensor(images, spec)).topk(5).indices.tolist()
        hits = sum(bool(wanted & set(row)) for row in top5)
        assert hits >= at_least, f"{label}: {hits}/12 tiles have an expected ImageNet class in their top 5"


def test_fine_tuning_model_keeps_the_backbone_and_starts_from_a_zero_head(
    imagenet_model: torch.nn.Module,
) -> None:
    model = build_lite0(num_classes=9)
    head = model.get_submodule("classifier")
    assert isinstance(head, torch.nn.Linear)
    assert head.out_features == 9
    assert not head.weight.any()
    assert torch.equal(
        model.state_dict()["conv_head.weight"], imagenet_model.state_dict()["conv_head.weight"]
    )


def test_folding_batch_norms_keeps_the_outputs(imagenet_model: torch.nn.Module) -> None:
    batch = torch.randn(3, 3, 96, 96)
    folded = fold_batchnorm(imagenet_model)
    with torch.no_grad():
        assert torch.allclose(folded(batch), imagenet_model(batch), atol=1e-4, rtol=1e-4)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in folded.modules())
