"""The ``simulate_bots`` switch between browser-rate emission (the default) and the tools' own events."""

from __future__ import annotations

from pipelines.simulate_bots import browser_emission
from tcurity.config import load_params
from tcurity.simulate.emission import BrowserEmission


def test_the_projects_bots_are_emitted_at_browser_rates() -> None:
    emission = browser_emission(load_params().simulate_bots)
    assert emission == BrowserEmission((60.0, 120.0, 144.0), (0.8, 0.1, 0.1), 0.5)


def test_switching_emission_off_keeps_the_tools_own_events() -> None:
    cfg = load_params().simulate_bots.model_copy(update={"browser_emission": False})
    assert browser_emission(cfg) is None
