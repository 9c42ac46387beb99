"""Operating the registry by hand: what each model has, and moving ``champion`` on purpose.

The pipeline's promotion stages move ``champion`` automatically when a challenger passes its gates. An
operator sometimes has to do it by hand: serve an earlier version again after a bad release (rollback), or
serve a version the pipeline did not promote. Both are recorded as such, in two places:

- on the version that became champion, as tags ``operator.action``, ``operator.by``, ``operator.at``,
  ``operator.reason``, ``operator.previous_champion`` and ``operator.forced`` (a rollback also tags the version
  it left with ``operator.rolled_back_*``);
- as one JSON line per action in ``reports/promotion/operator.jsonl`` (the history; tags only keep the last).

The promotion record serving checks (``promotion.status`` ``passed`` or ``forced``, see
:func:`tcurity.registry.check_servable`) is written on the new champion too. A version registered before
artefact digests were recorded gets its digest here (backfilled) when it passes its gates; one that has a digest
is checked against it before ``champion`` moves. A rollback marks the version it left ``rolled_back``, so serving
will not load it again until it is promoted again.

The gates are the promotion stages' own (``params.yaml: promote_*``), read from the metrics the evaluation
stages attached to each version, so ``list`` shows which versions would pass them today.
"""

from __future__ import annotations

import getpass
import json
import logging
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from tcurity import registry
from tcurity.config import PROJECT_ROOT, Params, PromoteParams, params, resolve
from tcurity.registry import Gate

logger = logging.getLogger(__name__)

OPERATOR_LOG = PROJECT_ROOT / "reports" / "promotion" / "operator.jsonl"
_OPERATOR_TAG = "operator."


class OperatorError(RuntimeError):
    """An operator command that cannot be carried out (unknown model or version, failing gates…)."""


@dataclass(frozen=True)
class ModelRole:
    """A model the system serves: its role name, registered name and where its promotion decision is written."""

    role: str
    name: str
    decision_path: Path
    train_stage: str


def roles(p: Params | None = None) -> list[ModelRole]:
    """The served models, as ``params.yaml`` names them (``phase_a``, ``phase_b``, ``effnet``)."""
    p = p or params()
    return [
        ModelRole("phase_a", p.train_phase_a.model_name, p.promote_phase_a.decision_path, "train_phase_a"),
        ModelRole("phase_b", p.train_phase_b.model_name, p.promote_phase_b.decision_path, "train_phase_b"),
        ModelRole("effnet", p.train_effnet.model_name, p.promote_effnet.decision_path, "train_effnet"),
    ]


def find_role(model: str, p: Params | None = None) -> ModelRole:
    """The model named by its role (``effnet``) or its registered name.

    Raises:
        OperatorError: when neither names a served model.
    """
    for role in roles(p):
        if model in (role.role, role.name):
            return role
    known = ", ".join(f"{r.role} ({r.name})" for r in roles(p))
    raise OperatorError(f"unknown model {model!r}; the system serves {known}")


def behaviour_gates(cfg: PromoteParams) -> list[Gate]:
    """The gates of a behaviour model (``promote_phase_a``, ``promote_phase_b``)."""
    gates = [
        Gate("human_pass_rate", cfg.min_human_pass_rate),
        Gate("auc", cfg.min_auc),
        Gate("naive_block_rate_min", cfg.min_naive_block_rate),
        Gate("humanised_block_rate_min", cfg.min_humanised_block_rate),
    ]
    if cfg.min_lofo_block_rate is not None:
        gates.append(Gate("lofo_block_rate_min", cfg.min_lofo_block_rate))
    return gates


def effnet_gates(
    min_val_accuracy: Mapping[str, float], min_bank_precision: float, profile: str
) -> list[Gate]:
    """The gates of the tile classifier trained with ``profile``.

    Raises:
        KeyError: when ``min_val_accuracy`` has no gate for the profile.
    """
    if profile not in min_val_accuracy:
        raise KeyError(f"promote_effnet.min_val_accuracy has no gate for profile {profile!r}")
    return [Gate("val_accuracy", min_val_accuracy[profile]), Gate("bank_precision", min_bank_precision)]


def gates_for(role: ModelRole, version: ModelVersion, p: Params | None = None) -> list[Gate]:
    """The promotion gates that apply to one registered version (the effnet's depend on its profile tag)."""
    p = p or params()
    if role.role == "phase_a":
        return behaviour_gates(p.promote_phase_a)
    if role.role == "phase_b":
        return behaviour_gates(p.promote_phase_b)
    cfg = p.promote_effnet
    profile = (version.tags or {}).get("profile", "cpu")
    return effnet_gates(cfg.min_val_accuracy, cfg.min_bank_precision, profile)


