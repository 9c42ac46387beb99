"""Training the behaviour models and logging them to MLflow as bundles.

Phase A's model has two layers in one bundle. The one-class layer is an Isolation Forest that only ever sees
human movement. Beside it, when ``train_phase_a.supervised`` is set, a Random Forest learns the training people
against the *training* bots of every family (``simulate_bots``' ``train`` split; the evaluation bots are never
learned from). Each layer's threshold is set on *calibration* users (never on the users it was fitted on) at its own
human false-reject rate, and the bundle passes a trace only when both layers do (rule ``both_pass``,
:data:`tcurity.scoring.COMBINATION_RULES`).
"""

from __future__ import annotations

import json
import logging
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import mlflow
import numpy as np
import pandas as pd
from mlflow.entities.model_registry import ModelVersion
from numpy.typing import NDArray
from sklearn.ensemble import IsolationForest, RandomForestClassifier

from tcurity import parallel, registry
from tcurity.bundles import load_bundle
from tcurity.config import Params, SupervisedPhaseAParams, resolve
from tcurity.features.approach import APPROACH_FEATURE_NAMES as APPROACH_FEATURES
from tcurity.features.phase_a import FEATURE_NAMES as PHASE_A_FEATURES
from tcurity.scoring import (
    COMBINATION_RULES,
    ModelBundle,
    QuantileNormal,
    SupervisedLayer,
    flatten_isolation_forest,
    flatten_random_forest,
)

logger = logging.getLogger(__name__)

# What a serving environment needs to load a bundle pyfunc (the scorer is numpy only).
BUNDLE_PIP_REQUIREMENTS = ["numpy", "pandas", "mlflow"]
# The file the pyfunc is logged as (tcurity.bundle_model).
BUNDLE_MODEL_CODE = Path(__file__).resolve().parent.parent / "bundle_model.py"


