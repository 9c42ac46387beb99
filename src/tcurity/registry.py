"""The MLflow registry: where training and serving meet.

Training registers each new model version with the alias ``challenger``; evaluation attaches its held-out
metrics to that version (as ``metric.<name>`` tags); the promotion step moves ``champion`` to the challenger only
when the gates of ``params.yaml`` pass and no gated metric is worse than the current champion's. Serving only
ever loads ``models:/<name>@champion``.

The registry is a local SQLite file by default (``params.yaml: mlflow``); ``MLFLOW_TRACKING_URI`` points
everything at a tracking server instead.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import mlflow
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from tcurity.config import Params, tracking_uri

logger = logging.getLogger(__name__)

CHALLENGER = "challenger"
CHAMPION = "champion"
_METRIC_TAG = "metric."


def configure(p: Params | None = None) -> str:
    """Points MLflow at the project's registry; returns the tracking URI in use."""
    uri = tracking_uri(p)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    return uri


def ensure_experiment(name: str) -> str:
    """Creates the experiment if needed and returns its id.

    With a local SQLite registry the artefacts go to ``artifacts/`` beside the database file, so one folder
    holds the whole registry; a tracking server keeps its own artefact store.
    """
    client = MlflowClient()
    existing = client.get_experiment_by_name(name)
    if existing is not None:
        return str(existing.experiment_id)
    location = None
    uri = mlflow.get_tracking_uri()
    if uri.startswith("sqlite:///"):
        artifacts = Path(uri.removeprefix("sqlite:///")).parent / "artifacts"
        artifacts.mkdir(parents=True, exist_ok=True)
        location = artifacts.as_uri()
    return str(client.create_experiment(name, artifact_location=location))


def register_challenger(model_uri: str, name: str, tags: Mapping[str, str] | None = None) -> ModelVersion:
    """Registers ``model_uri`` as a new version of ``name`` and points ``challenger`` at it."""
    version = mlflow.register_model(model_uri, name, tags=dict(tags or {}))
    MlflowClient().set_registered_model_alias(name, CHALLENGER, version.version)
    logger.info("registered %s version %s as %s", name, version.version, CHALLENGER)
    return version


def version_by_alias(name: str, alias: str) -> ModelVersion | None:
    """The version an alias points to, or ``None`` when the model or the alias does not exist."""
    try:
        return MlflowClient().get_model_version_by_alias(name, alias)
    except MlflowException:
        return None


def set_version_metrics(name: str, version: str, metrics: Mapping[str, float]) -> None:
    """Attaches held-out metrics to a model version (tags ``metric.<key>``) for later comparisons."""
    client = MlflowClient()
    for key, value in metrics.items():
        client.set_model_version_tag(name, version, f"{_METRIC_TAG}{key}", f"{float(value):.6f}")


def version_metrics(model_version: ModelVersion) -> dict[str, float]:
    """The held-out metrics attached to a version by :func:`set_version_metrics`."""
    return {
        key[len(_METRIC_TAG) :]: float(value)
        for key, value in (model_version.tags or {}).items()
        if key.startswith(_METRIC_TAG)
    }


@dataclass(frozen=True)
class Gate:
    """A lower bound on one held-out metric (all gated metrics are higher-is-better)."""

    metric: str
    minimum: float


@dataclass
class PromotionDecision:
    """What the promotion step decided, and why."""

    name: str
    candidate: str
    previous_champion: str | None
    promoted: bool
    failures: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "candidate": self.candidate,
            "previous_champion": self.previous_champion,
            "promoted": self.promoted,
            "failures": self.failures,
        }


def decide(
    candidate: Mapping[str, float],
    champion: Mapping[str, float] | None,
    gates: list[Gate],
    max_drop: float = 0.0,
) -> list[str]:
    """The reasons a candidate may not become champion (empty when it may).

    Each gate must pass on its own, and no gated metric may fall more than ``max_drop`` below the champion's.
    """
    failures: list[str] = []
    for gate in gates:
        value = candidate.get(gate.metric)
        if value is None:
            failures.append(f"{gate.metric}: missing")
            continue
        if value < gate.minimum:
            failures.append(f"{gate.metric}: {value:.4f} < gate {gate.minimum:.4f}")
        if champion is not None and gate.metric in champion and value < champion[gate.metric] - max_drop:
            failures.append(f"{gate.metric}: {value:.4f} worse than champion's {champion[gate.metric]:.4f}")
    return failures


def promote_challenger(name: str, gates: list[Gate], max_drop: float = 0.0) -> PromotionDecision:
    """Moves ``champion`` to the current challenger when :func:`decide` finds nothing against it.

    Raises:
        LookupError: when the model has no challenger.
    """
    challenger = version_by_alias(name, CHALLENGER)
    if challenger is None:
        raise LookupError(f"model {name!r} has no {CHALLENGER!r} version to promote")
    champion = version_by_alias(name, CHAMPION)
    if champion is not None and str(champion.version) == str(challenger.version):
        return PromotionDecision(name, str(challenger.version), str(champion.version), True, [])
    failures = decide(
        version_metrics(challenger), version_metrics(champion) if champion else None, gates, max_drop
    )
    decision = PromotionDecision(
        name=name,
        candidate=str(challenger.version),
        previous_champion=str(champion.version) if champion else None,
        promoted=not failures,
        failures=failures,
    )
    if decision.promoted:
        MlflowClient().set_registered_model_alias(name, CHAMPION, challenger.version)
        logger.info("promoted %s version %s to %s", name, challenger.version, CHAMPION)
    else:
        logger.warning("kept %s champion %s: %s", name, decision.previous_champion, "; ".join(failures))
    return decision