@dataclass
class VersionInfo:
    """One registered version as ``models list`` shows it."""

    version: str
    created: str
    aliases: list[str]
    metrics: dict[str, float]
    gate_failures: list[str]
    operator: dict[str, str] = field(default_factory=dict)

    @property
    def passes(self) -> bool:
        """Whether the version passes every gate on its own (no comparison with a champion)."""
        return not self.gate_failures


@dataclass
class ModelInfo:
    """A served model and its versions, newest first."""

    role: str
    name: str
    champion: str | None
    challenger: str | None
    versions: list[VersionInfo]


def _versions(name: str) -> list[ModelVersion]:
    """Every version of ``name``, newest first, each read whole (a search leaves the aliases out)."""
    client = MlflowClient()
    found = client.search_model_versions(f"name = '{name}'")
    numbers = sorted((int(v.version) for v in found), reverse=True)
    return [client.get_model_version(name, str(n)) for n in numbers]


def _iso(ms: int | None) -> str:
    return datetime.fromtimestamp((ms or 0) / 1000.0, tz=UTC).isoformat(timespec="seconds")


def _describe(role: ModelRole, version: ModelVersion, p: Params | None) -> VersionInfo:
    metrics = registry.version_metrics(version)
    tags = version.tags or {}
    return VersionInfo(
        version=str(version.version),
        created=_iso(version.creation_timestamp),
        aliases=sorted(version.aliases or []),
        metrics=metrics,
        gate_failures=registry.decide(metrics, None, gates_for(role, version, p)),
        operator={k[len(_OPERATOR_TAG) :]: v for k, v in tags.items() if k.startswith(_OPERATOR_TAG)},
    )


def list_models(p: Params | None = None) -> list[ModelInfo]:
    """Every served model with its versions, aliases, metrics and gate results."""
    registry.configure(p)
    out = []
    for role in roles(p):
        champion = registry.version_by_alias(role.name, registry.CHAMPION)
        challenger = registry.version_by_alias(role.name, registry.CHALLENGER)
        out.append(
            ModelInfo(
                role=role.role,
                name=role.name,
                champion=str(champion.version) if champion else None,
                challenger=str(challenger.version) if challenger else None,
                versions=[_describe(role, v, p) for v in _versions(role.name)],
            )
        )
    return out


@dataclass(frozen=True)
class OperatorAction:
    """One recorded operator action (a line of ``reports/promotion/operator.jsonl``)."""

    action: str  # promote | rollback
    model: str
    version: str
    previous_champion: str | None
    by: str
    at: str
    reason: str
    forced: bool
    gate_failures: list[str]


def _get_version(name: str, version: str) -> ModelVersion:
    try:
        return MlflowClient().get_model_version(name, version)
    except MlflowException as exc:
        raise OperatorError(f"{name} has no version {version}") from exc


def _move_champion(
    role: ModelRole,
    target: ModelVersion,
    action: str,
    reason: str,
    by: str | None,
    force: bool,
    log_path: Path | None,
    p: Params | None,
) -> OperatorAction:
    if not reason.strip():
        raise OperatorError("say why (--reason): the record is what makes an operator action auditable")
    failures = registry.decide(registry.version_metrics(target), None, gates_for(role, target, p))
    if failures and not force:
        raise OperatorError(
            f"{role.name} version {target.version} fails its gates ({'; '.join(failures)}); "
            "pass --force to promote it anyway (recorded as forced; the AI server serves forced versions "
            "only with SERVE_FORCED_MODELS=true)"
        )
    _check_or_backfill_digest(target, forced=bool(failures))
    previous = registry.version_by_alias(role.name, registry.CHAMPION)
    record = OperatorAction(
        action=action,
        model=role.name,
        version=str(target.version),
        previous_champion=str(previous.version) if previous else None,
        by=by or getpass.getuser(),
        at=datetime.now(UTC).isoformat(timespec="seconds"),
        reason=reason.strip(),
        forced=bool(failures),
        gate_failures=failures,
    )
    client = MlflowClient()
    tags = {
        "action": action,
        "by": record.by,
        "at": record.at,
        "reason": record.reason,
        "previous_champion": record.previous_champion or "",
        "forced": str(record.forced).lower(),
    }
    for key, value in tags.items():
        client.set_model_version_tag(role.name, str(target.version), f"{_OPERATOR_TAG}{key}", value)
    status = registry.FORCED if record.forced else registry.PASSED
    registry.record_promotion(role.name, str(target.version), status, f"operator:{record.by}")
    # The alias moves last, so serving never finds a champion without its promotion record.
    client.set_registered_model_alias(role.name, registry.CHAMPION, str(target.version))
    _append(log_path or OPERATOR_LOG, record)
    logger.info(
        "%s: %s champion %s -> %s (%s)", action, role.name, record.previous_champion, target.version, by
    )
    return record


