"""DVC stage ``evaluate_phase_a``: the registered challenger on held-out humans and every bot family.

Loads the challenger from the MLflow registry (the version ``train_phase_a`` registered), scores the test users'
tears and every evaluation bot family (as emitted, and re-emitted with the humans' sampling process) with the served
decision (both layers, rule ``both_pass``), writes ``reports/metrics/phase_a.json`` and the plots, and attaches the
gated metrics to the model version.

Beside the earlier keys, the metrics file holds:

- ``human_pass_rate_by_population``: the served decision on SapiMouse's test users (``sapimouse``, the people the
  model is built for) and on Balabit's (``balabit``, ~9 Hz remote desktop, never trained on);
- ``bot_block_rate_by_layer``: each family's block rate by geometry and one layer alone (Phase A alone, per layer);
- ``leave_one_family_out``: for every humanised family, the supervised layer refitted without that family's
  training bots (thresholds re-set on the calibration users, the Isolation Forest unchanged), and the share of that
  family's evaluation bots the bundle then blocks: the number for a tool nobody trained on;
- ``approach``: the approach layers alone (:mod:`tcurity.features.approach`): how often an approach is judged, the
  share of test people's judged approaches they pass and of each family's they block (the served decision above
  already includes them);
- ``cross_population``: both layers fitted on one population's people (the same training bots) and calibrated on
  its calibration users, then scored on the other population's test users, each way, with a one-line reading.
"""

from __future__ import annotations

import json
import logging

import numpy as np
import pandas as pd

from pipelines.stage import parse_stage
from tcurity import registry
from tcurity.config import Params, resolve
from tcurity.evaluate.behaviour import ScoredSet, behaviour_metrics, gated_metrics, target_report
from tcurity.evaluate.report import ReportPaths, ReportTitles, write_behaviour_report
from tcurity.scoring import ModelBundle
from tcurity.simulate import FAMILY_KIND
from tcurity.train.behaviour import fit_phase_a, load_challenger, phase_a_rows, read_approach_table

logger = logging.getLogger("pipelines.evaluate_phase_a")
TITLES = ReportTitles("Phase A: held-out humans vs bots (margin)", "Phase A: bots blocked (geometry + model)")


def approach_rows(bundle: ModelBundle, rows: pd.DataFrame) -> np.ndarray | None:
    """The approach features the bundle's approach layers read (``NaN`` rows: no approach judged), or ``None``."""
    if bundle.approach is None:
        return None
    return rows[bundle.approach.feature_names].to_numpy(np.float64)


def scored(bundle: ModelBundle, rows: pd.DataFrame) -> ScoredSet:
    """The served decision on feature rows as one number each: the bundle's margin (``>= 0``: passes every layer,
    the approach's where one is judged)."""
    features = rows[bundle.feature_names].to_numpy(np.float64)
    margins = bundle.with_approach_margins(features, approach_rows(bundle, rows))
    return ScoredSet(margins, rows["geometry_passed"].to_numpy(bool))


def pass_rate(bundle: ModelBundle, rows: pd.DataFrame) -> float:
    """Share of traces that pass geometry and every layer."""
    if rows.empty:
        return float("nan")
    return float(np.mean(scored(bundle, rows).passed(0.0)))


def block_rates_by_layer(bundle: ModelBundle, bots: pd.DataFrame) -> dict[str, dict[str, float]]:
    """Each family's share blocked by geometry and one layer alone (``isolation_forest``; ``supervised``: the
    tear's), and by geometry and the approach's two layers together (``approach``; an approach not judged
    passes)."""
    out: dict[str, dict[str, float]] = {bundle.kind: {}}
    if bundle.supervised is not None:
        out["supervised"] = {}
    if bundle.approach is not None:
        out["approach"] = {}
    for family, rows in bots.groupby("family"):
        approach = approach_rows(bundle, rows)
        if bundle.approach is not None and approach is not None:
            judged = ~np.any(np.isnan(approach), axis=1)
            ok = rows["geometry_passed"].to_numpy(bool).copy()
            ok[judged] &= bundle.approach.passes(approach[judged])
            out["approach"][str(family)] = float(1.0 - np.mean(ok))
        x = rows[bundle.feature_names].to_numpy(np.float64)
        geometry = rows["geometry_passed"].to_numpy(bool)
        out[bundle.kind][str(family)] = float(
            1.0 - np.mean(geometry & (bundle.scores(x) >= bundle.threshold))
        )
        second = bundle.supervised_scores(x)
        if bundle.supervised is not None and second is not None:
            ok = geometry & (second >= bundle.supervised.threshold)
            out["supervised"][str(family)] = float(1.0 - np.mean(ok))
    return out


