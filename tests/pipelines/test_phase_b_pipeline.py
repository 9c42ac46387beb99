"""The Phase B behaviour pipeline end to end on a few real people: every stage, the notebook, a real registry.

People are five SapiMouse users (the served population: two train, one calib, one test, one attacker whose
strokes only the replay bots use) and five Balabit users with two sessions each (the second population).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from pipelines.evaluate_phase_b import evaluate_phase_b
from pipelines.evaluate_phase_b_unseen import evaluate_phase_b_unseen
from pipelines.featurize_phase_b import featurize_phase_b
from pipelines.fit_bot_models import fit_bot_models
from pipelines.prepare_humans import prepare_humans
from pipelines.prepare_phase_b import prepare_phase_b
from pipelines.promote_phase_b import promote_phase_b
from pipelines.train_phase_b import train_phase_b
from tcurity import registry
from tcurity.config import PARAMS_PATH, load_params
from tcurity.simulate import FAMILIES
from tests.pipelines.people import with_balabit_people, with_sapimouse_people

SAPI_USERS = {
    "train": ["user4", "user7", "user8"],
    "calib": ["user20", "user21"],
    "test": ["user12"],
    "attacker": ["user1"],
}
USERS = {"train": ["user12", "user15"], "calib": ["user16"], "test": ["user21"], "attacker": ["user29"]}


def small_params(tmp_path: Path) -> Path:
    """The project's params with two sessions per user, few bots, small forests, all written under ``tmp_path``."""
    params = yaml.safe_load(PARAMS_PATH.read_text())
    with_balabit_people(params, tmp_path, USERS)
    with_sapimouse_people(params, tmp_path, SAPI_USERS)
    params["prepare_humans"].update(
        out_dir=str(tmp_path / "humans"),
        sampler_path=str(tmp_path / "sampler.json"),
        max_strokes_per_user=400,
    )
    params["fit_bot_models"] = {"out_dir": str(tmp_path / "bot_zoo"), "max_sigma_strokes": 40}
    params["prepare_phase_b"].update(
        out_dir=str(tmp_path / "phase_b"), train_bots_per_family=12, test_bots_per_family=8
    )
    params["featurize_phase_b"]["out_path"] = str(tmp_path / "phase_b_features.parquet")
    params["train_phase_b"].update(
        model_dir=str(tmp_path / "model"),
        executed_notebook=str(tmp_path / "train_phase_b.ipynb"),
        n_estimators=20,
        max_depth=6,
    )
    params["evaluate_phase_b"].update(
        metrics_path=str(tmp_path / "phase_b_behaviour.json"),
        headline_path=str(tmp_path / "headline.json"),
        unseen_metrics_path=str(tmp_path / "phase_b_unseen.json"),
        plots_dir=str(tmp_path / "plots"),
        timing_traces=40,
    )
    # Two training users, a dozen bots per family and 20 trees: the gates only need to let a sane model through.
    params["promote_phase_b"].update(
        decision_path=str(tmp_path / "promotion.json"),
        min_human_pass_rate=0.5,
        min_auc=0.5,
        min_naive_block_rate=0.0,
        min_humanised_block_rate=0.0,
    )
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(params))
    return path


