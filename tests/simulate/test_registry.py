"""The family registry: names, kinds and the dispatch of :meth:`Family.move`."""

from __future__ import annotations

import numpy as np
import pytest

from tcurity.simulate import FAMILIES, FAMILY_KIND, get_family

EXPECTED_KINDS = {
    "teleport": "naive",
    "linear_steps": "naive",
    "function_linear": "naive",
    "function_quadratic": "naive",
    "function_exponential": "naive",
    "bezier_eased": "humanised",
    "ghost_cursor": "humanised",
    "windmouse": "humanised",
    "minimum_jerk": "humanised",
    "replay": "humanised",
    "learned_pca": "humanised",
    "sigma_lognormal": "humanised",
}


def test_registry_lists_every_family_with_its_kind() -> None:
    assert FAMILY_KIND == EXPECTED_KINDS
    for name, family in FAMILIES.items():
        assert family.name == name
        assert family.kind == EXPECTED_KINDS[name]
        assert family.description
        assert family.timing.press_delay_ms[0] <= family.timing.press_delay_ms[1]


def test_only_replay_needs_a_source() -> None:
    assert [name for name, f in FAMILIES.items() if f.needs_source] == ["replay"]


def test_replay_without_source_is_refused() -> None:
    with pytest.raises(ValueError, match="source"):
        FAMILIES["replay"].move((0.0, 0.0), (100.0, 0.0), np.random.default_rng(0))


def test_unknown_family_names_the_known_ones() -> None:
    with pytest.raises(KeyError, match="teleport"):
        get_family("selenium_stealth")


def test_only_the_two_fitted_families_draw_from_a_model() -> None:
    assert [name for name, f in FAMILIES.items() if f.fitted] == ["learned_pca", "sigma_lognormal"]
    for name in ("learned_pca", "sigma_lognormal"):
        assert "attacker-source" in FAMILIES[name].description


@pytest.mark.parametrize("name", ["learned_pca", "sigma_lognormal"])
def test_fitted_family_without_its_model_is_refused(name: str) -> None:
    with pytest.raises(ValueError, match="fitted model"):
        FAMILIES[name].move((0.0, 0.0), (100.0, 0.0), np.random.default_rng(0))
