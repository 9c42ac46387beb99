"""The Phase A pipeline end to end on a few real sessions: every stage, the notebook, a real registry."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from pipelines.evaluate_phase_a import evaluate_phase_a
from pipelines.featurize import featurize
from pipelines.fit_bot_models import fit_bot_models
from pipelines.prepare_humans import prepare_humans
from pipelines.promote_phase_a import promote_phase_a
from pipelines.simulate_bots import simulate_bots
from pipelines.train_phase_a import train_phase_a
from tcurity import registry
from tcurity.config import PARAMS_PATH, load_params
from tcurity.evaluate.headline import behaviour_headline
from tcurity.simulate import FAMILIES
from tests.pipelines.people import with_balabit_people, with_sapimouse_people

SAPI_USERS = {
    "train": [f"user{n}" for n in (4, 7, 8, 11, 13, 14, 16, 22, 23, 24)],
    "calib": ["user20", "user29", "user36", "user40"],
    "test": ["user12", "user17"],
    "attacker": ["user1"],
}
USERS = {"train": ["user12", "user15"], "calib": ["user20"], "test": ["user21"], "attacker": ["user29"]}


def small_params(tmp_path: Path) -> Path:
    """The project's params with two sessions per user and everything written under ``tmp_path``."""
    params = yaml.safe_load(PARAMS_PATH.read_text())
    with_balabit_people(params, tmp_path, USERS)
    with_sapimouse_people(params, tmp_path, SAPI_USERS)
    params["prepare_humans"].update(
        out_dir=str(tmp_path / "humans"), sampler_path=str(tmp_path / "sampler.json")
    )
    params["prepare_humans"]["max_strokes_per_user"] = 300
    params["fit_bot_models"] = {"out_dir": str(tmp_path / "bot_zoo"), "max_sigma_strokes": 40}
    params["simulate_bots"].update(
        out_dir=str(tmp_path / "bots"), traces_per_family=15, train_traces_per_family=15
    )
    params["featurize"]["out_dir"] = str(tmp_path / "processed")
    params["train_phase_a"].update(
        model_dir=str(tmp_path / "model"),
        executed_notebook=str(tmp_path / "train_phase_a.ipynb"),
        n_estimators=50,
        max_samples=128,
    )
    params["train_phase_a"]["supervised"].update(n_estimators=30)
    params["evaluate_phase_a"].update(
        metrics_path=str(tmp_path / "phase_a.json"),
        headline_path=str(tmp_path / "headline.json"),
        plots_dir=str(tmp_path / "plots"),
    )
    # A model of ten people and 50 trees, calibrated on four: the bot gates only need to let a sane model through;
    # the human gate stays the project's own (params.yaml).
    params["promote_phase_a"].update(
        decision_path=str(tmp_path / "promotion.json"),
        min_auc=0.5,
        min_naive_block_rate=0.3,
        min_humanised_block_rate=0.0,
        min_lofo_block_rate=0.0,
    )
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(params))
    return path


@pytest.mark.slow  # every stage, the notebook and a real registry: about a minute on one core
@pytest.mark.pipeline
def test_stages_produce_a_champion_and_the_metrics_contract(tmp_path: Path, mlflow_registry: str) -> None:
    params_path = small_params(tmp_path)
    p = load_params(params_path)

    summary = prepare_humans(p)
    assert summary["strokes"] > 0
    # SapiMouse people are Phase A's splits; Balabit's, the second population, keep theirs under a prefix.
    assert set(summary["phase_a_traces_by_split"]) == {  # type: ignore[arg-type]
        "train",
        "calib",
        "test",
        "balabit_train",
        "balabit_calib",
        "balabit_test",
    }
    assert set(summary["phase_a_traces_by_population"]) == {"sapimouse", "balabit"}  # type: ignore[arg-type]
    fit_bot_models(p)  # the fitted families draw from models of the attacker user
    assert simulate_bots(p) == dict.fromkeys(FAMILIES, 15)
    table = featurize(p)
    assert set(table.source) == {"human", "bot"}
    assert set(table.sampling) == {"native", "human"}
    # Training bots (their own seed) beside the evaluation bots; the human-sampling copies are of evaluation bots.
    bots = table[table.source == "bot"]
    assert bots.groupby(["split", "sampling"]).size().to_dict() == {
        ("test", "native"): 15 * len(FAMILIES),
        ("test", "human"): 15 * len(FAMILIES),
        ("train", "native"): 15 * len(FAMILIES),
    }
    replays = bots[bots.family == "replay"].groupby("split").user.apply(set)
    assert replays["train"] == replays["test"] == {"sapi_user1"}

    train_phase_a(p, params_path)
    assert (tmp_path / "train_phase_a.ipynb").exists()
    assert (tmp_path / "plots" / "train_scores.png").exists()
    registered = json.loads((tmp_path / "model" / "registered.json").read_text())
    saved = json.loads((tmp_path / "model" / "bundle" / "bundle.json").read_text())
    assert saved["supervised"]["rule"] == "both_pass"
    assert saved["grid_ms"] == pytest.approx(1000.0 / 60.0)
    assert "hf_band_ratio" not in saved["feature_names"]
    # The approach layers: a bundle of their own in the folder the Phase A bundle names, cut by serving's limits.
    assert saved["approach"] == "approach"
    approach = json.loads((tmp_path / "model" / "bundle" / "approach" / "bundle.json").read_text())
    assert approach["feature_names"] == p.train_phase_a.approach.features  # type: ignore[union-attr]
    assert approach["meta"]["limits"] == p.featurize.approach.model_dump()

    metrics = evaluate_phase_a(p)
    written = json.loads((tmp_path / "phase_a.json").read_text())
    assert written == json.loads(json.dumps(metrics))
    assert json.loads((tmp_path / "headline.json").read_text()) == behaviour_headline(written)
    for key in ("human_pass_rate", "auc", "bot_recall_at_1pct_frr"):
        assert 0.0 <= written[key] <= 1.0
    assert set(written["bot_block_rate"]) == set(FAMILIES)
    assert set(written["family_kind"].values()) == {"naive", "humanised"}
    assert written["n_bot"] == dict.fromkeys(FAMILIES, 15)
    assert written["n_human"] > 0
    assert set(written["approach"]["bot_block_rate"]) == set(FAMILIES)
    assert written["approach"]["judged_rate_people"]["sapimouse"] > 0.9  # every person's tear comes with one
    assert written["model"] == {"name": registered["name"], "version": registered["version"]}
    # Teleport moves in one jump: nothing human-like survives that.
    assert written["bot_block_rate"]["teleport"] == 1.0
    humanised = {f for f, k in written["family_kind"].items() if k == "humanised"}
    assert set(written["leave_one_family_out"]) == humanised
    assert set(written["human_pass_rate_by_population"]) == {"sapimouse", "balabit"}
    assert set(written["bot_block_rate_by_layer"]) == {"isolation_forest", "supervised", "approach"}
    assert set(written["cross_population"]) == {"train_sapimouse", "train_balabit", "reading"}
    assert written["combination"] == "both_pass"

    decision = promote_phase_a(p)
    assert decision.promoted, decision.failures
    champion = registry.version_by_alias(registered["name"], registry.CHAMPION)
    assert champion is not None
    assert str(champion.version) == registered["version"]