@pytest.mark.slow  # every stage, the notebook and a real registry: about a minute on one core
@pytest.mark.pipeline
def test_stages_produce_a_champion_and_the_metrics_contract(tmp_path: Path, mlflow_registry: str) -> None:
    params_path = small_params(tmp_path)
    p = load_params(params_path)

    prepare_humans(p)
    fit_bot_models(p)  # the fitted families draw from models of the attacker user
    summary = prepare_phase_b(p)
    people = {u for k, us in USERS.items() if k != "attacker" for u in us}
    people |= {f"sapi_{u}" for k, us in SAPI_USERS.items() if k != "attacker" for u in us}
    assert set(summary["humans_by_user"]) == people  # type: ignore[call-overload]
    assert summary["bots_by_split"] == {"train": 12 * len(FAMILIES), "test": 8 * len(FAMILIES)}
    assert json.loads((tmp_path / "phase_b" / "summary.json").read_text()) == json.loads(json.dumps(summary))
    table = featurize_phase_b(p)
    assert set(table.source) == {"human", "bot"}
    humans = table[table.source == "human"]
    # SapiMouse people are the model's splits; Balabit people keep theirs, prefixed, and never train it.
    assert set(humans.split) == {"train", "calib", "test", "balabit_train", "balabit_calib", "balabit_test"}
    assert set(humans[humans.split.isin(["train", "calib", "test"])].user.str[:5]) == {"sapi_"}
    assert not set(humans.user) & {"sapi_user1", "user29"}  # attackers never answer as people
    assert set(table[table.sampling == "human"].split) == {"test"}  # only evaluation bots are re-sampled
    assert set(table[table.sampling == "scripted_waits"].split) == {"test"}
    train_bots = table[(table.source == "bot") & (table.split == "train")]
    assert 0 < train_bots.trace_id.str.endswith("-sw").sum() < len(train_bots)  # a share waits like a script
    assert table.geometry_passed.all()  # every composed or simulated answer is complete

    train_phase_b(p, params_path)
    assert (tmp_path / "train_phase_b.ipynb").exists()
    assert (tmp_path / "plots" / "behaviour_train_scores.png").exists()
    registered = json.loads((tmp_path / "model" / "registered.json").read_text())

    metrics = evaluate_phase_b(p)
    written = json.loads((tmp_path / "phase_b_behaviour.json").read_text())
    assert written == json.loads(json.dumps(metrics))
    for key in ("human_pass_rate", "auc", "bot_recall_at_1pct_frr"):
        assert 0.0 <= written[key] <= 1.0
    for key in ("bot_block_rate", "human_sampling", "scripted_waits"):
        assert set(written[key]) == set(FAMILIES)
    assert set(written["human_pass_rate_by_population"]) == {"sapimouse", "balabit"}
    assert written["human_pass_rate_by_population"]["sapimouse"] == written["human_pass_rate"]
    assert not {"leave_one_family_out", "cross_population"} & set(written)  # evaluate_phase_b_unseen's
    assert set(written["family_kind"].values()) == {"naive", "humanised"}
    assert written["n_bot"] == dict.fromkeys(FAMILIES, 8)
    assert written["n_human"] > 0
    assert written["model"] == {"name": registered["name"], "version": registered["version"]}
    assert 0.0 < written["score_ms"]["p50"] <= written["score_ms"]["p99"]
    assert set(written["targets"]) == {"human_pass_rate", "block_rate_min", "auc"}
    # Teleport answers in a few milliseconds per movement: even a tiny forest blocks it.
    assert written["bot_block_rate"]["teleport"] == 1.0

    unseen = evaluate_phase_b_unseen(p)
    assert json.loads((tmp_path / "phase_b_unseen.json").read_text()) == json.loads(json.dumps(unseen))
    assert set(unseen["leave_one_family_out"]) == set(FAMILIES)  # type: ignore[call-overload]
    cross = unseen["cross_population"]
    assert isinstance(cross, dict)
    assert set(cross) == {f"{a}_to_{b}" for a in ("sapimouse", "balabit") for b in ("sapimouse", "balabit")}
    assert cross["sapimouse_to_sapimouse"]["human_pass_rate"] == written["human_pass_rate"]
    assert cross["sapimouse_to_balabit"]["n_human"] == int((humans.split == "balabit_test").sum())
    assert cross["balabit_to_sapimouse"]["n_human"] == written["n_human"]
    assert unseen["model"] == written["model"]
    assert (tmp_path / "plots" / "behaviour_lofo.png").exists()

    decision = promote_phase_b(p)
    assert decision.promoted, decision.failures
    champion = registry.version_by_alias(registered["name"], registry.CHAMPION)
    assert champion is not None
    assert str(champion.version) == registered["version"]
