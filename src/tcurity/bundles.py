"""Behaviour bundles from the registry: the one loader serving, evaluation and the benchmarks share.

A bundle is read from its ``bundle.json`` and ``forest.npz`` (json, numpy without pickle) after the downloaded
files hash to the digest recorded at registration (:func:`tcurity.registry.load_verified`); the pyfunc's pickle
is never read (security review finding 7, ``docs/security.md``). Kept apart from :mod:`tcurity.registry` so that
the image side's stages, which use the registry but no bundle, do not depend on the scoring code.
"""

from __future__ import annotations

from pathlib import Path

from mlflow.entities.model_registry import ModelVersion

from tcurity import registry
from tcurity.registry import UntrustedVersionError
from tcurity.scoring import PYFUNC_BUNDLE_DIR, ModelBundle


def read_bundle(directory: Path, version: ModelVersion) -> ModelBundle:
    """The behaviour bundle of a downloaded pyfunc folder, from its json and npz (the pickle is never read).

    Raises:
        UntrustedVersionError: the files are missing or not a bundle (an object array in the npz, say).
    """
    try:
        return ModelBundle.load(directory / PYFUNC_BUNDLE_DIR)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise UntrustedVersionError(
            f"{version.name} version {version.version} holds no readable bundle: {type(exc).__name__}: {exc}",
            "invalid_bundle",
        ) from exc


def load_bundle(name: str, version: str, *, promoted: bool, allow_forced: bool = False) -> ModelBundle:
    """A behaviour model's bundle from the registry: the one way anything loads one (serving, evaluation, bench).

    The files are downloaded, checked against the digest recorded at registration and read from json and npz;
    nothing registered is unpickled. ``promoted=True`` (what serves, and tools measuring what serves): the
    version must also carry a passed promotion record (:func:`tcurity.registry.check_servable`; a ``forced`` one only with
    ``allow_forced``). ``promoted=False``: the evaluation of a challenger, which comes before its promotion; the
    digest is still checked. The bundle's ``meta`` gains ``model_name`` and ``version``.

    Raises:
        UntrustedVersionError: the version does not exist (``deleted``), is not servable, or its files changed.
    """
    found = registry.get_version(name, version)
    if found is None:
        raise UntrustedVersionError(f"{name} version {version} does not exist in the registry", "deleted")
    expected = registry.check_servable(found, allow_forced) if promoted else registry.recorded_digest(found)
    bundle = registry.load_verified(found, expected, read_bundle)
    bundle.meta.update({"model_name": name, "version": str(found.version)})
    return bundle
