"""The project files a piece of code runs, read statically: its imports, followed through the project's own modules.

Imports are read with ``ast`` wherever they stand, in functions too (a service imports its model code and its
Redis store lazily), and through package ``__init__`` files. Used by the DVC deps test
(``tests/pipelines/test_stage_deps.py``) and the production images' test (``tests/packaging/test_image_contents.py``).
"""

from __future__ import annotations

import ast
from pathlib import Path

from tcurity.config import PROJECT_ROOT

ROOTS = {
    "tcurity": PROJECT_ROOT / "src",
    "pipelines": PROJECT_ROOT,
    "serving": PROJECT_ROOT,
    "web": PROJECT_ROOT,
}
"""Where each of the project's top-level packages lives (``src/`` layout for the package, the root for the rest)."""


def module_file(name: str) -> Path | None:
    """The project file of module ``name`` (``None`` for third-party modules and names that are not modules)."""
    root = ROOTS.get(name.split(".", maxsplit=1)[0])
    if root is None:
        return None
    base = root.joinpath(*name.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.exists():
            return candidate
    return None


def imported_modules(tree: ast.AST) -> set[str]:
    """Project module names a piece of code imports (``from a import b`` counts ``a.b`` when it is a module)."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return {n for n in names if module_file(n) is not None}


def with_packages(name: str) -> set[str]:
    """``name`` and every package above it (importing a module runs its packages' ``__init__``)."""
    parts = name.split(".")
    return {".".join(parts[: k + 1]) for k in range(len(parts))}


def closure(trees: list[ast.AST]) -> set[Path]:
    """The project files that code importing like ``trees`` runs."""
    todo = {m for tree in trees for name in imported_modules(tree) for m in with_packages(name)}
    seen: set[str] = set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        path = module_file(name)
        if path is None:
            continue
        found = imported_modules(ast.parse(path.read_text()))
        todo |= {m for n in found for m in with_packages(n)} - seen
    return {p for n in seen if (p := module_file(n)) is not None}


def module_closure(*modules: str) -> set[Path]:
    """The project files that importing ``modules`` (and everything they import, lazily or not) runs."""
    return closure([ast.parse(f"import {m}") for m in modules])