def reference_ranges(x: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """The human 0.5 % and 99.5 % quantiles of each feature (reason codes name features outside them)."""
    return np.quantile(x, 0.005, axis=0), np.quantile(x, 0.995, axis=0)


def fit_isolation_forest(
    x_train: NDArray[np.float64],
    x_calib: NDArray[np.float64],
    feature_names: list[str],
    n_estimators: int,
    max_samples: int,
    max_features: float,
    target_frr: float,
    grid_ms: float,
    seed: int,
) -> tuple[ModelBundle, IsolationForest]:
    """Fits the quantile transform and the Isolation Forest on human training rows; sets the threshold on
    calibration rows.

    Returns:
        The bundle serving will use and the sklearn model it was flattened from.
    """
    transform = QuantileNormal.fit(x_train)
    forest = IsolationForest(
        n_estimators=n_estimators,
        max_samples=min(max_samples, len(x_train)),
        max_features=max_features,
        random_state=seed,
        n_jobs=parallel.jobs(),
    ).fit(transform.apply(x_train))
    low, high = reference_ranges(x_train)
    bundle = ModelBundle(
        kind="isolation_forest",
        feature_names=list(feature_names),
        forest=flatten_isolation_forest(forest),
        threshold=0.0,
        transform=transform,
        reference_low=low,
        reference_high=high,
        grid_ms=grid_ms,
        max_samples=int(forest.max_samples_),
    )
    calib_scores = bundle.scores(x_calib)
    bundle.threshold = float(np.quantile(calib_scores, target_frr))
    bundle.scale = score_scale(calib_scores)
    logger.info(
        "fitted isolation forest on %d human rows; threshold %.4f at calibration FRR %.3f",
        len(x_train),
        bundle.threshold,
        target_frr,
    )
    return bundle, forest


def score_scale(calib_scores: NDArray[np.float64]) -> float:
    """The unit of a layer's margin: the standard deviation of the calibration people's scores (at least 1e-6, so a
    margin's sign is always its score's side of the threshold)."""
    return max(float(np.std(calib_scores)), 1e-6)


class ForestSettings(Protocol):
    """What a supervised forest's section of ``params.yaml`` sets (Phase A's ``supervised``, Phase B's)."""

    @property
    def n_estimators(self) -> int: ...
    @property
    def max_depth(self) -> int: ...
    @property
    def min_samples_leaf(self) -> int: ...
    @property
    def max_features(self) -> float: ...


def balanced_forest(
    x: NDArray[np.float64], y: NDArray[Any], cfg: ForestSettings, seed: int
) -> RandomForestClassifier:
    """The supervised forest both phases fit: people (class 0) against bots (class 1), classes weighted to
    balance, seeded, on :func:`tcurity.parallel.jobs` threads (the same forest on any number)."""
    return RandomForestClassifier(
        n_estimators=cfg.n_estimators,
        max_depth=cfg.max_depth,
        min_samples_leaf=cfg.min_samples_leaf,
        max_features=cfg.max_features,
        class_weight="balanced",
        random_state=seed,
        n_jobs=parallel.jobs(),
    ).fit(x, y)


def fit_supervised(
    x_people: NDArray[np.float64],
    x_bots: NDArray[np.float64],
    x_calib: NDArray[np.float64],
    cfg: SupervisedPhaseAParams,
    seed: int,
) -> tuple[SupervisedLayer, RandomForestClassifier]:
    """Fits the supervised layer: a Random Forest of people (class 0) against bots (class 1), classes weighted
    to balance, on raw features; its threshold is the calibration people's ``cfg.target_frr`` quantile of the
    human-class probability.

    Raises:
        ValueError: for an unknown combination rule, or no bot or person to learn from.
    """
    if cfg.rule not in COMBINATION_RULES:
        raise ValueError(f"train_phase_a.supervised.rule {cfg.rule!r} is not one of {COMBINATION_RULES}")
    if len(x_people) == 0 or len(x_bots) == 0:
        raise ValueError("the supervised layer needs people and training bots")
    x = np.vstack([x_people, x_bots])
    y = np.concatenate([np.zeros(len(x_people), dtype=int), np.ones(len(x_bots), dtype=int)])
    model = balanced_forest(x, y, cfg, seed)
    layer = SupervisedLayer(
        forest=flatten_random_forest(model, positive_class=1, node_values=True),
        threshold=0.0,
        reference_median=np.median(x_people, axis=0),
        rule=cfg.rule,
    )
    calib = layer.scores(x_calib)
    layer = SupervisedLayer(
        forest=layer.forest,
        threshold=float(np.quantile(calib, cfg.target_frr)),
        reference_median=layer.reference_median,
        scale=score_scale(calib),
        rule=cfg.rule,
    )
    logger.info(
        "fitted supervised forest on %d people and %d bots; threshold %.4f at calibration FRR %.3f",
        len(x_people),
        len(x_bots),
        layer.threshold,
        cfg.target_frr,
    )
    return layer, model


def log_bundle(
    bundle: ModelBundle,
    model_name: str,
    run_params: Mapping[str, Any],
    run_metrics: Mapping[str, float],
    input_example: NDArray[np.float64],
) -> ModelVersion:
    """Logs the bundle as a pyfunc in the active run and registers it as the model's ``challenger``."""
    mlflow.log_params(dict(run_params))
    mlflow.log_metrics(dict(run_metrics))
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp) / "bundle"
        bundle.save(directory)
        info = mlflow.pyfunc.log_model(
            name="model",
            python_model=str(BUNDLE_MODEL_CODE),  # models from code: the pyfunc is code, never a pickle
            artifacts={"bundle": str(directory)},
            input_example=pd.DataFrame(input_example[:2], columns=bundle.feature_names),
            pip_requirements=BUNDLE_PIP_REQUIREMENTS,
            metadata={
                "kind": bundle.kind,
                "threshold": bundle.threshold,
                "feature_names": bundle.feature_names,
                "supervised_threshold": bundle.supervised.threshold if bundle.supervised else None,
                "combination": bundle.supervised.rule if bundle.supervised else None,
            },
        )
    tags = {"kind": bundle.kind, "threshold": f"{bundle.threshold:.6f}", "grid_ms": f"{bundle.grid_ms}"}
    if bundle.supervised is not None:
        tags |= {
            "layers": f"{bundle.kind}+random_forest",
            "combination": bundle.supervised.rule,
            "supervised_threshold": f"{bundle.supervised.threshold:.6f}",
        }
    return registry.register_challenger(info.model_uri, model_name, tags)


def human_rows(table: pd.DataFrame, split: str, feature_names: list[str]) -> NDArray[np.float64]:
    """Feature rows of the human traces of one split that passed the geometry check (as live traffic would)."""
    rows = table[(table.source == "human") & (table.split == split) & table.geometry_passed]
    return rows[feature_names].to_numpy(np.float64)


def bot_rows(
    table: pd.DataFrame, split: str, feature_names: list[str], exclude: str | None = None
) -> NDArray[np.float64]:
    """Feature rows of the bots of one split as emitted (``train``: what the supervised layer learns from), every
    family but ``exclude``."""
    rows = table[(table.source == "bot") & (table.split == split) & (table.sampling == "native")]
    if exclude is not None:
        rows = rows[rows.family != exclude]
    return rows[feature_names].to_numpy(np.float64)


