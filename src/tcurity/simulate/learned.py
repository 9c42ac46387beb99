"""A learned stroke generator: a Gaussian over principal components of attacker-source people's strokes.

The attacker records people once (``params.yaml: sapimouse_split.attacker_users``, whom no model ever sees as
humans) and *learns* to make new strokes, rather than replaying old ones (that is the ``replay`` family).

Representation (:func:`stroke_vector`). Each stroke is put in its chord frame (start at 0, end at 1 along the
chord, sideways offsets in chord lengths) and sampled at :data:`KNOTS` evenly spaced instants of its normalised
time ``τ = t / T``: the along-chord progress ``u(τ)`` is the speed profile, the sideways offset ``v(τ)`` the shape.
The interior knots (the ends are fixed) with ``log T`` form one vector.

Model (:func:`fit_learned`). Principal components of the ``u, v`` part keep :data:`VARIANCE_KEPT` of its variance
(at most :data:`MAX_COMPONENTS`); a full-covariance Gaussian is fitted over ``[scores, log T, log L, cos θ, sin θ]``
(``L`` the chord in px, ``θ`` its direction). Generating conditions that Gaussian on the requested distance and
direction (the Schur complement), draws scores and a duration, rebuilds ``u, v``, interpolates them at the bot's
event clock (monotone cubic, ``PchipInterpolator``) and maps them onto the requested chord, so the stroke starts
and ends exactly there and its duration follows the people's own distance–time relation.

Why this and not a deep model: about a thousand clean attacker strokes hold too little for a VAE or GAN to beat
the maximum-likelihood linear-Gaussian model they generalise, and a nearest-neighbour morph is close to the
``replay`` family already. The price is detail: a Gaussian in a few dozen components draws smooth strokes, and
what lies above the knots' spacing (about ``T / 31``: 10–30 ms) is not reproduced (``docs/data.md``).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.interpolate import PchipInterpolator

from tcurity.sampling import Path2, merge_equal_times
from tcurity.simulate.model_io import UserStroke, attacker_strokes_only, load_model, save_model
from tcurity.simulate.motion import (
    BotTiming,
    FloatArray,
    Point,
    from_chord,
    make_path,
    pin_ends,
    steady_clock_ms,
)

logger = logging.getLogger(__name__)

MODEL_NAME = "learned_pca"
KNOTS = 32
VARIANCE_KEPT = 0.99
MAX_COMPONENTS = 24
MIN_STROKES = 10  # below this a covariance of the scores means little (the stage fits on about a thousand)
EVENT_RATES_HZ = (60.0, 125.0)
EVENT_JITTER_MS = 0.5
MIN_DURATION_MS = 80.0
CONDITION_RIDGE = 1e-6
ENVELOPE_PERCENTILES = (0.5, 99.5)
MAX_DRAWS = 20
TIMING = BotTiming(
    press_delay_ms=(60.0, 250.0), release_delay_ms=(40.0, 200.0), pause_ms=(150.0, 700.0), fixed_pause=False
)


def stroke_vector(path: Path2) -> FloatArray:
    """``[u at interior knots, v at interior knots, log T_ms]`` of a stroke (:data:`KNOTS` knots in all).

    Raises:
        ValueError: for a stroke without duration or displacement.
    """
    merged = merge_equal_times(path.t_ms, path.x, path.y)
    chord = np.array([merged.x[-1] - merged.x[0], merged.y[-1] - merged.y[0]])
    length = float(np.hypot(*chord))
    if merged.duration_ms <= 0.0 or length <= 0.0:
        raise ValueError("a stroke needs a duration and a displacement")
    direction = chord / length
    rel = np.stack([merged.x - merged.x[0], merged.y - merged.y[0]], axis=1) / length
    u, v = rel @ direction, rel @ np.array([-direction[1], direction[0]])
    tau = (merged.t_ms - merged.t_ms[0]) / merged.duration_ms
    knots = np.linspace(0.0, 1.0, KNOTS)[1:-1]
    return np.concatenate(
        [np.interp(knots, tau, u), np.interp(knots, tau, v), [math.log(merged.duration_ms)]]
    )


def chord_conditions(path: Path2) -> FloatArray:
    """``[log L, cos θ, sin θ]`` of a stroke's chord (px, radians): what generation is conditioned on."""
    dx, dy = path.x[-1] - path.x[0], path.y[-1] - path.y[0]
    length = math.hypot(dx, dy)
    return np.array([math.log(length), dx / length, dy / length])


