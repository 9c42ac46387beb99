"""Running a pipeline notebook with papermill: one helper for every notebook-driven stage.

A notebook's only parameter is ``params_path``: it loads :class:`~tcurity.config.Params` itself and reads its
settings there, so a stage passes nothing else and the notebook has no defaults of its own to drift.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any, Protocol

import papermill
from jupyter_client.manager import AsyncKernelManager
from traitlets import default

from tcurity.config import PROJECT_ROOT, resolve

logger = logging.getLogger("pipelines.notebook")


class IpcKernelManager(AsyncKernelManager):
    """A kernel on this machine's IPC sockets (files beside its connection file) rather than loopback TCP: the
    kernel is never reachable over the network, and it need not warn that TCP without encryption is."""

    @default("transport")
    def _transport_default(self) -> str:
        return "ipc"


class NotebookSection(Protocol):
    """A ``params.yaml`` section that names a notebook and where its executed copy goes."""

    @property
    def notebook(self) -> Path: ...

    @property
    def executed_notebook(self) -> Path: ...


def execute(notebook: Path, output: Path, parameters: dict[str, Any]) -> None:
    """Executes ``notebook`` top to bottom with ``parameters`` into ``output`` (from the project root)."""
    out = resolve(output)
    out.parent.mkdir(parents=True, exist_ok=True)
    logger.info("executing %s -> %s", notebook, out)
    # The notebook's own streams go to the stage's as they are: papermill's log_output would relay every line the
    # notebook writes to stderr (its logging) as a WARNING of papermill's.
    papermill.execute_notebook(
        str(resolve(notebook)),
        str(out),
        parameters=parameters,
        cwd=str(PROJECT_ROOT),
        kernel_name="python3",
        kernel_manager_class=IpcKernelManager,
        log_output=False,
        stdout_file=sys.stdout,
        stderr_file=sys.stderr,
        progress_bar=False,
    )


def run_notebook(cfg: NotebookSection, params_path: Path | None) -> None:
    """Executes the section's notebook on ``params_path`` (``None``: the project's ``params.yaml``)."""
    execute(cfg.notebook, cfg.executed_notebook, {"params_path": str(params_path or "")})
