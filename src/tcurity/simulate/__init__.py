"""Bot simulators: pointer-movement families that imitate automation tools and published bot generators.

Each family produces one pointer movement in task-area pixels with the timing the tool itself would emit
(a :class:`~tcurity.sampling.Path2` whose clock starts at 0 and whose ends are exactly the requested points);
:mod:`tcurity.simulate.compose` turns movements into whole Phase A and Phase B traces. Families are *naive*
(straight or function-shaped moves with machine timing) or *humanised* (tools and models built to look human).

Use :data:`FAMILIES` to look a family up by name and :meth:`Family.move` to run it. *Fitted* families learn from
the attacker-source people's strokes: :func:`tcurity.simulate.fitted.fit_bot_models` fits them once (DVC stage
``fit_bot_models``), :func:`tcurity.simulate.fitted.load_bot_models` reads them back, and
:meth:`Family.move` takes the family's model.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, Protocol, cast

import numpy as np

from tcurity.sampling import Path2
from tcurity.simulate import (
    bezier_eased,
    function_based,
    ghost_cursor,
    learned,
    linear_steps,
    minimum_jerk,
    replay,
    sigma_lognormal,
    teleport,
    windmouse,
)
from tcurity.simulate.motion import BotTiming, Point

Kind = Literal["naive", "humanised"]


class MoveFn(Protocol):
    """A movement generator: one movement from ``start_px`` to ``end_px``."""

    def __call__(self, start_px: Point, end_px: Point, rng: np.random.Generator) -> Path2: ...


class ReplayFn(Protocol):
    """A movement generator that re-uses a recorded ``source`` movement."""

    def __call__(self, source: Path2, start_px: Point, end_px: Point, rng: np.random.Generator) -> Path2: ...


class FittedFn(Protocol):
    """A movement generator that draws from a ``model`` fitted on attacker-source people."""

    def __call__(self, model: Any, start_px: Point, end_px: Point, rng: np.random.Generator) -> Path2: ...


@dataclass(frozen=True)
class Family:
    """One bot family: its name, kind, a one-line description naming its source, generator and delays.

    Attributes:
        name: the registry key (also the ``family`` label stored with simulated traces).
        kind: ``naive`` or ``humanised``.
        description: what it imitates, with the tool or paper.
        generator: the movement function; a :class:`ReplayFn` when ``needs_source``, a :class:`FittedFn` when
            ``fitted``, else a :class:`MoveFn`.
        timing: the tool's delays around presses and between drags.
        needs_source: whether every movement needs a recorded human movement to replay.
        fitted: whether every movement draws from a model fitted on attacker-source people
            (:mod:`tcurity.simulate.fitted`).
    """

    name: str
    kind: Kind
    description: str
    generator: MoveFn | ReplayFn | FittedFn
    timing: BotTiming
    needs_source: bool = False
    fitted: bool = False

    def move(
        self,
        start_px: Point,
        end_px: Point,
        rng: np.random.Generator,
        source: Path2 | None = None,
        model: object | None = None,
    ) -> Path2:
        """One movement of this family from ``start_px`` to ``end_px`` (pixels).

        Raises:
            ValueError: when the family replays recordings and ``source`` is missing, or draws from a fitted
                model and ``model`` is missing.
        """
        if self.fitted:
            if model is None:
                raise ValueError(f"family {self.name!r} draws from a fitted model: pass its model")
            return cast(FittedFn, self.generator)(model, start_px, end_px, rng)
        if self.needs_source:
            if source is None:
                raise ValueError(f"family {self.name!r} replays recorded movements: pass a source path")
            return cast(ReplayFn, self.generator)(source, start_px, end_px, rng)
        return cast(MoveFn, self.generator)(start_px, end_px, rng)


_BECAPTCHA = "BeCAPTCHA-Mouse (Acien et al., Pattern Recognition 2022)"

_FAMILY_LIST = [
    Family(
        name="teleport",
        kind="naive",
        description="Playwright page.mouse.move(x, y) without steps: one move event at the target.",
        generator=teleport.teleport,
        timing=teleport.TIMING,
    ),
    Family(
        name="linear_steps",
        kind="naive",
        description="Playwright mouse.move(steps=5–50) or Selenium ActionChains' 250 ms straight move.",
        generator=linear_steps.linear_steps,
        timing=linear_steps.TIMING,
    ),
    Family(
        name="function_linear",
        kind="naive",
        description=f"{_BECAPTCHA} linear function-based trajectory with a random velocity profile.",
        generator=function_based.function_linear,
        timing=function_based.TIMING,
    ),
    Family(
        name="function_quadratic",
        kind="naive",
        description=f"{_BECAPTCHA} quadratic function-based trajectory with a random velocity profile.",
        generator=function_based.function_quadratic,
        timing=function_based.TIMING,
    ),
    Family(
        name="function_exponential",
        kind="naive",
        description=f"{_BECAPTCHA} exponential function-based trajectory with a random velocity profile.",
        generator=function_based.function_exponential,
        timing=function_based.TIMING,
    ),
    Family(
        name="bezier_eased",
        kind="humanised",
        description="pyclick / HumanCursor: Bézier through random knots, y distortion, eased tween.",
        generator=bezier_eased.bezier_eased,
        timing=bezier_eased.TIMING,
    ),
    Family(
        name="ghost_cursor",
        kind="humanised",
        description="npm ghost-cursor: spread cubic Bézier, Fitts's-law step count, overshoot past 500 px.",
        generator=ghost_cursor.ghost_cursor,
        timing=ghost_cursor.TIMING,
    ),
    Family(
        name="windmouse",
        kind="humanised",
        description="Benjamin J. Land's WindMouse: gravity and wind forces, capped steps, damping.",
        generator=windmouse.windmouse,
        timing=windmouse.TIMING,
    ),
    Family(
        name="minimum_jerk",
        kind="humanised",
        description="Flash & Hogan (1985) minimum-jerk movement, Fitts's-law duration, via-point, tremor.",
        generator=minimum_jerk.minimum_jerk,
        timing=minimum_jerk.TIMING,
    ),
    Family(
        name="replay",
        kind="humanised",
        description="Replayed human stroke: similarity re-targeting, positional noise, time-warp.",
        generator=replay.replay,
        timing=replay.TIMING,
        needs_source=True,
    ),
    Family(
        name="learned_pca",
        kind="humanised",
        description="Learned generator: a Gaussian over principal components of SapiMouse attacker-source users'"
        " strokes (chord-frame shape and time-normalised speed), conditioned on distance and direction.",
        generator=learned.learned_pca,
        timing=learned.TIMING,
        fitted=True,
    ),
    Family(
        name="sigma_lognormal",
        kind="humanised",
        description="Plamondon's sigma-lognormal model (kinematic theory of rapid movements), parameters fitted"
        " per stroke on SapiMouse attacker-source users and drawn from that population (smoothed bootstrap).",
        generator=sigma_lognormal.sigma_lognormal,
        timing=sigma_lognormal.TIMING,
        fitted=True,
    ),
]

FAMILIES: dict[str, Family] = {f.name: f for f in _FAMILY_LIST}
FAMILY_KIND: dict[str, str] = {f.name: f.kind for f in _FAMILY_LIST}


def get_family(name: str) -> Family:
    """The registered family called ``name``.

    Raises:
        KeyError: for an unknown name, listing the known ones.
    """
    try:
        return FAMILIES[name]
    except KeyError:
        raise KeyError(f"unknown bot family {name!r}; known: {', '.join(FAMILIES)}") from None


__all__ = [
    "FAMILIES",
    "FAMILY_KIND",
    "BotTiming",
    "Family",
    "FittedFn",
    "Kind",
    "MoveFn",
    "ReplayFn",
    "get_family",
]
