"""From a validated trace to a decision: rule checks, geometry, features and the behaviour model.

A trace passes only when every part passes. Reason codes (:mod:`serving.codes`) say which part failed:
``untrusted_events`` (the browser marked events as synthetic), ``missing_signals`` (the browser signals the SDK
always sends are absent), ``geometry_<reason>`` (the press did not follow the task, :mod:`tcurity.task_checks`)
and the model's own ``<feature>_high``/``_low`` codes for the features furthest outside the human range
(``approach_<feature>_…`` for Phase A's approach to the grip). Phase B's
geometry check is the answer's shape (every drag from a cell into its own slot, one per slot); *which* cells is
the backend's check against the problem's answer, which the AI server never stores.

Beside them, the input-integrity layer (:mod:`tcurity.integrity`) says whether the events came from a person's
input device (``injected_input``, ``automation_env``). Its reasons travel in the decision's ``integrity`` part
and do not change ``passed``: what they cost is each site's policy (``block``, ``escalate`` or ``log``), applied
by the backend where it combines the phases.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from serving.codes import MISSING_SIGNALS, UNTRUSTED_EVENTS
from serving.models import LoadedModel
from tcurity.features.approach import APPROACH_FEATURE_NAMES as APPROACH_FEATURES
from tcurity.features.approach import ApproachLimits, approach_vector
from tcurity.features.phase_a import FEATURE_NAMES as PHASE_A_FEATURES
from tcurity.features.phase_a import phase_a_evidence
from tcurity.features.phase_b import FEATURE_NAMES as PHASE_B_FEATURES
from tcurity.features.phase_b import phase_b_features
from tcurity.integrity import IntegrityResult, assess
from tcurity.scoring import ModelBundle
from tcurity.task_checks import ANSWER_SHAPE, answer_shape_ok
from tcurity.traces import GridTask, PerforationTask, Trace, TraceArrays


@dataclass(frozen=True)
class Decision:
    """The answer for one trace."""

    score: float
    passed: bool
    threshold: float
    reasons: list[str]
    checks: dict[str, object]
    model: dict[str, str]
    integrity: dict[str, object]


def integrity_part(result: IntegrityResult) -> dict[str, object]:
    """The integrity layer's verdict as the decision reports it (versioned like a model)."""
    return {
        "name": result.name,
        "version": result.version,
        "reasons": result.reasons,
        "tells": result.tells,
        "evaluated": result.evaluated,
    }


def signal_reasons(trace: Trace) -> list[str]:
    """Browser signals that no person produces, or that the SDK would have sent.

    The SDK sends ``trusted`` (``Event.isTrusted``) for every point of every trace. A pointer trace also carries
    ``pointer_type`` and ``coalesced``; a keyboard trace carries neither (its points are the key steps, see
    docs/architecture.md "Keyboard and tap paths") and is judged by its key events' ``isTrusted``. So a trace
    without ``trusted``, or with only one of the two pointer fields, did not come from the SDK
    (``missing_signals``); an event the browser marks as synthetic gives ``untrusted_events``.
    """
    points = trace.points
    if points.trusted is None or (points.pointer_type is None) != (points.coalesced is None):
        return [MISSING_SIGNALS]
    return [] if all(points.trusted) else [UNTRUSTED_EVENTS]


def select(bundle: ModelBundle, names: tuple[str, ...], values: np.ndarray) -> np.ndarray:
    """The bundle's features, in its order, out of a full feature vector."""
    return values[[names.index(n) for n in bundle.feature_names]]


def approach_check(
    bundle: ModelBundle, task: PerforationTask, arrays: TraceArrays
) -> tuple[bool, list[str], dict[str, object]]:
    """The approach layers' verdict on the trace's approach to the grip (:mod:`tcurity.features.approach`): whether
    it passes, its reasons (``approach_<feature>_high``/``_low``) and what ``checks.approach`` reports. An approach
    too small to judge, or a bundle without approach layers, passes here with ``judged: false``."""
    layers = bundle.approach
    if layers is None:
        return True, [], {"judged": False}
    limits = ApproachLimits(**layers.meta.get("limits", {}))
    vector = approach_vector(arrays, task.area_px, limits, layers.grid_ms)
    if vector is None:
        return True, [], {"judged": False}
    verdict = layers.verdict(select(layers, APPROACH_FEATURES, vector))
    return (
        verdict.passed,
        verdict.reasons,
        {"judged": True, "passed": verdict.passed, "layers": verdict.layers},
    )


def decide_phase_a(loaded: LoadedModel, task: PerforationTask, trace: Trace) -> Decision:
    """Scores a Phase A trace with the loaded bundle: its Isolation Forest and, when it holds one, its supervised
    forest (both must pass, :data:`tcurity.scoring.COMBINATION_RULES`), then, when it holds approach layers and the
    trace's approach to the grip can be judged, those too; ``checks.model.layers`` gives each tear layer's score,
    threshold and decision, ``checks.approach`` the approach's. Features come from :func:`phase_a_evidence` on the
    bundle's grid (the features of :func:`tcurity.features.phase_a.phase_a_features`, the function training used,
    and the follow check, in one pass) and from :func:`approach_vector`."""
    bundle: ModelBundle = loaded.model
    arrays = trace.arrays()
    follow, values = phase_a_evidence(task, arrays, bundle.grid_ms)
    verdict = bundle.verdict(select(bundle, PHASE_A_FEATURES, values))
    approach_ok, approach_reasons, approach = approach_check(bundle, task, arrays)
    signals = signal_reasons(trace)
    reasons = list(signals)
    if follow.code is not None:
        reasons.append(follow.code)
    reasons += verdict.reasons + approach_reasons
    return Decision(
        score=verdict.score,
        passed=verdict.passed and approach_ok and not reasons,
        threshold=bundle.threshold,
        reasons=reasons,
        checks={
            "geometry": {
                "passed": follow.passed,
                "coverage": round(follow.coverage, 4),
                "inside_share": round(follow.inside_share, 4),
            },
            "signals": {"passed": not signals},
            "model": {"passed": verdict.passed, "layers": verdict.layers},
            "approach": approach,
        },
        model={"name": loaded.name, "version": loaded.version},
        integrity=integrity_part(assess(trace, arrays=arrays)),
    )


def decide_phase_b(loaded: LoadedModel, task: GridTask, trace: Trace) -> Decision:
    """Scores a Phase B trace (every drag of the answer) with the loaded Random Forest bundle."""
    bundle: ModelBundle = loaded.model
    arrays = trace.arrays()
    shape_ok = answer_shape_ok(task, arrays)
    features = select(bundle, PHASE_B_FEATURES, phase_b_features(task, arrays, bundle.grid_ms))
    verdict = bundle.verdict(features)
    signals = signal_reasons(trace)
    reasons = list(signals)
    if not shape_ok:
        reasons.append(ANSWER_SHAPE)
    reasons += verdict.reasons
    return Decision(
        score=verdict.score,
        passed=verdict.passed and not reasons,
        threshold=bundle.threshold,
        reasons=reasons,
        checks={
            "geometry": {"passed": shape_ok},
            "signals": {"passed": not signals},
            "model": {"passed": verdict.passed},
        },
        model={"name": loaded.name, "version": loaded.version},
        integrity=integrity_part(assess(trace, arrays=arrays)),
    )
