"""``python -m tcurity.cli``: small operator commands around the registry.

``champions`` lists each model of ``params.yaml`` with the version its ``champion`` alias points to, and exits
with status 1 when one is missing (``make up`` then trains before starting the system).
"""

from __future__ import annotations

import argparse
import sys

from tcurity import registry
from tcurity.config import params, setup_logging


def model_names() -> list[str]:
    """The registered model names the system serves, as ``params.yaml`` names them."""
    p = params()
    names = [p.train_phase_a.model_name]
    for section, key in (("train_effnet", "model_name"), ("train_phase_b", "model_name")):
        extra = (p.model_extra or {}).get(section)
        if isinstance(extra, dict) and key in extra:
            names.append(str(extra[key]))
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("command", choices=["champions"])
    args = parser.parse_args()
    setup_logging("WARNING")
    if args.command == "champions":
        sys.exit(champions())


if __name__ == "__main__":
    main()
