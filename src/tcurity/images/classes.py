"""The tile classes: which the classifier knows, which a problem may ask for, and how they are shown.

The classifier is trained on every folder of the tile set, ``other`` included, so that it can say "none of
these"; ``other`` is never a target. A confusable pair (say car and bus) never meets in one problem: a human
would hesitate over a bus when asked for cars, and the check by the classifier would reject half the draws.
"""

from __future__ import annotations

from dataclasses import dataclass

DISTRACTOR_ONLY = "other"

# Index order of the classifier's outputs (sorted folder names of the tile set).
CLASSES: tuple[str, ...] = (
    "bicycle",
    "bridge",
    "bus",
    "car",
    "crosswalk",
    "hydrant",
    "other",
    "palm",
    "traffic_light",
)
TARGET_CLASSES: tuple[str, ...] = tuple(c for c in CLASSES if c != DISTRACTOR_ONLY)

# Pairs that share a scene too often to be told apart on a 120 px tile: crosswalks are photographed with cars
# and traffic lights on them, and cars and buses are both road vehicles seen from afar.
CONFUSABLE_PAIRS: frozenset[frozenset[str]] = frozenset(
    {
        frozenset({"car", "bus"}),
        frozenset({"car", "crosswalk"}),
        frozenset({"crosswalk", "traffic_light"}),
    }
)


@dataclass(frozen=True, slots=True)
class DisplayName:
    """How a class is named to the person solving the problem."""

    en: str
    ko: str


DISPLAY_NAMES: dict[str, DisplayName] = {
    "bicycle": DisplayName("bicycles", "자전거"),
    "bridge": DisplayName("bridges", "다리"),
    "bus": DisplayName("buses", "버스"),
    "car": DisplayName("cars", "자동차"),
    "crosswalk": DisplayName("crosswalks", "횡단보도"),
    "hydrant": DisplayName("fire hydrants", "소화전"),
    "palm": DisplayName("palm trees", "야자수"),
    "traffic_light": DisplayName("traffic lights", "신호등"),
}


def confusable_with(cls: str) -> frozenset[str]:
    """The classes that may not appear beside ``cls`` in a problem where ``cls`` is the target."""
    return frozenset(other for pair in CONFUSABLE_PAIRS if cls in pair for other in pair if other != cls)


def allowed_distractors(target: str, available: tuple[str, ...] = CLASSES) -> tuple[str, ...]:
    """Classes that may fill the non-target cells of a problem asking for ``target``."""
    banned = confusable_with(target) | {target}
    return tuple(c for c in available if c not in banned)