def leave_one_family_out(
    p: Params,
    bundle: ModelBundle,
    table: pd.DataFrame,
    approaches: pd.DataFrame | None,
    native: pd.DataFrame,
    kinds: dict[str, str],
) -> dict[str, float]:
    """Per humanised family: the bundle's block rate on that family's evaluation bots once every layer is refitted
    (same parameters and seed, thresholds re-set on calibration users) without that family's training bots. The
    one-class layers learn people only, so they come out as they were; the supervised ones never see the family."""
    if p.train_phase_a.supervised is None or bundle.supervised is None:
        return {}
    out = {}
    for family in sorted(f for f, k in kinds.items() if k == "humanised"):
        held_out = fit_phase_a(p, phase_a_rows(p, table, approaches, exclude_family=family))
        out[family] = float(1.0 - pass_rate(held_out, native[native.family == family]))
        logger.info("leave-one-family-out %s: %.4f blocked", family, out[family])
    return out


def approach_report(
    bundle: ModelBundle, table: pd.DataFrame, approaches: pd.DataFrame, native: pd.DataFrame
) -> dict[str, object]:
    """The approach layers on their own: how often an approach is judged, and among judged approaches the share of
    each population's test people they pass (those paired with the test tears, and all the test people's
    approaches) and of each family's evaluation bots they block."""
    assert bundle.approach is not None
    approach = bundle.approach
    people = table[table.source == "human"]

    def judged(rows: pd.DataFrame) -> pd.DataFrame:
        return rows[rows.approach_judged.astype(bool)]

    def passes(rows: pd.DataFrame) -> float:
        rows = judged(rows)
        if rows.empty:
            return float("nan")
        return float(np.mean(approach.passes(rows[approach.feature_names].to_numpy(np.float64))))

    tests = {pop: people[people.split == splits[2]] for pop, splits in POPULATION_SPLITS.items()}
    own = {pop: approaches[approaches.split == splits[2]] for pop, splits in POPULATION_SPLITS.items()}
    return {
        "human_pass_rate_all_approaches": {
            pop: float(np.mean(approach.passes(rows[approach.feature_names].to_numpy(np.float64))))
            for pop, rows in own.items()
            if len(rows)
        },
        "n_people_approaches": {pop: len(rows) for pop, rows in own.items()},
        "judged_rate_people": {
            pop: float(rows.approach_judged.mean()) for pop, rows in tests.items() if len(rows)
        },
        "judged_rate_bots": {str(f): float(g.approach_judged.mean()) for f, g in native.groupby("family")},
        "human_pass_rate_by_population": {pop: passes(rows) for pop, rows in tests.items() if len(rows)},
        "bot_block_rate": {str(f): 1.0 - passes(g) for f, g in native.groupby("family")},
        "threshold": approach.threshold,
        "supervised_threshold": approach.supervised.threshold if approach.supervised else None,
        "features": list(approach.feature_names),
    }


POPULATION_SPLITS = {
    "sapimouse": ("train", "calib", "test"),
    "balabit": ("balabit_train", "balabit_calib", "balabit_test"),
}
"""Each population's training, calibration and test split names in the feature table (``docs/data.md``)."""


def cross_population(
    p: Params, table: pd.DataFrame, approaches: pd.DataFrame | None, native: pd.DataFrame
) -> dict[str, object]:
    """Both layers fitted on each population's people in turn (same training bots, thresholds on that population's
    calibration users), scored on its own test users, the other population's, and every evaluation bot family; with
    a reading of the numbers."""
    humans = table[table.source == "human"]
    out: dict[str, object] = {}
    for source, (train, calib, test) in POPULATION_SPLITS.items():
        rows = phase_a_rows(p, table, approaches, splits=(train, calib))
        if len(rows.train) == 0 or len(rows.calib) == 0:
            continue
        if rows.approach_train is not None and (len(rows.approach_train) == 0 or rows.approach_calib is None):
            continue
        model = fit_phase_a(p, rows)
        other = next(k for k in POPULATION_SPLITS if k != source)
        blocks = {str(f): 1.0 - pass_rate(model, g) for f, g in native.groupby("family")}
        by_kind = {k: [v for f, v in blocks.items() if FAMILY_KIND[f] == k] for k in ("naive", "humanised")}
        out[f"train_{source}"] = {
            "own_test_pass_rate": pass_rate(model, humans[humans.split == test]),
            f"{other}_test_pass_rate": pass_rate(model, humans[humans.split == POPULATION_SPLITS[other][2]]),
            "bot_block_rate": blocks,
            **{f"{k}_block_rate_min": min(v) for k, v in by_kind.items() if v},
        }
    if {"train_sapimouse", "train_balabit"} <= set(out):
        out["reading"] = cross_reading(out["train_sapimouse"], out["train_balabit"])  # type: ignore[arg-type]
    return out


