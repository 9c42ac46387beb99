"""DVC stage ``evaluate_phase_b_unseen``: the Phase B behaviour model against what it never saw.

Two questions that promotion does not ask, each answered by refitting forests like the registered one (a dozen
fits, most of the Phase B evaluation's time), so ``make up``'s first run leaves this stage to ``make train``:

- ``leave_one_family_out``: each family's evaluation bots scored by a forest trained without that family, the
  honest block rate for a new kind of bot;
- ``cross_population``: the registered model (SapiMouse) meeting Balabit's test people, and a forest trained on
  Balabit meeting SapiMouse's.

Writes ``params.yaml: evaluate_phase_b.unseen_metrics_path`` and the plot ``behaviour_lofo.png``, and attaches the
weakest left-out family's block rate to the model version (``lofo_block_rate_min``; reported, not gated).
"""

from __future__ import annotations

import json
import logging

import pandas as pd

from pipelines.stage import parse_stage
from tcurity import registry
from tcurity.config import Params, resolve
from tcurity.evaluate.phase_b import cross_population, leave_one_family_out
from tcurity.evaluate.plots import block_rates
from tcurity.simulate import FAMILY_KIND
from tcurity.train.behaviour import load_challenger

logger = logging.getLogger("pipelines.evaluate_phase_b_unseen")


def evaluate_phase_b_unseen(p: Params) -> dict[str, object]:
    """Computes and writes the left-out-family and cross-population reports; returns the payload."""
    cfg = p.evaluate_phase_b
    registry.configure(p)
    bundle = load_challenger(resolve(p.train_phase_b.model_dir))
    table = pd.read_parquet(resolve(p.featurize_phase_b.out_path))
    lofo = leave_one_family_out(table, bundle.feature_names, p.train_phase_b, p.sampling.grid_ms, p.base.seed)
    metrics: dict[str, object] = {
        "model": {"name": str(bundle.meta["model_name"]), "version": str(bundle.meta["version"])},
        "leave_one_family_out": lofo,
        "cross_population": cross_population(bundle, table, p.train_phase_b, p.sampling.grid_ms, p.base.seed),
    }
    out = resolve(cfg.unseen_metrics_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(metrics, indent=2, sort_keys=True))
    plots = resolve(cfg.plots_dir)
    plots.mkdir(parents=True, exist_ok=True)
    kinds = {f: FAMILY_KIND[f] for f in lofo}
    block_rates(lofo, kinds, "Phase B: bots blocked by a model that never saw them").savefig(
        plots / "behaviour_lofo.png", dpi=110
    )
    model = metrics["model"]
    assert isinstance(model, dict)
    registry.set_version_metrics(model["name"], model["version"], {"lofo_block_rate_min": min(lofo.values())})
    logger.info("phase B, families left out: %s", json.dumps(lofo))
    return metrics


def main() -> None:
    p, _ = parse_stage(__doc__)
    evaluate_phase_b_unseen(p)


if __name__ == "__main__":
    main()
