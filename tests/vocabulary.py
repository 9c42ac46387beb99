"""Reads the codes a service's source spells out, so tests can hold them to the service's one list of codes."""

from __future__ import annotations

import ast
from pathlib import Path


def literal_args(folder: Path, callee: str, position: int) -> dict[str, list[str]]:
    """Every string literal passed at ``position`` to a call of ``callee`` (a name or an attribute's last part)
    in the Python files under ``folder``: ``{code: ["file:line", …]}``."""
    found: dict[str, list[str]] = {}
    for path in sorted(folder.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call) or len(node.args) <= position:
                continue
            name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", None)
            arg = node.args[position]
            if name == callee and isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                found.setdefault(arg.value, []).append(f"{path.name}:{node.lineno}")
    return found


def undocumented(found: dict[str, list[str]], documented: set[str]) -> dict[str, list[str]]:
    """The codes of ``found`` that ``documented`` lacks, with where they are spelled."""
    return {code: where for code, where in found.items() if code not in documented}