@dataclass(frozen=True)
class LearnedModel:
    """The fitted model: shape mean and principal axes, and the joint Gaussian of scores and conditions.

    Attributes:
        shape_mean: ``(2·(KNOTS − 2),)`` mean ``u, v`` vector. components: ``(k, 2·(KNOTS − 2))`` principal axes.
        joint_mean: ``(k + 4,)`` mean of ``[scores, log T, log L, cos θ, sin θ]``; joint_cov: its covariance.
        log_duration_range: the fitted strokes' smallest and largest ``log T`` (draws are clipped to it).
        shape_low, shape_high: per knot, the fitted ``u, v`` values' :data:`ENVELOPE_PERCENTILES` (the support a
            draw must stay in).
        meta: users fitted on, counts, explained variance (JSON).
    """

    shape_mean: FloatArray
    components: FloatArray
    joint_mean: FloatArray
    joint_cov: FloatArray
    log_duration_range: FloatArray
    shape_low: FloatArray
    shape_high: FloatArray
    meta: dict[str, object]

    def save(self, out_dir: Path) -> None:
        """Writes ``learned_pca.npz`` and ``learned_pca.json`` under ``out_dir``."""
        arrays = {
            "shape_mean": self.shape_mean,
            "components": self.components,
            "joint_mean": self.joint_mean,
            "joint_cov": self.joint_cov,
            "log_duration_range": self.log_duration_range,
            "shape_low": self.shape_low,
            "shape_high": self.shape_high,
        }
        save_model(out_dir, MODEL_NAME, arrays, self.meta)

    @classmethod
    def load(cls, in_dir: Path) -> LearnedModel:
        """Reads what :meth:`save` wrote."""
        arrays, meta = load_model(in_dir, MODEL_NAME)
        return cls(meta=meta, **arrays)

    def conditional(self, conditions: FloatArray) -> tuple[FloatArray, FloatArray]:
        """Mean and covariance of ``[scores, log T]`` given ``[log L, cos θ, sin θ]`` (Gaussian conditioning)."""
        a = len(self.joint_mean) - 3
        cov_ac = self.joint_cov[:a, a:]
        cov_cc = self.joint_cov[a:, a:] + CONDITION_RIDGE * np.eye(3)  # strokes all one way: cos θ constant
        gain = np.linalg.solve(cov_cc, cov_ac.T).T
        mean = self.joint_mean[:a] + gain @ (conditions - self.joint_mean[a:])
        return mean, self.joint_cov[:a, :a] - gain @ cov_ac.T


def _chord_px(path: Path2) -> float:
    return float(np.hypot(path.x[-1] - path.x[0], path.y[-1] - path.y[0]))