def check_features(names: list[str], approach_names: list[str] | None = None) -> None:
    """Refuses model inputs that :mod:`tcurity.features.phase_a` (the tear) and :mod:`tcurity.features.approach`
    (the approach) do not compute (the rate-sensitive fine features among them: they are never in their vectors).

    Raises:
        ValueError: naming the unknown features.
    """
    unknown = set(names) - set(PHASE_A_FEATURES)
    if unknown:
        raise ValueError(f"train_phase_a.features names unknown features: {sorted(unknown)}")
    unknown = set(approach_names or []) - set(APPROACH_FEATURES)
    if unknown:
        raise ValueError(f"train_phase_a.approach.features names unknown features: {sorted(unknown)}")


@dataclass(frozen=True)
class PhaseARows:
    """What Phase A's layers learn from: the tear's feature rows of the training people, the calibration people
    and the training bots, and the same for the approaches that are judged (``None`` when not configured)."""

    train: NDArray[np.float64]
    calib: NDArray[np.float64]
    bots: NDArray[np.float64] | None
    approach_train: NDArray[np.float64] | None = None
    approach_calib: NDArray[np.float64] | None = None
    approach_bots: NDArray[np.float64] | None = None


def phase_a_rows(
    p: Params,
    table: pd.DataFrame,
    approaches: pd.DataFrame | None = None,
    exclude_family: str | None = None,
    splits: tuple[str, str] = ("train", "calib"),
) -> PhaseARows:
    """The rows :func:`fit_phase_a` learns from: people of the ``splits`` (training, calibration) and the training
    bots of every family but ``exclude_family``, out of the feature table; the people's approaches out of
    ``approaches`` (the people's own approach table, ``featurize.files.approaches``) when given,
    else out of the judged approaches of the feature table's traces."""
    cfg = p.train_phase_a
    names = list(cfg.features)
    supervised = cfg.supervised is not None
    train, calib = splits
    rows = PhaseARows(
        human_rows(table, train, names),
        human_rows(table, calib, names),
        bot_rows(table, "train", names, exclude_family) if supervised else None,
    )
    if cfg.approach is None:
        return rows
    judged = table[table.approach_judged.astype(bool)]
    a_names = list(cfg.approach.features)
    if approaches is not None:
        people_train = approaches[approaches.split == train][a_names].to_numpy(np.float64)
        people_calib = approaches[approaches.split == calib][a_names].to_numpy(np.float64)
    else:
        people_train, people_calib = human_rows(judged, train, a_names), human_rows(judged, calib, a_names)
    return PhaseARows(
        rows.train,
        rows.calib,
        rows.bots,
        people_train,
        people_calib,
        bot_rows(judged, "train", a_names, exclude_family) if supervised else None,
    )


def read_approach_table(p: Params) -> pd.DataFrame | None:
    """The people's approach table ``featurize`` wrote, or ``None`` when Phase A has no approach layers."""
    if p.train_phase_a.approach is None:
        return None
    return pd.read_parquet(resolve(p.featurize.out_dir) / p.featurize.files.approaches)


def fit_phase_a(p: Params, rows: PhaseARows) -> ModelBundle:
    """Phase A's bundle from feature rows: the tear's Isolation Forest and supervised forest (when configured and
    there are training bots) and, when ``train_phase_a.approach`` is set, the approach's own pair, each with its
    thresholds on calibration people. What :func:`train_phase_a` fits, and what evaluation refits for
    leave-one-family-out and cross-population."""
    cfg = p.train_phase_a
    supervised_frr = cfg.supervised.target_frr if cfg.supervised is not None else cfg.target_frr
    bundle = _fit_layers(
        p, rows.train, rows.calib, rows.bots, list(cfg.features), (cfg.target_frr, supervised_frr)
    )
    if cfg.approach is not None and rows.approach_train is not None and rows.approach_calib is not None:
        frr = cfg.approach.target_frr
        bundle.approach = _fit_layers(
            p,
            rows.approach_train,
            rows.approach_calib,
            rows.approach_bots,
            list(cfg.approach.features),
            (frr, frr),
        )
        # Serving cuts the approach out of a live trace by the limits its people were cut by.
        bundle.approach.meta["limits"] = p.featurize.approach.model_dump()
    return bundle


