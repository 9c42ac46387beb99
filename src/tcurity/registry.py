"""The MLflow registry: where training and serving meet.

Training registers each new model version with the alias ``challenger``; evaluation attaches its held-out
metrics to that version (as ``metric.<name>`` tags); the promotion step moves ``champion`` to the challenger only
when the gates of ``params.yaml`` pass and no gated metric is worse than the current champion's. Serving only
ever loads ``models:/<name>@champion``, and only a version that carries a promotion record and whose artefacts
still hash to the digest recorded at registration (:func:`check_servable`, :func:`verify_artifacts`; security
review finding 7).

The registry is a local SQLite file by default (``params.yaml: mlflow``); ``MLFLOW_TRACKING_URI`` points
everything at a tracking server instead.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

import mlflow
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from tcurity.config import Params, tracking_uri

logger = logging.getLogger(__name__)

CHALLENGER = "challenger"
CHAMPION = "champion"
_METRIC_TAG = "metric."

# Written by a training stage beside its local model (a DVC out): the name and version it registered.
REGISTRATION_FILE = "registered.json"
DIGEST_TAG = "artifact.sha256"
PROMOTION_TAG = "promotion.status"
PROMOTION_BY_TAG = "promotion.by"
PROMOTION_AT_TAG = "promotion.at"
PASSED = "passed"  # promoted by the pipeline or an operator with every gate passing
FORCED = "forced"  # promoted by an operator with ``--force`` despite failing gates
ROLLED_BACK = "rolled_back"  # was champion, an operator rolled back from it
# Written by MLflow into a downloaded ``models:/`` folder, so not part of what was registered.
_DOWNLOAD_ONLY_FILES = frozenset({"registered_model_meta"})


def configure(p: Params | None = None) -> str:
    """Points MLflow at the project's registry; returns the tracking URI in use."""
    uri = tracking_uri(p)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    return uri


@contextmanager
def using_registry(uri: str) -> Iterator[str]:
    """Points MLflow (and ``MLFLOW_TRACKING_URI``) at ``uri`` for the block, then back where it was.

    For code that builds a registry of its own beside the project's (tests, benchmarks): an active run is ended
    on the way out, so nothing later logs into the temporary one.
    """
    previous = os.environ.get("MLFLOW_TRACKING_URI")
    os.environ["MLFLOW_TRACKING_URI"] = uri
    try:
        configure()
        yield uri
    finally:
        mlflow.end_run()
        if previous is None:
            os.environ.pop("MLFLOW_TRACKING_URI", None)
        else:
            os.environ["MLFLOW_TRACKING_URI"] = previous
        configure()


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
    """Registers ``model_uri`` as a new version of ``name`` and points ``challenger`` at it.

    The SHA-256 of the version's artefacts is recorded first (tag ``artifact.sha256``), so serving can refuse
    the version if its files change afterwards.
    """
    version = mlflow.register_model(model_uri, name, tags=dict(tags or {}))
    digest = record_digest(name, str(version.version))
    MlflowClient().set_registered_model_alias(name, CHALLENGER, version.version)
    logger.info("registered %s version %s as %s (sha256 %s)", name, version.version, CHALLENGER, digest)
    return MlflowClient().get_model_version(name, str(version.version))