def _check_or_backfill_digest(target: ModelVersion, forced: bool) -> None:
    """Checks the version's files against its recorded digest, or records one for a version from before digests.

    Raises:
        OperatorError: the files changed since registration, or a forced version has no digest to trust.
    """
    digest = (target.tags or {}).get(registry.DIGEST_TAG)
    if digest:
        try:
            registry.verify_stored(target, digest)
        except registry.UntrustedVersionError as exc:
            raise OperatorError(str(exc)) from exc
        return
    if forced:
        raise OperatorError(
            f"{target.name} version {target.version} has no artifact digest and fails its gates; "
            "retrain it rather than force an unverifiable version"
        )
    digest = registry.record_digest(target.name, str(target.version))
    logger.warning("%s version %s had no artifact digest; recorded %s", target.name, target.version, digest)


def _append(path: Path, record: OperatorAction) -> None:
    path = resolve(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as f:
        f.write(json.dumps(asdict(record)) + "\n")


def promote(
    model: str,
    version: str,
    reason: str,
    by: str | None = None,
    force: bool = False,
    log_path: Path | None = None,
    p: Params | None = None,
) -> OperatorAction:
    """Points ``champion`` of ``model`` at ``version`` on purpose, and records who, when and why.

    Raises:
        OperatorError: unknown model or version, no reason given, or failing gates without ``force``.
    """
    registry.configure(p)
    role = find_role(model, p)
    return _move_champion(role, _get_version(role.name, version), "promote", reason, by, force, log_path, p)


def rollback(
    model: str,
    reason: str,
    to: str | None = None,
    by: str | None = None,
    force: bool = False,
    log_path: Path | None = None,
    p: Params | None = None,
    serve_forced: bool | None = None,
) -> OperatorAction:
    """Moves ``champion`` back: to ``to``, or else to the newest earlier version that passes its gates.

    The version left behind is tagged ``rolled_back`` (and ``operator.rolled_back_by``/``_at``/``_reason``), and
    the AI server stops serving it at its next poll whatever happens to the target. So a rollback refuses a
    target the AI server would refuse, which would leave the model not ready instead of rolled back:

    - a version rolled back from before (``promotion.status=rolled_back``): never picked automatically, and
      with ``to`` only with ``force`` (serving it again is then recorded like any promotion);
    - a version that fails its gates: only with ``force``, which records it ``forced``, and then only when
      the AI server serves forced versions (``serve_forced``; by default ``SERVE_FORCED_MODELS`` as read here,
      the same setting the AI server reads).

    Raises:
        OperatorError: unknown model, no champion to roll back from, no earlier version to go to, or a target
            the AI server would refuse.
    """
    registry.configure(p)
    role = find_role(model, p)
    current = registry.version_by_alias(role.name, registry.CHAMPION)
    if current is None:
        raise OperatorError(f"{role.name} has no champion to roll back from; use `models promote`")
    if to is not None:
        target = _get_version(role.name, to)
    else:
        earlier = [
            v
            for v in _versions(role.name)
            if int(v.version) < int(current.version)
            and not _was_rolled_back(v)
            and not registry.decide(registry.version_metrics(v), None, gates_for(role, v, p))
        ]
        if not earlier:
            raise OperatorError(f"{role.name} has no version before {current.version} that passes its gates")
        target = earlier[0]
    if str(target.version) == str(current.version):
        raise OperatorError(f"{role.name} version {target.version} is already the champion")
    _check_rollback_target(
        role, target, force, serving_serves_forced() if serve_forced is None else serve_forced, p
    )
    record = _move_champion(role, target, "rollback", reason, by, force, log_path, p)
    client = MlflowClient()
    client.set_model_version_tag(
        role.name, str(current.version), registry.PROMOTION_TAG, registry.ROLLED_BACK
    )
    for key, value in {"by": record.by, "at": record.at, "reason": record.reason}.items():
        client.set_model_version_tag(
            role.name, str(current.version), f"{_OPERATOR_TAG}rolled_back_{key}", value
        )
    return record


def _was_rolled_back(version: ModelVersion) -> bool:
    """Whether an operator rolled back from this version (and nobody promoted it since)."""
    return (version.tags or {}).get(registry.PROMOTION_TAG) == registry.ROLLED_BACK


def serving_serves_forced(env: Mapping[str, str] | None = None) -> bool:
    """Whether ``SERVE_FORCED_MODELS`` (the AI server's setting, default false) is on in this environment."""
    value = (os.environ if env is None else env).get("SERVE_FORCED_MODELS", "false")
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _check_rollback_target(
    role: ModelRole, target: ModelVersion, force: bool, serve_forced: bool, p: Params | None
) -> None:
    """Refuses a rollback target the AI server would refuse once ``champion`` moves (see :func:`rollback`).

    Raises:
        OperatorError: the target was rolled back from (without ``force``), or fails its gates and would be
            recorded ``forced`` while the AI server does not serve forced versions.
    """
    if _was_rolled_back(target) and not force:
        tags = target.tags or {}
        raise OperatorError(
            f"{role.name} version {target.version} was rolled back from "
            f"({tags.get(f'{_OPERATOR_TAG}rolled_back_reason', 'no reason recorded')}); the AI server does not "
            "serve it: pick another version, or pass --force to promote it again"
        )
    failures = registry.decide(registry.version_metrics(target), None, gates_for(role, target, p))
    if failures and force and not serve_forced:
        raise OperatorError(
            f"{role.name} version {target.version} fails its gates ({'; '.join(failures)}): rolled back to with "
            "--force it is recorded as forced, and the AI server does not serve forced versions "
            "(SERVE_FORCED_MODELS is false), while the version rolled back from stops serving, so the model "
            "would be not ready. Roll back to a version that passes its gates, or set SERVE_FORCED_MODELS=true "
            "on the AI server and here"
        )


@dataclass(frozen=True)
class MissingChampion:
    """A served model without a champion: why (its last promotion decision) and the one command that fixes it."""

    role: str
    name: str
    why: str
    fix: str


def missing_champions(p: Params | None = None) -> list[MissingChampion]:
    """Every served model without a champion the AI server would load, with the reason and the fix.

    A champion from before promotion records and artefact digests (security review finding 7) counts as
    missing: the AI server refuses it, and re-promoting it records both. This is what ``make up`` prints.
    """
    registry.configure(p)
    out = []
    for role in roles(p):
        champion = registry.version_by_alias(role.name, registry.CHAMPION)
        if champion is None:
            out.append(_explain_missing(role, p))
            continue
        try:
            registry.check_servable(champion, allow_forced=True)
        except registry.UntrustedVersionError as exc:
            out.append(_explain_untrusted(role, champion, exc, p))
    return out


def _explain_untrusted(
    role: ModelRole, champion: ModelVersion, exc: registry.UntrustedVersionError, p: Params | None
) -> MissingChampion:
    passes = not registry.decide(registry.version_metrics(champion), None, gates_for(role, champion, p))
    if passes:
        fix = f'python -m tcurity.cli models promote {role.role} {champion.version} --reason "..."'
    else:
        fix = f"dvc repro --force {role.train_stage} && dvc repro  # retrain; see docs/production.md"
    return MissingChampion(role.role, role.name, f"the AI server refuses champion {exc}", fix)


def _explain_missing(role: ModelRole, p: Params | None) -> MissingChampion:
    versions = _versions(role.name)
    if not versions:
        return MissingChampion(role.role, role.name, "never trained (no registered version)", "make train")
    decision = _read_decision(role.decision_path) or {}
    failures = decision.get("failures")
    if isinstance(failures, list) and failures:
        why = f"version {decision.get('candidate')} failed its promotion gates: " + "; ".join(
            str(f) for f in failures
        )
    else:
        why = f"version {versions[0].version} was registered but not promoted (no decision in {role.decision_path})"
    passing = [
        v for v in versions if not registry.decide(registry.version_metrics(v), None, gates_for(role, v, p))
    ]
    if passing:
        fix = f'python -m tcurity.cli models promote {role.role} {passing[0].version} --reason "..."'
    else:
        fix = f"dvc repro --force {role.train_stage} && dvc repro  # retrain; see docs/production.md"
    return MissingChampion(role.role, role.name, f"{why} (from {role.decision_path})", fix)


def _read_decision(path: Path) -> dict[str, object] | None:
    try:
        decision: dict[str, object] = json.loads(resolve(path).read_text())
    except (OSError, ValueError):
        return None
    return decision
