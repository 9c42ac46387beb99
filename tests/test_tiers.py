"""The test tiers: ``make test`` runs the fast tier, ``make test-slow`` the slow one, and the slow one is not empty.

``make test-slow`` once selected nothing (pytest's exit 5) because no test carried ``slow``. The full pipeline
runs (every stage, the notebooks, a real registry) are that tier. Read statically (``ast``, the Makefile and
``pyproject.toml``): collecting the pipeline tests for real imports the whole training stack, which would cost
the fast tier half a minute.
"""

from __future__ import annotations

import ast
import re
import tomllib

from tcurity.config import PROJECT_ROOT

PIPELINE_RUNS = {
    "tests/pipelines/test_phase_a_pipeline.py": "test_stages_produce_a_champion_and_the_metrics_contract",
    "tests/pipelines/test_phase_b_pipeline.py": "test_stages_produce_a_champion_and_the_metrics_contract",
}


def markers(path: str, test: str) -> set[str]:
    """The ``pytest.mark.<name>`` names on one test function and on its module (``pytestmark``)."""
    tree = ast.parse((PROJECT_ROOT / path).read_text())
    found: set[str] = set()
    for node in ast.walk(tree):
        decorated = isinstance(node, ast.FunctionDef) and node.name == test
        module_level = isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "pytestmark" for t in node.targets
        )
        if decorated or module_level:
            for sub in ast.walk(node):
                if (
                    isinstance(sub, ast.Attribute)
                    and isinstance(sub.value, ast.Attribute)
                    and sub.value.attr == "mark"
                ):
                    found.add(sub.attr)
    return found


def make_target(name: str) -> str:
    """The recipe of one Makefile target (its command lines)."""
    text = (PROJECT_ROOT / "Makefile").read_text()
    found = re.search(rf"^{re.escape(name)}:.*\n((?:\t.*\n)+)", text, re.MULTILINE)
    assert found is not None, name
    return found.group(1)


def test_the_pipeline_runs_are_the_slow_tier() -> None:
    for path, test in PIPELINE_RUNS.items():
        assert "slow" in markers(path, test), path


def test_make_test_leaves_the_slow_tier_out_and_make_test_slow_runs_only_it() -> None:
    options = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]
    assert "-m 'not slow'" in options["addopts"]  # make unit (inside make test) runs pytest with these
    assert "pytest $(PYTEST_ARGS)" in make_target("unit")
    assert "pytest -m slow" in make_target("test-slow")  # a later -m replaces the default one
