"""Per-serve variation of bank tiles."""

from __future__ import annotations

import hashlib
import io
import random

import numpy as np
import pytest
from PIL import Image
from pydantic import ValidationError

from tcurity.images.render import VariationConfig, render_tile


@pytest.fixture
def source() -> Image.Image:
    gradient = np.add.outer(np.arange(100), np.arange(100)).astype(np.uint8)
    return Image.fromarray(np.stack([gradient, gradient[::-1], np.full_like(gradient, 90)], axis=-1))


def test_a_rendered_tile_is_a_decodable_jpeg_of_the_tile_size(source: Image.Image) -> None:
    tile = render_tile(source, 7, random.Random(0), VariationConfig())
    decoded = Image.open(io.BytesIO(tile.jpeg))
    assert decoded.format == "JPEG"
    assert decoded.size == tile.image.size == (120, 120)
    assert np.array_equal(np.asarray(decoded.convert("RGB")), np.asarray(tile.image.convert("RGB")))


def test_every_rendering_of_one_source_differs_in_bytes(source: Image.Image) -> None:
    rng = random.Random(1)
    digests = {
        hashlib.sha256(render_tile(source, 3, rng, VariationConfig()).jpeg).digest() for _ in range(50)
    }
    assert len(digests) == 50


def test_rendering_is_reproducible_from_the_generator_state(source: Image.Image) -> None:
    first = render_tile(source, 5, random.Random(42), VariationConfig())
    again = render_tile(source, 5, random.Random(42), VariationConfig())
    assert first.jpeg == again.jpeg


def test_the_view_never_leaves_the_source(source: Image.Image) -> None:
    """Rotation is paid for with zoom: no corner of a rendered tile is filled with black."""
    cfg = VariationConfig(max_rotation_deg=10.0, max_zoom=1.0, max_brightness=0.0, max_channel_gain=0.0)
    rng = random.Random(3)
    for _ in range(20):
        pixels = np.asarray(render_tile(source, 1, rng, cfg).image.convert("RGB")).astype(int)
        for corner in (pixels[-2:, :2], pixels[-2:, -2:], pixels[:2, -2:]):
            assert corner[..., 2].min() > 60  # the source's blue channel is 90 everywhere


def test_bad_ranges_are_refused() -> None:
    with pytest.raises(ValidationError):
        VariationConfig(jpeg_quality_min=90, jpeg_quality_max=70)
    with pytest.raises(ValidationError):
        VariationConfig(min_zoom=1.3, max_zoom=1.1)