def cross_reading(s: dict[str, object], b: dict[str, object]) -> str:
    """What the two cross-population models (trained on SapiMouse: ``s``; on Balabit: ``b``) show, in one paragraph
    built from their numbers."""

    def num(d: dict[str, object], key: str) -> float:
        value = d[key]
        assert isinstance(value, float)
        return value

    def weakest_humanised(d: dict[str, object]) -> str:
        blocks = d["bot_block_rate"]
        assert isinstance(blocks, dict)
        return min((v, f) for f, v in blocks.items() if FAMILY_KIND[f] == "humanised")[1]

    drop_s = 100 * (num(s, "own_test_pass_rate") - num(s, "balabit_test_pass_rate"))
    drop_b = 100 * (num(b, "own_test_pass_rate") - num(b, "sapimouse_test_pass_rate"))
    return (
        f"Trained on SapiMouse (browsers, ~60 Hz) both layers pass {num(s, 'own_test_pass_rate'):.1%} of SapiMouse's "
        f"test people and {num(s, 'balabit_test_pass_rate'):.1%} of Balabit's (remote desktop, mostly ~9 Hz); trained "
        f"on Balabit they pass {num(b, 'own_test_pass_rate'):.1%} of Balabit's and "
        f"{num(b, 'sapimouse_test_pass_rate'):.1%} of SapiMouse's. People of the population a model never saw pass "
        f"{drop_s:.1f} and {drop_b:.1f} points less often than its own: the features carry part of the recording "
        "set-up (rate, device, remote desktop) beside the person, so thresholds set on one population do not transfer "
        "unchanged. Against the same training bots the Balabit-trained model blocks at least "
        f"{num(b, 'humanised_block_rate_min'):.1%} of each humanised family ({weakest_humanised(b)} the weakest) and "
        f"{num(b, 'naive_block_rate_min'):.1%} of each naive one; the SapiMouse-trained "
        f"{num(s, 'humanised_block_rate_min'):.1%} ({weakest_humanised(s)}) and {num(s, 'naive_block_rate_min'):.1%}."
    )


def evaluate_phase_a(p: Params) -> dict[str, object]:
    """Computes, writes and attaches the held-out metrics; returns the metrics payload."""
    cfg = p.evaluate_phase_a
    registry.configure(p)
    bundle = load_challenger(resolve(p.train_phase_a.model_dir))
    table = pd.read_parquet(resolve(p.featurize.out_dir) / p.featurize.files.features)
    humans = scored(bundle, table[(table.source == "human") & (table.split == "test")])
    bots = table[(table.source == "bot") & (table.split == "test")]  # evaluation bots only
    native_rows = bots[bots.sampling == "native"]
    native = {str(f): scored(bundle, g) for f, g in native_rows.groupby("family")}
    resampled = {str(f): scored(bundle, g) for f, g in bots[bots.sampling == "human"].groupby("family")}
    model = {"name": str(bundle.meta["model_name"]), "version": str(bundle.meta["version"])}
    kinds = {f: FAMILY_KIND[f] for f in native}
    # The decision is the margin's sign (tcurity.scoring.ModelBundle.margins), so the cut is 0 in margin units.
    metrics = behaviour_metrics(humans, native, kinds, 0.0, cfg.frr_for_recall, model)
    metrics["human_sampling"] = behaviour_metrics(humans, resampled, kinds, 0.0, cfg.frr_for_recall, model)[
        "bot_block_rate"
    ]
    metrics["threshold"] = (
        bundle.threshold
    )  # the Isolation Forest's, as before; the supervised layer's beside it
    if bundle.supervised is not None:
        metrics["supervised_threshold"] = bundle.supervised.threshold
        metrics["combination"] = bundle.supervised.rule
    people = table[table.source == "human"]
    metrics["human_pass_rate_by_population"] = {
        population: pass_rate(bundle, people[people.split == splits[2]])
        for population, splits in POPULATION_SPLITS.items()
        if (people.split == splits[2]).any()
    }
    metrics["bot_block_rate_by_layer"] = block_rates_by_layer(bundle, native_rows)
    approaches = read_approach_table(p)
    if bundle.approach is not None and approaches is not None:
        metrics["approach"] = approach_report(bundle, table, approaches, native_rows)
    lofo = leave_one_family_out(p, bundle, table, approaches, native_rows, kinds)
    if lofo:  # a one-layer bundle has nothing to leave out
        metrics["leave_one_family_out"] = lofo
    metrics["cross_population"] = cross_population(p, table, approaches, native_rows)
    targets = {k: v for k, v in p.evaluate_phase_a.targets.items() if k != "lofo_block_rate_min" or lofo}
    metrics["targets"] = target_report(metrics, targets)
    write_behaviour_report(ReportPaths.of(p.evaluate_phase_a), TITLES, metrics, humans, native, kinds, 0.0)
    registry.set_version_metrics(model["name"], model["version"], gated_metrics(metrics))
    logger.info("phase A metrics: %s", json.dumps({k: metrics[k] for k in ("human_pass_rate", "auc")}))
    return metrics


def main() -> None:
    p, _ = parse_stage(__doc__)
    evaluate_phase_a(p)


if __name__ == "__main__":
    main()
