"""Running a pipeline notebook with papermill: one helper for every notebook-driven stage."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import papermill

from tcurity.config import PROJECT_ROOT, resolve

logger = logging.getLogger("pipelines.notebook")


def execute(notebook: Path, output: Path, parameters: dict[str, Any]) -> None:
    """Executes ``notebook`` top to bottom with ``parameters`` into ``output`` (from the project root)."""
    out = resolve(output)
    out.parent.mkdir(parents=True, exist_ok=True)
    logger.info("executing %s -> %s", notebook, out)
    papermill.execute_notebook(
        str(resolve(notebook)),
        str(out),
        parameters=parameters,
        cwd=str(PROJECT_ROOT),
        kernel_name="python3",
        log_output=True,
        progress_bar=False,
    )
