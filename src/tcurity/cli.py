"""``python -m tcurity.cli``: small operator commands around the registry.

- ``champions`` lists each model of ``params.yaml`` with the version its ``champion`` alias points to, and exits
  with status 1 when one is missing (``make up`` then trains before starting the system).
- ``registered`` does the same for the ``challenger`` alias: a model with a challenger but no champion failed
  its promotion gates.
- ``check`` exits 1 when a champion is missing and says, per model, what failed (its last promotion decision
  under ``reports/promotion/``) and the one command that fixes it.
- ``models list|promote|rollback`` shows versions, aliases and gate results, and moves ``champion`` on purpose,
  recorded as such (:mod:`tcurity.model_ops`).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict

from tcurity import model_ops, registry
from tcurity.config import setup_logging
from tcurity.model_ops import ModelInfo, OperatorError


def model_names() -> list[str]:
    """The registered model names the system serves, as ``params.yaml`` names them."""
    return [role.name for role in model_ops.roles()]


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


def check() -> int:
    """Returns 0 when every champion exists and may be served; otherwise prints what failed and the fix, per
    model, and returns 1."""
    missing = model_ops.missing_champions()
    for m in missing:
        sys.stdout.write(f"{m.role} ({m.name}) has no champion to serve: {m.why}\n  fix: {m.fix}\n")
    return 1 if missing else 0


def _format_models(models: list[ModelInfo]) -> str:
    lines = []
    for m in models:
        lines.append(f"{m.role}  {m.name}  champion={m.champion or '-'}  challenger={m.challenger or '-'}")
        if not m.versions:
            lines.append("  (no registered version)")
        for v in m.versions:
            gates = "gates pass" if v.passes else "gates FAIL: " + "; ".join(v.gate_failures)
            aliases = ",".join(v.aliases) or "-"
            action = v.operator.get("action")
            note = f"  [{action} by {v.operator.get('by')} at {v.operator.get('at')}]" if action else ""
            lines.append(f"  v{v.version:<4} {v.created}  {aliases:<20} {gates}{note}")
    return "\n".join(lines) + "\n"


def models(args: argparse.Namespace) -> int:
    """``models list|promote|rollback``; returns the exit status (2 when the action was refused)."""
    try:
        if args.action == "list":
            found = model_ops.list_models()
            out = (
                json.dumps([asdict(m) for m in found], indent=2) + "\n"
                if args.json
                else _format_models(found)
            )
            sys.stdout.write(out)
            return 0
        if args.action == "promote":
            record = model_ops.promote(args.model, args.version, args.reason, by=args.by, force=args.force)
        else:
            record = model_ops.rollback(args.model, args.reason, to=args.to, by=args.by, force=args.force)
    except OperatorError as exc:
        sys.stderr.write(f"refused: {exc}\n")
        return 2
    sys.stdout.write(
        f"{record.action}: {record.model} champion {record.previous_champion or '-'} -> {record.version}"
        f"{' (forced past failing gates)' if record.forced else ''}; recorded in {model_ops.OPERATOR_LOG.name}"
        " and on the version. The AI server picks it up at its next poll or on POST /v1/admin/reload.\n"
    )
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("champions", help="each model's champion version; exit 1 when one is missing")
    commands.add_parser(
        "registered", help="each model's challenger version; exit 1 when one was never trained"
    )
    commands.add_parser("check", help="exit 1 when a champion is missing, saying what failed and the fix")
    ops = commands.add_parser("models", help="list versions and gates; promote or roll back on purpose")
    actions = ops.add_subparsers(dest="action", required=True)
    listing = actions.add_parser("list", help="models, versions, aliases and gate results")
    listing.add_argument("--json", action="store_true", help="machine-readable output")
    for name, help_text in (("promote", "point champion at a version"), ("rollback", "move champion back")):
        action = actions.add_parser(name, help=help_text)
        action.add_argument("model", help="role (phase_a, phase_b, effnet) or registered name")
        if name == "promote":
            action.add_argument("version")
        else:
            action.add_argument(
                "--to", default=None, help="version (default: newest earlier one passing its gates)"
            )
        action.add_argument("--reason", required=True, help="why (recorded)")
        action.add_argument("--by", default=None, help="who (recorded; default: the login name)")
        action.add_argument("--force", action="store_true", help="serve it even though it fails its gates")
    return parser


def main() -> None:
    args = _parser().parse_args()
    setup_logging("WARNING")
    if args.command == "models":
        sys.exit(models(args))
    sys.exit({"champions": champions, "registered": registered, "check": check}[args.command]())


if __name__ == "__main__":
    main()
