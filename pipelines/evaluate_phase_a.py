"""DVC stage ``evaluate_phase_a``: the registered challenger on held-out humans and every bot family.

Loads the challenger from the MLflow registry (the version ``train_phase_a`` registered), scores the test users'
tears and every bot family (as emitted, and re-emitted with the humans' sampling process), writes
``reports/metrics/phase_a.json`` and the plots, and attaches the gated metrics to the model version.
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd

from tcurity import registry
from tcurity.config import Params, load_params, resolve, setup_logging
from tcurity.evaluate.behaviour import ScoredSet, behaviour_metrics, gated_metrics, roc_points, target_report
from tcurity.evaluate.plots import block_rates, score_distributions
from tcurity.scoring import ModelBundle
from tcurity.simulate import FAMILY_KIND

logger = logging.getLogger("pipelines.evaluate_phase_a")
# The product's targets, reported beside the measured numbers (the promotion gates are params.yaml's).
TARGETS = {
    "human_pass_rate": 0.99,
    "auc": 0.99,
    "naive_block_rate_min": 0.995,
    "humanised_block_rate_min": 0.95,
}


def load_registered(p: Params) -> ModelBundle:
    """The bundle of the version ``train_phase_a`` registered, loaded back from the registry."""
    registered = json.loads((resolve(p.train_phase_a.model_dir) / "registered.json").read_text())
    registry.configure(p)
    model = mlflow.pyfunc.load_model(f"models:/{registered['name']}/{registered['version']}")
    bundle: ModelBundle = model.unwrap_python_model().bundle
    bundle.meta.update({"model_name": registered["name"], "version": registered["version"]})
    return bundle


def scored(bundle: ModelBundle, rows: pd.DataFrame) -> ScoredSet:
    features = rows[bundle.feature_names].to_numpy(np.float64)
    return ScoredSet(bundle.scores(features), rows["geometry_passed"].to_numpy(bool))


def evaluate_phase_a(p: Params) -> dict[str, object]:
    """Computes, writes and attaches the held-out metrics; returns the metrics payload."""
    cfg = p.evaluate_phase_a
    bundle = load_registered(p)
    table = pd.read_parquet(resolve(p.featurize.out_dir) / "phase_a_features.parquet")
    humans = scored(bundle, table[(table.source == "human") & (table.split == "test")])
    bots = table[table.source == "bot"]
    native = {str(f): scored(bundle, g) for f, g in bots[bots.sampling == "native"].groupby("family")}
    resampled = {str(f): scored(bundle, g) for f, g in bots[bots.sampling == "human"].groupby("family")}
    model = {"name": str(bundle.meta["model_name"]), "version": str(bundle.meta["version"])}
    kinds = {f: FAMILY_KIND[f] for f in native}
    metrics = behaviour_metrics(humans, native, kinds, bundle.threshold, cfg.frr_for_recall, model)
    metrics["human_sampling"] = behaviour_metrics(
        humans, resampled, kinds, bundle.threshold, cfg.frr_for_recall, model
    )["bot_block_rate"]
    metrics["targets"] = target_report(metrics, TARGETS)
    write_outputs(p, metrics, humans, native, kinds, bundle.threshold)
    registry.set_version_metrics(model["name"], model["version"], gated_metrics(metrics))
    logger.info("phase A metrics: %s", json.dumps({k: metrics[k] for k in ("human_pass_rate", "auc")}))
    return metrics


def write_outputs(
    p: Params,
    metrics: dict[str, object],
    humans: ScoredSet,
    native: dict[str, ScoredSet],
    kinds: dict[str, str],
    threshold: float,
) -> None:
    cfg = p.evaluate_phase_a
    metrics_path = resolve(cfg.metrics_path)
    metrics_path.parent.mkdir(parents=True, exist_ok=True)
    metrics_path.write_text(json.dumps(metrics, indent=2, sort_keys=True))
    plots = resolve(cfg.plots_dir)
    plots.mkdir(parents=True, exist_ok=True)
    bot_scores = {f: s.scores for f, s in native.items()}
    score_distributions(humans.scores, bot_scores, threshold, "Phase A: held-out humans vs bots").savefig(
        plots / "test_scores.png", dpi=110
    )
    rates = metrics["bot_block_rate"]
    assert isinstance(rates, dict)
    block_rates(rates, kinds, "Phase A: bots blocked (geometry + model)").savefig(
        plots / "block_rates.png", dpi=110
    )
    all_bots = np.concatenate(list(bot_scores.values()))
    (plots / "roc.json").write_text(json.dumps(roc_points(humans.scores, all_bots), indent=1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--params", type=Path, default=None, help="params.yaml to read (default: the project's)"
    )
    args = parser.parse_args()
    p = load_params(args.params)
    setup_logging(p.base.log_level)
    evaluate_phase_a(p)


if __name__ == "__main__":
    main()