def artifact_digest(directory: Path) -> str:
    """The SHA-256 of a model folder: every file's relative path and SHA-256, in path order.

    A renamed, added, removed or changed file changes the digest. ``registered_model_meta`` (written by
    MLflow's download, not registered) is left out.
    """
    outer = hashlib.sha256()
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        relative = path.relative_to(directory).as_posix()
        if relative in _DOWNLOAD_ONLY_FILES:
            continue
        inner = hashlib.sha256()
        with path.open("rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                inner.update(chunk)
        outer.update(f"{relative}\0{inner.hexdigest()}\n".encode())
    return outer.hexdigest()


def download_version(name: str, version: str, destination: Path) -> Path:
    """Downloads the files of ``models:/<name>/<version>`` into ``destination`` (nothing is deserialised)."""
    uri = f"models:/{name}/{version}"
    return Path(mlflow.artifacts.download_artifacts(artifact_uri=uri, dst_path=str(destination)))


def record_digest(name: str, version: str) -> str:
    """Hashes the version's artefacts as stored now and records the digest as tag ``artifact.sha256``."""
    with tempfile.TemporaryDirectory(prefix="tcurity-digest-") as tmp:
        digest = artifact_digest(download_version(name, version, Path(tmp)))
    MlflowClient().set_model_version_tag(name, version, DIGEST_TAG, digest)
    return digest


def record_promotion(name: str, version: str, status: str, by: str) -> None:
    """Writes the promotion record serving checks: ``promotion.status`` (passed/forced), ``.by`` and ``.at``."""
    client = MlflowClient()
    client.set_model_version_tag(name, version, PROMOTION_BY_TAG, by)
    client.set_model_version_tag(
        name, version, PROMOTION_AT_TAG, datetime.now(UTC).isoformat(timespec="seconds")
    )
    client.set_model_version_tag(name, version, PROMOTION_TAG, status)


class UntrustedVersionError(RuntimeError):
    """A version serving must not load: no promotion record, a forced one not allowed, or no or a wrong digest."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason  # a short label for metrics: unpromoted, forced, no_digest, digest_mismatch, ...


def repromote_hint(name: str, version: str) -> str:
    """The command that records a promotion (and backfills the digest) for a version that passes its gates."""
    return f'python -m tcurity.cli models promote {name} {version} --reason "..."'


def check_servable(version: ModelVersion, allow_forced: bool = False) -> str:
    """The digest serving must find, once the version's promotion record allows serving it.

    Raises:
        UntrustedVersionError: no passed promotion (or a forced one without ``allow_forced``), or no digest.
    """
    name, number, tags = version.name, str(version.version), version.tags or {}
    status = tags.get(PROMOTION_TAG)
    if status == FORCED and not allow_forced:
        raise UntrustedVersionError(
            f"{name} version {number} was promoted with --force; serving forced versions needs "
            "SERVE_FORCED_MODELS=true on the AI server",
            "forced",
        )
    if status not in (PASSED, FORCED):
        raise UntrustedVersionError(
            f"{name} version {number} has no passed promotion record (promotion.status={status!r}); "
            f"promote it through its gates: {repromote_hint(name, number)}",
            "unpromoted",
        )
    return recorded_digest(version)


def recorded_digest(version: ModelVersion) -> str:
    """The SHA-256 recorded at registration (tag ``artifact.sha256``) that the version's files must hash to.

    Raises:
        UntrustedVersionError: the version has none (registered before digests were recorded).
    """
    name, number = version.name, str(version.version)
    digest = (version.tags or {}).get(DIGEST_TAG)
    if not digest:
        raise UntrustedVersionError(
            f"{name} version {number} has no artifact digest (registered before digests were recorded); "
            f"re-promote it to record one: {repromote_hint(name, number)}",
            "no_digest",
        )
    return digest


def verify_stored(version: ModelVersion, expected: str) -> None:
    """Downloads a version and checks it against ``expected`` (what promotion does before moving ``champion``).

    Raises:
        UntrustedVersionError: the stored files hash to something else.
    """
    with tempfile.TemporaryDirectory(prefix="tcurity-digest-") as tmp:
        directory = download_version(version.name, str(version.version), Path(tmp))
        verify_artifacts(version, directory, expected)


def verify_artifacts(version: ModelVersion, directory: Path, expected: str) -> None:
    """Checks a downloaded version against the digest recorded at registration.

    Raises:
        UntrustedVersionError: the files hash to something else (changed after registration).
    """
    found = artifact_digest(directory)
    if found != expected:
        raise UntrustedVersionError(
            f"{version.name} version {version.version}: artefacts hash to {found}, "
            f"not the {expected} recorded at registration; refusing to load them",
            "digest_mismatch",
        )


_Model = TypeVar("_Model")


def load_verified(
    version: ModelVersion, expected: str, read: Callable[[Path, ModelVersion], _Model]
) -> _Model:
    """Downloads a version, checks its files against ``expected``, then reads them with ``read`` (from a
    temporary folder that is gone afterwards, so ``read`` must load everything it needs).

    Raises:
        UntrustedVersionError: the files hash to something else, or ``read`` refuses them.
    """
    with tempfile.TemporaryDirectory(prefix="tcurity-model-") as tmp:
        directory = download_version(version.name, str(version.version), Path(tmp))
        verify_artifacts(version, directory, expected)
        return read(directory, version)


def version_by_alias(name: str, alias: str) -> ModelVersion | None:
    """The version an alias points to, or ``None`` when the model or the alias does not exist."""
    try:
        return MlflowClient().get_model_version_by_alias(name, alias)
    except MlflowException:
        return None


def get_version(name: str, version: str) -> ModelVersion | None:
    """One version as the registry holds it now (fresh tags), or ``None`` when it does not exist.

    Raises:
        MlflowException: any other registry error (unreachable, unauthorised): not taken for "deleted".
    """
    try:
        return MlflowClient().get_model_version(name, version)
    except MlflowException as exc:
        if exc.error_code == "RESOURCE_DOES_NOT_EXIST":
            return None
        raise


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
        record_promotion(name, str(challenger.version), PASSED, "pipeline")
        MlflowClient().set_registered_model_alias(name, CHAMPION, challenger.version)
        logger.info("promoted %s version %s to %s", name, challenger.version, CHAMPION)
    else:
        logger.warning("kept %s champion %s: %s", name, decision.previous_champion, "; ".join(failures))
    return decision
