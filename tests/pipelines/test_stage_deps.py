"""Every DVC stage lists the code it runs under ``deps``: its module, its notebook, and every project module they
import, directly or not. A module missing there would let ``dvc repro`` keep an output that the changed code
would no longer make.

Imports are read statically (``ast``) from the stage module and the code cells of its notebook, and followed
through the project's own modules (``tcurity.*``, ``pipelines.*``), package ``__init__`` files included. A
dependency may be the file itself or a folder above it.

One module is left out on purpose: ``tcurity/config.py``, the typed schema of ``params.yaml``. What a stage reads
from it is tracked by the stage's ``params`` (DVC hashes those values), and listing the schema itself would make
every new section of any stage re-run the whole pipeline, the EfficientNet included.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest
import yaml

from tcurity.config import PROJECT_ROOT
from tests.import_closure import closure, imported_modules, module_file

PARAMS_SCHEMA = PROJECT_ROOT / "src/tcurity/config.py"
STAGES: dict[str, dict] = yaml.safe_load((PROJECT_ROOT / "dvc.yaml").read_text())["stages"]


def notebook_tree(path: Path) -> ast.AST:
    cells = json.loads(path.read_text())["cells"]
    code = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
    lines = [line for line in code.splitlines() if not line.lstrip().startswith(("%", "!"))]
    return ast.parse("\n".join(lines))


def trivial(path: Path) -> bool:
    """A package ``__init__`` holding nothing but a docstring changes no output."""
    body = ast.parse(path.read_text()).body
    return path.name == "__init__.py" and all(
        isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant) for n in body
    )


def missing_deps(stage: dict) -> list[str]:
    module = stage["cmd"].split("python -m ", 1)[1].split()[0]
    deps = [PROJECT_ROOT / d for d in stage.get("deps", [])]
    trees = [ast.parse(f"import {module}")]
    trees += [notebook_tree(d) for d in deps if d.suffix == ".ipynb"]
    needed = closure(trees)
    return sorted(
        str(f.relative_to(PROJECT_ROOT))
        for f in needed
        if f != PARAMS_SCHEMA and not trivial(f) and not any(f == d or d in f.parents for d in deps)
    )


@pytest.mark.parametrize("name", sorted(STAGES))
def test_a_stage_lists_every_module_it_runs(name: str) -> None:
    assert missing_deps(STAGES[name]) == []


def test_a_stage_that_runs_a_notebook_lists_it() -> None:
    for name, stage in STAGES.items():
        module = stage["cmd"].split("python -m ", 1)[1].split()[0]
        runs_notebook = "pipelines.notebook" in imported_modules(ast.parse(f"import {module}")) or any(
            m == "pipelines.notebook" for m in imported_modules(ast.parse(module_file(module).read_text()))
        )
        if runs_notebook:
            assert any(d.endswith(".ipynb") for d in stage["deps"]), name


def test_the_closure_follows_imports_through_packages() -> None:
    stage = {"cmd": "python -m pipelines.featurize", "deps": ["pipelines/featurize.py"]}
    missing = missing_deps(stage)
    assert "src/tcurity/features/phase_a.py" in missing and "src/tcurity/traces.py" in missing
