"""How well each browser-resolution feature alone tells people from each bot family (a quick, honest screen).

People are the SapiMouse *training* users' pointing strokes and drags (``params.yaml: sapimouse_split``; no
calibration, test or attacker person is read). Bots are every family of :mod:`tcurity.simulate`, each asked
for the same movements people made (a person's stroke's start and end points, drawn at random), then emitted as
a 60 Hz browser delivers them (:func:`tcurity.sampling.sdk_event_stream`: rAF-aligned, coalesced, frame times
jittered), so no feature can win on the tool's own event clock. The replay family replays the *attacker* users'
strokes.

For each feature and family the report gives the ROC AUC of the single feature (people positive), which way it
points, and ``separation = max(AUC, 1 − AUC)``; beside it the same feature on the old 100 ms grid, to show what
the resolution adds. A feature near 0.5 for a family cannot see that family.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from sklearn.metrics import roc_auc_score

from tcurity.data.strokes import Stroke
from tcurity.features.fine import FINE_FEATURE_NAMES, fine_features, fit_fitts, fitts_residual
from tcurity.sampling import DEFAULT_GRID_MS, Path2, browser_grid, canonical_grid, sdk_event_stream
from tcurity.simulate import FAMILIES, FAMILY_KIND
from tcurity.simulate.fitted import BotModel

logger = logging.getLogger(__name__)

FITTS_WIDTH_PX = 20.0
"""The target width of Fitts's index for strokes whose target size is unknown (one constant for all: only the
distance varies, so the fitted law absorbs it)."""
SEPARATION_FEATURES: tuple[str, ...] = (*FINE_FEATURE_NAMES, "fitts_residual")


@dataclass(frozen=True)
class FeatureRows:
    """Features of a group of movements: on the browser grid and, for comparison, on the 100 ms grid."""

    browser: NDArray[np.float64]
    coarse: NDArray[np.float64]


def movement_features(paths: Sequence[Path2], fitts: tuple[float, float]) -> FeatureRows:
    """:data:`SEPARATION_FEATURES` of each movement (raw events, pixels), on both grids.

    ``fitts`` is ``(a_ms, b_ms_per_bit)`` fitted on the training people (:func:`fit_people_fitts`).
    """
    browser, coarse = [], []
    for path in paths:
        chord = float(np.hypot(path.x[-1] - path.x[0], path.y[-1] - path.y[0]))
        residual = fitts_residual(chord, path.duration_ms, FITTS_WIDTH_PX, *fitts)
        browser.append(np.append(fine_features(browser_grid(path)), residual))
        coarse.append(np.append(fine_features(canonical_grid(path, DEFAULT_GRID_MS)), residual))
    width = len(SEPARATION_FEATURES)
    return FeatureRows(np.array(browser).reshape(-1, width), np.array(coarse).reshape(-1, width))


def fit_people_fitts(strokes: Sequence[Stroke]) -> tuple[float, float]:
    """Fitts's law fitted on people's pointing strokes: chord against duration (:func:`fit_fitts`)."""
    points = [s for s in strokes if s.kind == "point"]
    return fit_fitts([s.chord_px for s in points], [s.path.duration_ms for s in points], FITTS_WIDTH_PX)


def bot_movements(
    family: str,
    people: Sequence[Stroke],
    sources: Sequence[Stroke],
    count: int,
    rng: np.random.Generator,
    models: Mapping[str, BotModel] | None = None,
) -> list[Path2]:
    """``count`` movements of ``family`` between the end points of randomly drawn people's strokes, as a 60 Hz
    browser records them. Replaying families replay randomly drawn ``sources`` (attacker users); fitted families
    draw from their model in ``models``."""
    fam = FAMILIES[family]
    model = (models or {}).get(family)
    out = []
    for _ in range(count):
        stroke = people[int(rng.integers(len(people)))]
        start = (float(stroke.path.x[0]), float(stroke.path.y[0]))
        end = (float(stroke.path.x[-1]), float(stroke.path.y[-1]))
        source = sources[int(rng.integers(len(sources)))].path if fam.needs_source else None
        native = fam.move(start, end, rng, source=source, model=model)
        out.append(sdk_event_stream(native, rng))
    return out


def single_feature_auc(people: NDArray[np.float64], bots: NDArray[np.float64]) -> float:
    """ROC AUC of one feature with people as the positive class (0.5 when both are constant and equal)."""
    labels = np.concatenate([np.ones(len(people)), np.zeros(len(bots))])
    values = np.concatenate([people, bots])
    if np.ptp(values) == 0:
        return 0.5
    return float(roc_auc_score(labels, values))


def separation_report(
    people: Sequence[Stroke],
    sources: Sequence[Stroke],
    bots_per_family: int,
    seed: int,
    models: Mapping[str, BotModel] | None = None,
) -> dict[str, object]:
    """The report of the module docstring: per family, per feature, AUC on the browser and the 100 ms grid.

    ``models`` holds the fitted families' models (:func:`tcurity.simulate.fitted.load_bot_models`).
    """
    rng = np.random.default_rng(seed)
    fitts = fit_people_fitts(people)
    human = movement_features([s.path for s in people], fitts)
    families: dict[str, object] = {}
    for family in FAMILIES:
        bots = movement_features(bot_movements(family, people, sources, bots_per_family, rng, models), fitts)
        per_feature: dict[str, dict[str, object]] = {}
        for i, name in enumerate(SEPARATION_FEATURES):
            auc = single_feature_auc(human.browser[:, i], bots.browser[:, i])
            coarse_auc = single_feature_auc(human.coarse[:, i], bots.coarse[:, i])
            per_feature[name] = {
                "auc": round(auc, 4),
                "separation": round(max(auc, 1.0 - auc), 4),
                "people_higher": auc > 0.5,
                "separation_100ms_grid": round(max(coarse_auc, 1.0 - coarse_auc), 4),
                "bot_median": round(float(np.median(bots.browser[:, i])), 4),
            }
        best = max(per_feature, key=lambda n: float(per_feature[n]["separation"]))  # type: ignore[arg-type]
        families[family] = {"kind": FAMILY_KIND[family], "best_feature": best, "features": per_feature}
        logger.info("%s: best %s %.3f", family, best, per_feature[best]["separation"])
    humanised = [f for f in FAMILIES if FAMILY_KIND[f] == "humanised"]
    summary = {
        name: {
            "min_separation_humanised": min(
                float(families[f]["features"][name]["separation"])  # type: ignore[index]
                for f in humanised
            ),
            "people_median": round(float(np.median(human.browser[:, i])), 4),
        }
        for i, name in enumerate(SEPARATION_FEATURES)
    }
    return {
        "people": {"strokes": len(people), "users": len({s.user for s in people})},
        "bots_per_family": bots_per_family,
        "fitts": {"a_ms": round(fitts[0], 2), "b_ms_per_bit": round(fitts[1], 2), "width_px": FITTS_WIDTH_PX},
        "families": families,
        "features": summary,
    }
