"""What every DVC stage module shares: its command line (``--params``), reading the params and logging.

A stage module is an entry function taking :class:`~tcurity.config.Params` plus a two-line ``main()``::

    def main() -> None:
        p, _ = parse_stage(__doc__)
        featurize(p)
"""

from __future__ import annotations

import argparse
from pathlib import Path

from tcurity.config import Params, load_params, setup_logging


def stage_parser(description: str | None) -> argparse.ArgumentParser:
    """The stage's argument parser with ``--params``; a stage with more options adds them to it."""
    parser = argparse.ArgumentParser(
        description=description, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--params", type=Path, default=None, help="params.yaml to read (default: the project's)"
    )
    return parser


def stage_params(params_path: Path | None) -> Params:
    """Loads ``params_path`` (the project's ``params.yaml`` when ``None``) and configures logging from it."""
    p = load_params(params_path)
    setup_logging(p.base.log_level)
    return p


def parse_stage(description: str | None) -> tuple[Params, Path | None]:
    """Parses a stage's command line; returns its params and the file they came from (``None``: the project's)."""
    args = stage_parser(description).parse_args()
    return stage_params(args.params), args.params
