"""The ``feature_separation`` stage on a few SapiMouse people: both reports, their keys, people only from train."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from pipelines.feature_separation import feature_separation
from pipelines.fit_bot_models import fit_bot_models
from tcurity.config import PARAMS_PATH, load_params
from tcurity.evaluate.invariance import BROWSER_FEATURE_NAMES
from tcurity.evaluate.separation import SEPARATION_FEATURES
from tcurity.simulate import FAMILIES
from tests.pipelines.people import with_sapimouse_people

# user11 and user64 were recorded at 125 Hz, user4, user7 and user8 at 60 Hz; user12 (test) is there, never read.
USERS = {
    "train": ["user4", "user7", "user8", "user11", "user64"],
    "calib": [],
    "test": ["user12"],
    "attacker": ["user1"],
}


def test_the_stage_writes_both_reports_from_training_people(tmp_path: Path) -> None:
    params = yaml.safe_load(PARAMS_PATH.read_text())
    with_sapimouse_people(params, tmp_path, USERS)
    params["feature_separation"] = {
        "bots_per_family": 5,
        "invariance_path": str(tmp_path / "rate_invariance.json"),
        "separation_path": str(tmp_path / "feature_separation.json"),
    }
    params["fit_bot_models"] = {"out_dir": str(tmp_path / "bot_zoo"), "max_sigma_strokes": 30}
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(params))

    fit_bot_models(load_params(path))  # the fitted families' models, from the attacker user
    written = feature_separation(load_params(path))

    invariance = json.loads(written["rate_invariance"].read_text())
    assert invariance["people"] == {"high_rate": 2, "standard_rate": 3}
    assert set(invariance["features"]) == set(BROWSER_FEATURE_NAMES)
    separation = json.loads(written["feature_separation"].read_text())
    assert separation["people"]["users"] == 5  # the training people only: user12 is never read
    assert separation["bots_per_family"] == 5
    assert set(separation["families"]) == set(FAMILIES)
    assert set(separation["features"]) == set(SEPARATION_FEATURES)
