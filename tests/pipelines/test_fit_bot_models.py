"""The ``fit_bot_models`` stage on real SapiMouse people: models from the attacker user only, loadable, usable."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import yaml

from pipelines.fit_bot_models import fit_bot_models
from tcurity.config import PARAMS_PATH, load_params
from tcurity.simulate import FAMILIES
from tcurity.simulate.fitted import load_bot_models
from tests.pipelines.people import with_sapimouse_people

# user4 (train) and user12 (test) sit beside the attacker user1 in the data folder: never to be learned from.
USERS = {"train": ["user4"], "calib": [], "test": ["user12"], "attacker": ["user1"]}


def test_the_stage_fits_every_fitted_family_on_the_attacker_user_only(tmp_path: Path) -> None:
    params = yaml.safe_load(PARAMS_PATH.read_text())
    with_sapimouse_people(params, tmp_path, USERS)
    params["fit_bot_models"] = {"out_dir": str(tmp_path / "bot_zoo"), "max_sigma_strokes": 20}
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(params))

    out = fit_bot_models(load_params(path))

    assert sorted(p.name for p in out.iterdir()) == [
        "learned_pca.json",
        "learned_pca.npz",
        "sigma_lognormal.json",
        "sigma_lognormal.npz",
    ]
    for name in ("learned_pca", "sigma_lognormal"):
        assert json.loads((out / f"{name}.json").read_text())["users"] == ["sapi_user1"]
    assert json.loads((out / "sigma_lognormal.json").read_text())["strokes_offered"] == 20
    models = load_bot_models(out)
    assert set(models) == {name for name, f in FAMILIES.items() if f.fitted}
    for name, model in models.items():
        path_px = FAMILIES[name].move((40.0, 50.0), (260.0, 90.0), np.random.default_rng(0), model=model)
        assert (path_px.x[-1], path_px.y[-1]) == (260.0, 90.0)
