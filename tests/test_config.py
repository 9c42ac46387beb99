"""``params.yaml`` through :mod:`tcurity.config`: the real file loads, and a wrong key or type is refused by name."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from tcurity.config import PARAMS_PATH, Params, ProblemConfig, load_params
from tcurity.problems import CELLS


def raw() -> dict[str, Any]:
    """The project's ``params.yaml`` as plain data, to be changed by one key in a test."""
    return dict(yaml.safe_load(PARAMS_PATH.read_text()))


def written(tmp_path: Path, data: dict[str, Any]) -> Path:
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_the_projects_params_load_with_every_section_typed() -> None:
    p = load_params()
    assert set(raw()) == set(Params.model_fields)  # every section of the file has a model, and no more
    assert p.train_effnet.selected == p.train_effnet.profiles[p.train_effnet.profile]
    assert p.problems.max_targets == 4
    assert p.evaluate_phase_b.targets == {"human_pass_rate": 0.99, "block_rate_min": 0.98, "auc": 0.995}
    assert p.prepare_phase_b.seed_offsets.scripted_waits == 14


def test_an_unknown_key_is_refused_naming_it(tmp_path: Path) -> None:
    data = raw()
    data["train_phase_b"]["n_estimator"] = 50  # a misspelt n_estimators
    with pytest.raises(ValidationError) as refused:
        load_params(written(tmp_path, data))
    assert [(e["loc"], e["type"]) for e in refused.value.errors()] == [
        (("train_phase_b", "n_estimator"), "extra_forbidden")
    ]


def test_an_unknown_key_inside_a_nested_image_section_is_refused(tmp_path: Path) -> None:
    data = raw()
    data["problems"]["variation"]["max_zom"] = 1.5
    with pytest.raises(ValidationError) as refused:
        load_params(written(tmp_path, data))
    assert [e["loc"] for e in refused.value.errors()] == [("problems", "variation", "max_zom")]


def test_an_unknown_section_is_refused(tmp_path: Path) -> None:
    data = raw() | {"evaluate_phase_c": {"metrics_path": "x.json"}}
    with pytest.raises(ValidationError) as refused:
        load_params(written(tmp_path, data))
    assert [(e["loc"], e["type"]) for e in refused.value.errors()] == [
        (("evaluate_phase_c",), "extra_forbidden")
    ]


def test_a_wrong_type_is_refused_naming_the_key(tmp_path: Path) -> None:
    data = raw()
    data["train_phase_a"]["n_estimators"] = "three hundred"
    data["train_effnet"]["profile"] = "tpu"
    with pytest.raises(ValidationError) as refused:
        load_params(written(tmp_path, data))
    assert sorted(e["loc"] for e in refused.value.errors()) == [
        ("train_effnet", "profile"),
        ("train_phase_a", "n_estimators"),
    ]


def test_two_streams_of_a_stage_never_share_a_seed_offset(tmp_path: Path) -> None:
    data = raw()
    data["simulate_bots"]["seed_offsets"] = {"eval_bots": 2, "train_bots": 2}
    with pytest.raises(ValidationError, match="share a seed offset"):
        load_params(written(tmp_path, data))


def test_a_problem_keeps_at_least_one_distractor_on_the_grid() -> None:
    # The bound is a number in tcurity.config (kept free of the image code: the backend imports it); it is the grid's.
    assert ProblemConfig(min_targets=CELLS - 1, max_targets=CELLS - 1).max_targets == CELLS - 1
    with pytest.raises(ValidationError):
        ProblemConfig(max_targets=CELLS)


def paths_in(value: object) -> list[Path]:
    """Every path a dumped section holds, however deep."""
    if isinstance(value, Path):
        return [value]
    if isinstance(value, dict):
        return [p for v in value.values() for p in paths_in(v)]
    if isinstance(value, list):
        return [p for v in value for p in paths_in(v)]
    return []


def test_every_file_dvc_yaml_names_in_a_stage_folder_is_one_params_names() -> None:
    """A stage's files are named once, in ``params.yaml`` (``out_dir`` plus ``files``); ``dvc.yaml`` must point at
    the same ones, so renaming one in params and not in dvc.yaml (or the reverse) fails here."""
    p = load_params()
    sections = [p.prepare_humans, p.simulate_bots, p.featurize, p.prepare_phase_b]
    named = {s.out_dir: {s.out_dir / name for name in s.files.model_dump().values()} for s in sections}
    stages = yaml.safe_load((PARAMS_PATH.parent / "dvc.yaml").read_text())["stages"]
    listed = {
        Path(next(iter(d)) if isinstance(d, dict) else d)
        for stage in stages.values()
        for key in ("deps", "outs")
        for d in stage.get(key, [])
    }
    elsewhere = set(
        paths_in(p.model_dump())
    )  # files other sections name in full (featurize_phase_b.out_path)
    checked = 0
    for path in listed:
        for folder, files in named.items():
            if folder in path.parents:
                assert path in files | elsewhere, f"dvc.yaml names {path}, which params.yaml does not"
                checked += 1
    assert checked >= 5  # the inter-stage files dvc.yaml lists (humans, bots, features, ...)
