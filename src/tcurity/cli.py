"""``python -m tcurity.cli``: small operator commands around the registry.

``champions`` lists each model of ``params.yaml`` with the version its ``champion`` alias points to, and exits
with status 1 when one is missing (``make up`` then trains before starting the system). ``registered`` does the
same for the ``challenger`` alias: a model with a challenger but no champion failed its promotion gates.
"""

from __future__ import annotations

import argparse
import sys

from tcurity import registry
from tcurity.config import params, setup_logging


def model_names() -> list[str]:
    """The registered model names the system serves, as ``params.yaml`` names them."""
    p = params()
    names = [p.train_phase_a.model_name, p.train_phase_b.model_name]
    effnet = (p.model_extra or {}).get("train_effnet")
    if isinstance(effnet, dict) and "model_name" in effnet:
        names.append(str(effnet["model_name"]))
    return names


def champions() -> int:
    """Prints ``<model> <version|missing>`` per model; returns 1 when any champion is missing."""
    registry.configure()
    missing = 0
    for name in model_names():
        version = registry.version_by_alias(name, registry.CHAMPION)
        sys.stdout.write(f"{name} {version.version if version else 'missing'}\n")
        missing += version is None
    return 1 if missing else 0


def registered() -> int:
    """Prints ``<model> <latest challenger|missing>``; returns 1 when a model was never registered at all.

    A model registered but not promoted failed its gates: retraining the same pipeline would not change that.
    """
    registry.configure()
    missing = 0
    for name in model_names():
        version = registry.version_by_alias(name, registry.CHALLENGER)
        sys.stdout.write(f"{name} {version.version if version else 'missing'}\n")
        missing += version is None
    return 1 if missing else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("command", choices=["champions", "registered"])
    args = parser.parse_args()
    setup_logging("WARNING")
    sys.exit(champions() if args.command == "champions" else registered())


if __name__ == "__main__":
    main()