def _fit_layers(
    p: Params,
    x_train: NDArray[np.float64],
    x_calib: NDArray[np.float64],
    x_bots: NDArray[np.float64] | None,
    names: list[str],
    target_frr: tuple[float, float],
) -> ModelBundle:
    """An Isolation Forest and, with training bots and ``train_phase_a.supervised``, a supervised forest beside it,
    with Phase A's forest settings; ``target_frr`` is each one's false-reject budget on the calibration rows."""
    cfg = p.train_phase_a
    bundle, _ = fit_isolation_forest(
        x_train,
        x_calib,
        names,
        n_estimators=cfg.n_estimators,
        max_samples=cfg.max_samples,
        max_features=cfg.max_features,
        target_frr=target_frr[0],
        grid_ms=p.featurize.grid_ms,
        seed=p.base.seed,
    )
    if cfg.supervised is not None and x_bots is not None:
        layer_cfg = cfg.supervised.model_copy(update={"target_frr": target_frr[1]})
        bundle.supervised, _ = fit_supervised(x_train, x_bots, x_calib, layer_cfg, p.base.seed)
    return bundle


def train_phase_a(p: Params, table: pd.DataFrame) -> tuple[ModelBundle, ModelVersion]:
    """Fits Phase A's two layers on the training users (and training bots), logs the bundle and registers it as
    ``challenger``."""
    cfg = p.train_phase_a
    check_features(list(cfg.features), list(cfg.approach.features) if cfg.approach else [])
    rows = phase_a_rows(p, table, read_approach_table(p))
    x_train, x_calib, x_bots = rows.train, rows.calib, rows.bots
    registry.configure(p)
    experiment_id = registry.ensure_experiment(cfg.experiment)
    with mlflow.start_run(experiment_id=experiment_id, run_name="phase-a-iforest+rf"):
        bundle = fit_phase_a(p, rows)
        metrics = {
            "calib_human_pass_rate": float(np.mean(bundle.passes(x_calib))),
            "calib_iforest_pass_rate": float(np.mean(bundle.scores(x_calib) >= bundle.threshold)),
            "threshold": bundle.threshold,
        }
        if bundle.supervised is not None:
            supervised = bundle.supervised_scores(x_calib)
            assert supervised is not None
            metrics |= {
                "calib_supervised_pass_rate": float(np.mean(supervised >= bundle.supervised.threshold)),
                "supervised_threshold": bundle.supervised.threshold,
                "n_train_bots": float(len(x_bots) if x_bots is not None else 0),
            }
        if bundle.approach is not None and rows.approach_calib is not None:
            metrics |= {
                "calib_approach_pass_rate": float(np.mean(bundle.approach.passes(rows.approach_calib))),
                "n_train_approaches": float(
                    len(rows.approach_train) if rows.approach_train is not None else 0
                ),
            }
        version = log_bundle(
            bundle,
            cfg.model_name,
            run_params={
                **{
                    k: v
                    for k, v in cfg.model_dump(mode="json").items()
                    if k not in ("supervised", "approach")
                },
                **(
                    {
                        "approach_features": ",".join(cfg.approach.features),
                        "approach_target_frr": cfg.approach.target_frr,
                    }
                    if cfg.approach
                    else {}
                ),
                **{
                    f"supervised_{k}": v
                    for k, v in (cfg.supervised.model_dump() if cfg.supervised else {}).items()
                },
                "grid_ms": p.featurize.grid_ms,
                "n_train": len(x_train),
            },
            run_metrics=metrics,
            input_example=x_train,
        )
    bundle.meta.update({"model_name": cfg.model_name, "version": version.version})
    return bundle, version


LOCAL_BUNDLE_DIR = (
    "bundle"  # the bundle's folder in a training stage's model_dir, beside registry.REGISTRATION_FILE
)


def save_local(bundle: ModelBundle, version: ModelVersion, directory: Path) -> None:
    """Writes the trained bundle and the registered version it became (the stage's DVC outputs)."""
    bundle.save(directory / LOCAL_BUNDLE_DIR)
    payload = {"name": version.name, "version": str(version.version), "run_id": version.run_id}
    (directory / registry.REGISTRATION_FILE).write_text(json.dumps(payload, indent=2))


def load_challenger(directory: Path) -> ModelBundle:
    """The bundle of the version a training stage registered (``directory`` is its ``model_dir``), loaded back
    from the registry as evaluation must see it: digest-checked, before any promotion
    (:func:`tcurity.bundles.load_bundle`)."""
    registered = json.loads((directory / registry.REGISTRATION_FILE).read_text())
    return load_bundle(registered["name"], str(registered["version"]), promoted=False)
