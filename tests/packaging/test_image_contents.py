"""Each production image copies exactly the code its service imports: all of it, and nothing of the training side.

Docker is not needed: the Dockerfiles are read as text. A ``COPY`` line's sources (from the build context, the
repository root) are expanded to the Python files they hold; the service's import closure
(:func:`tests.import_closure.module_closure`, lazy imports included) must lie inside them, and no copied Python file
may be outside it. A copied file no entry point imports would ship code the service never runs; a missing one would
fail at the first request that needs it.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from tcurity.config import PROJECT_ROOT
from tests.import_closure import module_closure

# Each image's entry points: what its CMD and the operators' commands (docs/production.md) run in it.
SERVICES = {
    "backend": (
        "web.backend.__main__",  # CMD: the API (uvicorn imports web.backend.app.main by name)
        "web.backend.app.main",
        "web.backend.app.cli",  # sites and collected-trace exports
        "web.backend.app.filler",  # the Phase B pool filler (deploy/k8s/base/pool-filler.yaml)
    ),
    "ai-server": ("serving.__main__",),
}
NEVER = ("pipelines", "notebooks", "src/tcurity/data", "src/tcurity/simulate", "src/tcurity/train")


def copied_sources(dockerfile: str) -> list[Path]:
    """The build-context paths a Dockerfile's ``COPY`` lines take (``COPY --from`` copies between stages)."""
    sources: list[Path] = []
    joined = dockerfile.replace("\\\n", " ")  # continuation lines
    for line in re.findall(r"^COPY\s+(.+)$", joined, re.MULTILINE):
        words = [w for w in shlex.split(line) if not w.startswith("--")]
        if "--from" not in line:
            sources += [PROJECT_ROOT / w for w in words[:-1]]
    return sources


def python_files(sources: list[Path]) -> set[Path]:
    """The Python files the sources hold (a folder, all of them but caches)."""
    found: set[Path] = set()
    for source in sources:
        if source.is_dir():
            found |= {p for p in source.rglob("*.py") if "__pycache__" not in p.parts}
        elif source.suffix == ".py":
            found.add(source)
    return found


def dockerfile(service: str) -> str:
    return (PROJECT_ROOT / "docker" / f"{service}.Dockerfile").read_text()


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_an_image_copies_every_module_its_service_imports(service: str) -> None:
    missing = module_closure(*SERVICES[service]) - python_files(copied_sources(dockerfile(service)))
    assert sorted(str(p.relative_to(PROJECT_ROOT)) for p in missing) == []


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_an_image_copies_no_module_its_service_never_imports(service: str) -> None:
    extra = python_files(copied_sources(dockerfile(service))) - module_closure(*SERVICES[service])
    assert sorted(str(p.relative_to(PROJECT_ROOT)) for p in extra) == []


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_an_image_carries_no_training_code_notebooks_or_data_readers(service: str) -> None:
    for source in copied_sources(dockerfile(service)):
        relative = source.relative_to(PROJECT_ROOT)
        for never in NEVER:
            assert not (relative == Path(never) or Path(never) in relative.parents), (
                f"{service} copies {relative}"
            )
            assert not (PROJECT_ROOT / never).is_relative_to(source), (
                f"{service} copies {never} inside {relative}"
            )


def test_the_copy_check_sees_a_whole_package_copied() -> None:
    """Copying all of ``src/`` (as the images once did) fails both checks."""
    sources = copied_sources("COPY --chown=a:a src/ src/\nCOPY --from=deps /opt/venv /opt/venv\n")
    assert sources == [PROJECT_ROOT / "src"]
    assert PROJECT_ROOT / "src/tcurity/train/behaviour.py" in python_files(sources) - module_closure(
        "serving.__main__"
    )
    assert (PROJECT_ROOT / "src/tcurity/data").is_relative_to(sources[0])
