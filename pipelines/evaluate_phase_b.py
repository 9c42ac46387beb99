"""DVC stage ``evaluate_phase_b``: the registered challenger on held-out people and the evaluation bots.

Loads the challenger from the MLflow registry (the version ``train_phase_b`` registered), scores the test users'
answers and every family's evaluation bots (a seed the training bots do not share; as emitted, and re-emitted
with the humans' sampling process), times scoring one answer in process (features plus forest), reports each
population's test people (``human_pass_rate_by_population``: SapiMouse, the served population, and Balabit, the
second one), writes ``reports/metrics/phase_b_behaviour.json`` and the plots, and attaches the gated metrics to
the model version. What promotion does not read, the forests refitted without a family or on the other
population, is the ``evaluate_phase_b_unseen`` stage's (``make train``; ``make up``'s first run skips it).
"""

from __future__ import annotations

import json
import logging
import os

import numpy as np
import pandas as pd

from pipelines.stage import parse_stage
from tcurity import registry
from tcurity.config import Params, resolve
from tcurity.datasets import TraceRecord, read_traces
from tcurity.evaluate.behaviour import behaviour_metrics, gated_metrics, target_report
from tcurity.evaluate.phase_b import human_pass_rate_by_population, scored, scoring_latency_ms
from tcurity.evaluate.report import ReportPaths, ReportTitles, write_behaviour_report
from tcurity.simulate import FAMILY_KIND
from tcurity.train.behaviour import load_challenger

logger = logging.getLogger("pipelines.evaluate_phase_b")
TITLES = ReportTitles("Phase B: held-out humans vs bots", "Phase B: bots blocked (answer shape + model)")


def timing_sample(p: Params, n: int) -> list[TraceRecord]:
    """``n`` held-out answers (test users and evaluation bots, shuffled with the stage's seed) to time."""
    traces, files = resolve(p.prepare_phase_b.out_dir), p.prepare_phase_b.files
    records = [r for r in read_traces([traces / files.humans, traces / files.bots]) if r.split == "test"]
    order = np.random.default_rng(p.base.seed).permutation(len(records))[:n]
    return [records[i] for i in order]


def evaluate_phase_b(p: Params) -> dict[str, object]:
    """Computes, writes and attaches the held-out metrics; returns the metrics payload."""
    cfg = p.evaluate_phase_b
    registry.configure(p)
    bundle = load_challenger(resolve(p.train_phase_b.model_dir))
    table = pd.read_parquet(resolve(p.featurize_phase_b.out_path))
    humans = scored(bundle, table[(table.source == "human") & (table.split == "test")])
    test_bots = table[(table.source == "bot") & (table.split == "test")]
    native = test_bots[test_bots.sampling == "native"]
    bots = {str(f): scored(bundle, g) for f, g in native.groupby("family")}
    resampled = {
        str(f): scored(bundle, g) for f, g in test_bots[test_bots.sampling == "human"].groupby("family")
    }
    model = {"name": str(bundle.meta["model_name"]), "version": str(bundle.meta["version"])}
    kinds = {f: FAMILY_KIND[f] for f in bots}
    metrics = behaviour_metrics(humans, bots, kinds, bundle.threshold, cfg.frr_for_recall, model)
    metrics["human_sampling"] = behaviour_metrics(
        humans, resampled, kinds, bundle.threshold, cfg.frr_for_recall, model
    )["bot_block_rate"]
    waiting = {
        str(f): scored(bundle, g)
        for f, g in test_bots[test_bots.sampling == "scripted_waits"].groupby("family")
    }
    if waiting:  # feature tables made before this set existed have none
        metrics["scripted_waits"] = behaviour_metrics(
            humans, waiting, kinds, bundle.threshold, cfg.frr_for_recall, model
        )["bot_block_rate"]
    metrics["n_train_bot"] = int(((table.source == "bot") & (table.split == "train")).sum())
    latency = scoring_latency_ms(bundle, timing_sample(p, cfg.timing_traces))
    metrics["score_ms"] = {k: latency["wall"][k] for k in ("p50", "p99")}
    metrics["score_cpu_ms"] = latency["cpu"]
    # The machine's load while timing: on a shared CPU the wall-clock percentiles measure the neighbours too.
    metrics["score_ms_context"] = {
        "wall_min_ms": latency["wall"]["min"],
        "traces": cfg.timing_traces,
        "load_1m": os.getloadavg()[0],
        "cpus": os.cpu_count(),
    }
    metrics["human_pass_rate_by_population"] = human_pass_rate_by_population(bundle, table)
    metrics["targets"] = target_report(metrics, p.evaluate_phase_b.targets)
    write_behaviour_report(
        ReportPaths.of(p.evaluate_phase_b, prefix="behaviour_"),
        TITLES,
        metrics,
        humans,
        bots,
        kinds,
        bundle.threshold,
    )
    registry.set_version_metrics(model["name"], model["version"], gated_metrics(metrics))
    logger.info(
        "phase B behaviour metrics: %s",
        json.dumps({k: metrics[k] for k in ("human_pass_rate", "auc", "score_ms")}),
    )
    return metrics


def main() -> None:
    p, _ = parse_stage(__doc__)
    evaluate_phase_b(p)


if __name__ == "__main__":
    main()
