"""Per-serve variation of a bank tile: what makes every served tile unique.

Each served tile is a fresh random zoom/rotation/shift of its source, a small brightness and per-channel
colour change, a stamped number badge, and a JPEG re-encode at a random quality, so the bytes (and any hash of
them) never repeat and cannot be looked up against the public tile set. All of it is Pillow on 120 px images:
a single affine resample, one lookup table, one badge, one encode — well under a millisecond per tile.
"""

from __future__ import annotations

import io
import math
import random
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from tcurity.config import VariationConfig

_RAMP = np.arange(256, dtype=np.float64)


@dataclass(frozen=True, slots=True)
class RenderedTile:
    """A served tile: the JPEG bytes sent to the client and the decoded image the classifier checks."""

    jpeg: bytes
    image: Image.Image


def render_tile(source: Image.Image, number: int, rng: random.Random, cfg: VariationConfig) -> RenderedTile:
    """A uniquely varied copy of ``source`` with ``number`` stamped on it, encoded as JPEG.

    The classifier checks the decoded JPEG (exactly what the client will see), not the pre-encode image.
    """
    image = _geometry(source, rng, cfg)
    image = image.point(_colour_table(rng, cfg))
    _stamp(image, number, rng, cfg)
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=rng.randint(cfg.jpeg_quality_min, cfg.jpeg_quality_max))
    jpeg = buffer.getvalue()
    decoded = Image.open(io.BytesIO(jpeg))
    decoded.load()
    return RenderedTile(jpeg=jpeg, image=decoded)


def _geometry(source: Image.Image, rng: random.Random, cfg: VariationConfig) -> Image.Image:
    """Zoom, rotate and shift in one affine resample; the view never leaves the source (no empty corners)."""
    width, height = source.size
    angle = math.radians(rng.uniform(-cfg.max_rotation_deg, cfg.max_rotation_deg))
    cos, sin = math.cos(angle), math.sin(angle)
    # A rotated square of side f fits inside the unit square when f * (|cos| + |sin|) <= 1.
    min_zoom = max(cfg.min_zoom, abs(cos) + abs(sin))
    zoom = rng.uniform(min_zoom, max(min_zoom, cfg.max_zoom))
    side = 1.0 / zoom
    slack = max(0.0, (1.0 - side * (abs(cos) + abs(sin))) / 2.0)
    shift_x, shift_y = rng.uniform(-slack, slack) * width, rng.uniform(-slack, slack) * height
    scale_x, scale_y = side * width / cfg.tile_px, side * height / cfg.tile_px
    half = cfg.tile_px / 2.0
    a, b = scale_x * cos, -scale_x * sin
    d, e = scale_y * sin, scale_y * cos
    c = width / 2.0 + shift_x - a * half - b * half
    f = height / 2.0 + shift_y - d * half - e * half
    return source.transform(
        (cfg.tile_px, cfg.tile_px), Image.Transform.AFFINE, (a, b, c, d, e, f), Image.Resampling.BILINEAR
    )


def _colour_table(rng: random.Random, cfg: VariationConfig) -> list[int]:
    """A 3 × 256 lookup table: one brightness change times a small gain per channel."""
    brightness = 1.0 + rng.uniform(-cfg.max_brightness, cfg.max_brightness)
    gains = [brightness * (1.0 + rng.uniform(-cfg.max_channel_gain, cfg.max_channel_gain)) for _ in range(3)]
    table = np.clip(np.outer(gains, _RAMP) + 0.5, 0, 255).astype(np.uint8)
    return list(table.ravel().tolist())


def _stamp(image: Image.Image, number: int, rng: random.Random, cfg: VariationConfig) -> None:
    """Draws the number in a light badge near the top-left corner (where people look for it)."""
    jitter = cfg.badge_jitter_px
    x0, y0 = 3 + rng.randint(0, jitter), 3 + rng.randint(0, jitter)
    size = cfg.badge_px
    shade = rng.randint(235, 255)
    draw = ImageDraw.Draw(image)
    draw.ellipse((x0, y0, x0 + size, y0 + size), fill=(shade, shade, shade), outline=(20, 20, 20), width=2)
    draw.text((x0 + size / 2, y0 + size / 2 + 1), str(number), fill=(0, 0, 0), font=_font(size), anchor="mm")


@lru_cache(maxsize=8)
def _font(badge_px: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=round(badge_px * 0.72))
