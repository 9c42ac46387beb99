"""The frozen stages' maps cached on disk, and the CPU profile's training on them (small real tile sets)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from PIL import Image

from tcurity.config import params, resolve
from tcurity.images.classes import CLASSES
from tcurity.images.classifier import ClassifierSpec, images_to_tensor
from tcurity.images.effnet import build_lite0
from tcurity.images.features import VIEWS, cached_features, feature_key, frozen_trunk
from tcurity.images.tiles import Tile, list_tiles
from tcurity.images.train import TrainConfig, fit, load_images


@pytest.fixture(scope="module")
def root() -> Path:
    return resolve(params().data.tiles_dir)


@pytest.fixture(scope="module")
def few(root: Path) -> list[Tile]:
    """Three real tiles of every class (27 tiles)."""
    tiles = list_tiles(root)
    return [t for label in CLASSES for t in [t for t in tiles if t.label == label][:3]]


def test_the_key_changes_with_each_thing_the_maps_depend_on(root: Path, few: list[Tile]) -> None:
    key = feature_key(root, few, input_size=64, frozen_stages=3)
    assert feature_key(root, few, 64, 3) == key
    assert feature_key(root, few, 96, 3).digest() != key.digest()
    assert feature_key(root, few, 64, 4).digest() != key.digest()
    assert feature_key(root, few[:-1], 64, 3).digest() != key.digest()
    relabelled = [*few[:-1], Tile(few[-1].path, "other")]
    assert feature_key(root, relabelled, 64, 3).digest() != key.digest()
    with pytest.raises(ValueError, match="at least one frozen"):
        feature_key(root, few, 64, 0)


def test_the_cache_is_read_back_and_a_file_of_another_key_is_recomputed(
    root: Path, few: list[Tile], tmp_path: Path
) -> None:
    model = build_lite0(num_classes=len(CLASSES))
    first = cached_features(tmp_path, model, root, few, 64, 3, torch.device("cpu"))
    assert first.seconds > 0
    # 64 px through the stem and three stages (strides 2, 1, 2, 2): 8 x 8 maps of stage 2's 40 channels.
    assert {view: tuple(m.shape) for view, m in first.maps.items()} == dict.fromkeys(VIEWS, (27, 40, 8, 8))
    assert first.maps[VIEWS[0]].dtype == torch.float16
    again = cached_features(tmp_path, model, root, few, 64, 3, torch.device("cpu"))
    assert again.seconds == 0.0
    assert all(torch.equal(again.maps[v], first.maps[v]) for v in VIEWS)

    (path,) = tmp_path.glob("effnet-features-*.pt")
    stale = torch.load(path, weights_only=True)
    stale["key"] = stale["key"].replace('"input_size":64', '"input_size":65')
    torch.save(stale, path)
    recomputed = cached_features(tmp_path, model, root, few, 64, 3, torch.device("cpu"))
    assert recomputed.seconds > 0
    assert all(torch.equal(recomputed.maps[v], first.maps[v]) for v in VIEWS)


def test_the_cached_maps_are_what_the_whole_network_computes_inside(root: Path, few: list[Tile]) -> None:
    model = build_lite0(num_classes=len(CLASSES)).eval()
    maps = cached_features(None, model, root, few, 64, 3, torch.device("cpu")).maps
    spec = ClassifierSpec(classes=CLASSES, input_size=64)
    images = load_images(root, few)
    with torch.no_grad():
        trunk = frozen_trunk(model, 3)
        assert torch.allclose(maps["as_read"].float(), trunk(images_to_tensor(images, spec)), atol=2e-2)
        mirrored = [im.transpose(Image.Transpose.FLIP_LEFT_RIGHT) for im in images]
        assert torch.allclose(maps["mirrored"].float(), trunk(images_to_tensor(mirrored, spec)), atol=2e-2)


def _config(seed: int) -> TrainConfig:
    return TrainConfig(
        input_size=64,
        epochs=2,
        batch_size=9,
        lr=0.003,
        weight_decay=1e-4,
        label_smoothing=0.0,
        freeze_stages=5,
        min_crop_scale=1.0,
        max_train_minutes=5.0,
        seed=seed,
        device="cpu",
        cache_features=True,
        dropout=0.2,
    )


def test_training_on_cached_maps_is_deterministic_and_keeps_the_frozen_stages(
    root: Path, few: list[Tile], tmp_path: Path
) -> None:
    torch.set_num_threads(1)
    # The first build in a process converts the weights, drawing from the global generator that dropout draws
    # from later; built once here, every fit below starts from the same state (as each stage's one fit does).
    build_lite0(num_classes=len(CLASSES))
    train, val = few[::2] + few[1::6], few[3::6]
    first = fit(root, train, val, _config(seed=1), cache_dir=tmp_path)
    second = fit(root, train, val, _config(seed=1), cache_dir=tmp_path)
    other = fit(root, train, val, _config(seed=2), cache_dir=tmp_path)
    a, b, c = (r.model.state_dict() for r in (first, second, other))
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not torch.equal(a["classifier.weight"], c["classifier.weight"])
    pretrained = build_lite0(num_classes=len(CLASSES)).state_dict()
    # The stem and the first five stages are the pretrained ones; stage 6 and the head were trained.
    assert all(torch.equal(a[k], pretrained[k]) for k in a if k.startswith(("conv_stem", "bn1", "blocks.4")))
    assert not torch.equal(a["blocks.6.0.conv_pw.weight"], pretrained["blocks.6.0.conv_pw.weight"])
    assert [s.epoch for s in first.history] == [1, 2]
    assert first.n_train == len(train) and first.n_val == len(val)
    assert int(first.val_confusion.sum()) == len(val)
    assert first.val_accuracy == pytest.approx(float(first.val_confusion.trace()) / len(val))


def test_the_end_to_end_profile_trains_on_the_same_path_and_is_deterministic_too(
    root: Path, few: list[Tile]
) -> None:
    """The GPU profile's way (no cache: decoded, cropped, flipped, jittered tiles), run on the CPU."""
    torch.set_num_threads(1)
    train, val = few[::2] + few[1::6], few[3::6]
    cfg = _config(seed=3).model_copy(
        update={"cache_features": False, "freeze_stages": 2, "min_crop_scale": 0.7}
    )
    first, second = fit(root, train, val, cfg), fit(root, train, val, cfg)
    a, b = first.model.state_dict(), second.model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    pretrained = build_lite0(num_classes=len(CLASSES)).state_dict()
    assert torch.equal(a["blocks.1.0.conv_pw.weight"], pretrained["blocks.1.0.conv_pw.weight"])
    assert not torch.equal(a["blocks.2.0.conv_pw.weight"], pretrained["blocks.2.0.conv_pw.weight"])
    assert first.val_accuracy == pytest.approx(float(first.val_confusion.trace()) / len(val))
