"""The request paths import no training, data-reading or simulation code.

Each service's app is imported in a fresh interpreter and the modules it loaded are listed. The backend needs the
trace schema, the task geometry and the replay fingerprint, nothing heavier; the AI server needs the core
(features, scoring, problems, the registry client), never the code that makes data or trains models. An import
that crosses the boundary slows every start, widens what a production image must carry, and lets training code
run in a request.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tcurity.config import PROJECT_ROOT

TRAINING = (
    "tcurity.train",
    "tcurity.data",
    "tcurity.simulate",
    "tcurity.evaluate",
    "tcurity.images.train",
    "tcurity.images.curate",
    "tcurity.images.attacker",
    "tcurity.images.tracking",
    "pipelines",
    "papermill",
    "sklearn",
)
# The backend talks to the AI server over HTTP: no model, array or dataset code.
BACKEND_ALSO = (
    "tcurity.features",
    "tcurity.scoring",
    "tcurity.images",
    "tcurity.problems",
    "tcurity.datasets",
    "tcurity.registry",
    "mlflow",
    "torch",
    "pandas",
    "pyarrow",
)


def loaded_by(module: str) -> list[str]:
    """The modules a fresh interpreter has loaded after importing ``module``."""
    code = f"import json, sys, {module}; print(json.dumps(sorted(sys.modules)))"
    done = subprocess.run(
        [sys.executable, "-W", "ignore", "-c", code],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return list(json.loads(done.stdout.splitlines()[-1]))


def crossing(modules: list[str], forbidden: tuple[str, ...]) -> list[str]:
    return sorted(m for m in modules if any(m == f or m.startswith(f + ".") for f in forbidden))


@pytest.mark.parametrize("module", ["web.backend.app.main", "web.backend.app.api.routes.challenge"])
def test_the_backend_request_path_imports_only_the_trace_core(module: str) -> None:
    assert crossing(loaded_by(module), TRAINING + BACKEND_ALSO) == []


@pytest.mark.parametrize("module", ["serving.app"])
def test_the_ai_server_imports_no_training_or_data_code(module: str) -> None:
    assert crossing(loaded_by(module), TRAINING) == []


def test_the_boundary_check_sees_a_crossing() -> None:
    found = crossing(loaded_by("tcurity.data.balabit"), ("tcurity.data",))
    assert {"tcurity.data", "tcurity.data.balabit"} <= set(found)