def fit_learned(strokes: Sequence[UserStroke], attacker_users: Collection[str]) -> LearnedModel:
    """Fits the model of the module docstring on attacker-source strokes.

    Raises:
        ValueError: for a stroke of a user outside ``attacker_users``, or fewer than :data:`MIN_STROKES`.
    """
    kept = [
        s
        for s in attacker_strokes_only(strokes, attacker_users)
        if s.path.duration_ms > 0 and _chord_px(s.path) > 0
    ]
    if len(kept) < MIN_STROKES:
        raise ValueError(f"the learned generator needs at least {MIN_STROKES} strokes, got {len(kept)}")
    vectors = np.array([stroke_vector(s.path) for s in kept])
    shapes, log_t = vectors[:, :-1], vectors[:, -1]
    shape_mean = shapes.mean(axis=0)
    _, singular, axes = np.linalg.svd(shapes - shape_mean, full_matrices=False)
    explained = np.cumsum(singular**2) / np.sum(singular**2)
    k = min(int(np.searchsorted(explained, VARIANCE_KEPT)) + 1, MAX_COMPONENTS)
    scores = (shapes - shape_mean) @ axes[:k].T
    joint = np.column_stack([scores, log_t, np.array([chord_conditions(s.path) for s in kept])])
    meta: dict[str, object] = {
        "family": MODEL_NAME,
        "users": sorted({s.user for s in kept}),
        "strokes": len(kept),
        "knots": KNOTS,
        "components": k,
        "explained_variance": round(float(explained[k - 1]), 4),
    }
    logger.info(
        "learned generator: %d strokes, %d components (%.3f of the variance)", len(kept), k, explained[k - 1]
    )
    return LearnedModel(
        shape_mean=shape_mean,
        components=axes[:k],
        joint_mean=joint.mean(axis=0),
        joint_cov=np.cov(joint, rowvar=False),
        log_duration_range=np.array([log_t.min(), log_t.max()]),
        shape_low=np.percentile(shapes, ENVELOPE_PERCENTILES[0], axis=0),
        shape_high=np.percentile(shapes, ENVELOPE_PERCENTILES[1], axis=0),
        meta=meta,
    )


def gaussian_draw(mean: FloatArray, cov: FloatArray, rng: np.random.Generator) -> FloatArray:
    """One draw of ``N(mean, cov)`` through the eigen-decomposition, rounding-negative eigenvalues set to 0."""
    values, vectors = np.linalg.eigh((cov + cov.T) / 2.0)
    return np.asarray(mean + vectors @ (np.sqrt(np.clip(values, 0.0, None)) * rng.standard_normal(len(mean))))


def _supported_draw(
    model: LearnedModel, mean: FloatArray, cov: FloatArray, rng: np.random.Generator
) -> tuple[FloatArray, FloatArray]:
    """A draw whose rebuilt ``u, v`` stay within the fitted strokes' envelope at every knot.

    A Gaussian over a few linear components also draws strokes no person made (running backwards first, then
    far past the target): such draws are rejected, up to :data:`MAX_DRAWS` times, and the last one is clipped to
    the envelope. This truncates the Gaussian to the people's support.
    """
    for _ in range(MAX_DRAWS):
        draw = gaussian_draw(mean, cov, rng)
        shape = model.shape_mean + draw[:-1] @ model.components
        if np.all((shape >= model.shape_low) & (shape <= model.shape_high)):
            return draw, shape
    return draw, np.clip(shape, model.shape_low, model.shape_high)


def learned_pca(model: LearnedModel, start_px: Point, end_px: Point, rng: np.random.Generator) -> Path2:
    """One learned stroke from ``start_px`` to ``end_px``: conditioned draw, rebuilt profile, bot event clock."""
    dx, dy = end_px[0] - start_px[0], end_px[1] - start_px[1]
    length = max(math.hypot(dx, dy), 1.0)
    direction = (dx / length, dy / length) if math.hypot(dx, dy) > 1e-9 else (1.0, 0.0)
    mean, cov = model.conditional(np.array([math.log(length), *direction]))
    draw, shape = _supported_draw(model, mean, cov, rng)
    duration_ms = max(MIN_DURATION_MS, math.exp(float(np.clip(draw[-1], *model.log_duration_range))))
    inner = KNOTS - 2
    knots = np.linspace(0.0, 1.0, KNOTS)
    u = PchipInterpolator(knots, np.concatenate([[0.0], shape[:inner], [1.0]]))
    v = PchipInterpolator(knots, np.concatenate([[0.0], shape[inner:], [0.0]]))
    rate_hz = EVENT_RATES_HZ[int(rng.integers(len(EVENT_RATES_HZ)))]
    t_ms = steady_clock_ms(duration_ms, rate_hz, EVENT_JITTER_MS, rng)
    tau = t_ms / duration_ms
    across_px = v(tau) * math.hypot(dx, dy)
    points = from_chord(start_px, end_px, u(tau), across_px)
    return make_path(t_ms, pin_ends(points, start_px, end_px))
