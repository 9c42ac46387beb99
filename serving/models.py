"""The promoted models the server holds, and how they are swapped without a restart.

A :class:`ModelSet` is immutable: a request takes the current set once and finishes on it, whatever happens
meanwhile. :meth:`ModelStore.refresh` asks the registry which version each alias points to, loads only what
changed (off the event loop) and swaps the whole set in one assignment, so no request ever sees half a swap.

Only trusted versions are loaded (security review finding 7). The version the alias names must carry a passed
promotion record (``promotion.status``; a ``forced`` one only with ``SERVE_FORCED_MODELS=true``) and a digest
recorded at registration (``artifact.sha256``); its files are downloaded and hashed, and a mismatch is refused.
Behaviour bundles are then read from ``bundle.json`` and ``forest.npz`` with json and numpy; the tile
classifier from its state dict with ``torch.load(weights_only=True)``; a classifier version without one (logged
before weights-only loading) is refused as ``no_state_dict``. Nothing registered is ever unpickled. A
refused version leaves the previous model serving (or the role missing, so ``/ready`` says not ready), is logged
once with the fix, and counted in ``ai_model_refusals_total``. The previous model keeps serving only while its
own record still allows it: each refresh checks the loaded version's tags again and drops it once it is
``rolled_back``, no longer promoted or gone (review finding 7, follow-up 6).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlflow.entities.model_registry import ModelVersion

from serving.settings import Settings
from tcurity import registry
from tcurity.bundles import read_bundle
from tcurity.registry import UntrustedVersionError

if TYPE_CHECKING:
    from tcurity.images.classifier import TileClassifier
    from tcurity.problems import ProblemGenerator

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class LoadedModel:
    """One loaded champion: which registered version it is, and the object that scores with it."""

    name: str
    version: str
    alias: str
    model: Any  # ModelBundle for behaviour models, TileClassifier for the image model
    loaded_at: float = field(default_factory=time.time)

    def describe(self) -> dict[str, object]:
        return {"name": self.name, "version": self.version, "alias": self.alias, "loaded_at": self.loaded_at}


@dataclass(frozen=True)
class ModelSet:
    """Every model the server uses, as one immutable snapshot."""

    phase_a: LoadedModel | None = None
    phase_b: LoadedModel | None = None
    effnet: LoadedModel | None = None
    generator: ProblemGenerator | None = None
    errors: dict[str, str] = field(default_factory=dict)

    def missing(self) -> list[str]:
        """The roles with no loaded model (``phase_a``, ``phase_b``, ``effnet``, ``generator``)."""
        roles = ("phase_a", "phase_b", "effnet", "generator")
        return [role for role in roles if getattr(self, role) is None]


def _seen(version: ModelVersion) -> tuple[str, tuple[tuple[str, str], ...]]:
    """A version and its tags as last looked at: a refusal is repeated silently until either changes."""
    return str(version.version), tuple(sorted((version.tags or {}).items()))


def _load_classifier(model_dir: Path, version: ModelVersion, *, device: str) -> TileClassifier:
    """The tile classifier of a downloaded version, from its state dict (a pickle-only version is refused).

    Raises:
        UntrustedVersionError: the version holds no state dict (reason ``no_state_dict``).
    """
    from tcurity.images.classifier import load_downloaded_classifier

    try:
        return load_downloaded_classifier(model_dir, device=device)
    except UntrustedVersionError as exc:
        raise UntrustedVersionError(f"{version.name} version {version.version}: {exc}", exc.reason) from exc


RefusalCounter = Callable[[str, str], None]  # (role, reason) -> None


def _make_generator(bank_root: Path, classifier: TileClassifier) -> ProblemGenerator:
    from tcurity.images.bank import ImageBank
    from tcurity.problems import ProblemGenerator

    return ProblemGenerator(ImageBank.load(bank_root), scorer=classifier)


class ModelStore:
    """Holds the current :class:`ModelSet` and refreshes it from the registry."""

    def __init__(self, settings: Settings, on_refusal: RefusalCounter | None = None) -> None:
        self.settings = settings
        self.current = ModelSet()
        self._lock = threading.Lock()  # one refresh at a time; readers never wait
        self.reloads = 0
        self._on_refusal = on_refusal
        # role -> (version, tags) last refused: the same refusal is not downloaded, logged or counted again
        # every poll; a re-promotion changes the tags and is looked at afresh.
        self._refused: dict[str, tuple[tuple[str, tuple[tuple[str, str], ...]], UntrustedVersionError]] = {}

    def refresh(self) -> list[str]:
        """Loads every champion whose version changed; returns the roles that changed."""
        with self._lock:
            registry.configure()
            s = self.settings
            current, changed, errors = self.current, [], dict(self.current.errors)
            updates: dict[str, Any] = {}
            roles = {"phase_a": s.phase_a_model, "phase_b": s.phase_b_model, "effnet": s.effnet_model}
            for role, name in roles.items():
                try:
                    held = self._still_servable(role, getattr(current, role))
                except Exception:  # the registry is unreachable: its answer is unknown, not a refusal
                    logger.exception("could not re-check %s", name)
                    held = getattr(current, role)
                if held is not getattr(current, role):
                    updates[role] = held
                    changed.append(role)
                try:
                    loaded = self._refresh_one(role, held, name)
                except UntrustedVersionError as exc:
                    errors[role] = f"refused: {exc}"
                    continue
                except Exception as exc:  # a broken version must not take the server down
                    logger.exception("could not load %s", name)
                    errors[role] = f"{type(exc).__name__}: {exc}"
                    continue
                errors.pop(role, None)
                if loaded is not held:
                    updates[role] = loaded
                    if role not in changed:
                        changed.append(role)
            new = replace(current, **updates, errors=errors)
            if "effnet" in changed or (new.generator is None and new.effnet is not None):
                new = self._with_generator(new, errors)
            self.current = new
            if changed:
                self.reloads += 1
                logger.info("models now: %s", {r: m.version for r in roles if (m := getattr(new, r))})
            return changed

    def _still_servable(self, role: str, loaded: LoadedModel | None) -> LoadedModel | None:
        """``loaded`` while its version's promotion record still allows serving it, else ``None`` (dropped).

        A version loaded earlier stops being servable when an operator rolls back from it (``rolled_back``),
        its record is removed or changed, or it is deleted. Without this check a rollback to a version serving
        refuses would leave the rolled-back champion scoring forever. The files were hashed when loaded, so
        only the tags are read again (one registry call). A dropped role is not ready until a servable
        champion loads; the drop is logged and counted once, like a refusal.
        """
        if loaded is None:
            return None
        version = registry.get_version(loaded.name, loaded.version)
        try:
            if version is None:
                raise UntrustedVersionError(
                    f"{loaded.name} version {loaded.version} no longer exists in the registry", "deleted"
                )
            registry.check_servable(version, allow_forced=self.settings.serve_forced_models)
        except UntrustedVersionError as exc:
            if version is not None:  # the alias may still name it: the same refusal is not counted again
                self._refused[role] = (_seen(version), exc)
            logger.error(
                "dropped %s version %s (%s): %s; not ready for this role until a servable champion loads",
                loaded.name,
                loaded.version,
                loaded.alias,
                exc,
            )
            if self._on_refusal is not None:
                self._on_refusal(role, exc.reason)
            return None
        return loaded

    def _refresh_one(self, role: str, loaded: LoadedModel | None, name: str) -> LoadedModel | None:
        """The model the alias names now: ``loaded`` when unchanged, a newly loaded one, or ``None``.

        Raises:
            UntrustedVersionError: the version may not be served; the caller keeps ``loaded``.
        """
        alias = self.settings.model_alias
        version = registry.version_by_alias(name, alias)
        if version is None:
            return None
        if loaded is not None and loaded.version == str(version.version):
            return loaded
        seen = _seen(version)
        refused = self._refused.get(role)
        if refused is not None and refused[0] == seen:
            raise UntrustedVersionError(
                str(refused[1]), refused[1].reason
            )  # a fresh one: no growing traceback
        try:
            model = self._load_trusted(name, version)
        except UntrustedVersionError as exc:
            self._refused[role] = (seen, exc)
            keeping = f"keeping version {loaded.version}" if loaded else "not ready for this role"
            logger.error("refused %s version %s (%s): %s; %s", name, version.version, alias, exc, keeping)
            if self._on_refusal is not None:
                self._on_refusal(role, exc.reason)
            raise
        self._refused.pop(role, None)
        logger.info("loaded %s version %s (%s)", name, version.version, alias)
        return LoadedModel(name=name, version=str(version.version), alias=alias, model=model)

    def _load_trusted(self, name: str, version: ModelVersion) -> Any:
        """Checks the promotion record, downloads the files, checks their digest, then reads them.

        Raises:
            UntrustedVersionError: see :func:`tcurity.registry.check_servable` and :func:`~tcurity.registry.verify_artifacts`.
        """
        expected = registry.check_servable(version, allow_forced=self.settings.serve_forced_models)
        if name == self.settings.effnet_model:
            device = self.settings.ai_device
            return registry.load_verified(version, expected, partial(_load_classifier, device=device))
        return registry.load_verified(version, expected, read_bundle)

    def _with_generator(self, models: ModelSet, errors: dict[str, str]) -> ModelSet:
        if models.effnet is None:
            return replace(models, generator=None)
        try:
            generator = _make_generator(self.settings.phase_b_problem_image_root, models.effnet.model)
        except Exception as exc:
            logger.exception("no problem generator")
            errors["generator"] = f"{type(exc).__name__}: {exc}"
            return replace(models, generator=None, errors=errors)
        errors.pop("generator", None)
        return replace(models, generator=generator, errors=errors)

    async def poll(self, interval_s: float) -> None:
        """Refreshes every ``interval_s`` seconds until cancelled (the lifespan's background task)."""
        while True:
            await asyncio.sleep(interval_s)
            try:
                await asyncio.to_thread(self.refresh)
            except Exception:
                logger.exception("model refresh failed; keeping the current models")

    def device(self) -> str:
        """Where the image model runs (``cuda``/``cpu``); behaviour models run on the CPU (numpy)."""
        effnet = self.current.effnet
        if effnet is not None:
            return str(effnet.model.device.type)
        return "cuda" if _cuda_available() and self.settings.ai_device != "cpu" else "cpu"


def _cuda_available() -> bool:
    try:
        import torch

        return bool(torch.cuda.is_available())
    except ImportError:  # pragma: no cover - images without torch
        return False
