"""Bounded property-based fuzzing of an in-process app's OpenAPI schema with schemathesis, shared by the AI
server's and the backend's fuzz tests.

Every operation gets at most ``examples`` derandomised cases (the same ones on every run, nothing written to a
Hypothesis database); ``send`` makes the calls for one case and returns what it saw. The run never stops at
the first failure: the test collects every failing call and asserts on the whole list.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from hypothesis.strategies import SearchStrategy


@dataclass
class FuzzRun:
    """What a run saw: cases per operation, statuses, and the failing calls (one line each)."""

    cases: Counter[str] = field(default_factory=Counter)
    statuses: Counter[int] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)


# One case's calls: returns (status, failure or None) for each call it made.
Send = Callable[[schemathesis.Case], list[tuple[int, str | None]]]


def fuzz_schema(app: FastAPI, schema_path: str, examples: int, send: Send) -> FuzzRun:
    """Runs ``send`` on up to ``examples`` generated cases of every operation in the app's schema."""
    schema = schemathesis.openapi.from_asgi(schema_path, app)
    run = FuzzRun()
    for result in schema.get_all_operations():
        operation = result.ok()
        _fuzz_operation(
            f"{operation.method.upper()} {operation.path}", operation.as_strategy(), examples, send, run
        )
    return run


def _fuzz_operation(
    label: str, strategy: SearchStrategy[schemathesis.Case], examples: int, send: Send, run: FuzzRun
) -> None:
    @given(case=strategy)
    @settings(
        max_examples=examples,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,
        database=None,
    )
    def one(case: schemathesis.Case) -> None:
        run.cases[label] += 1
        for status, failure in send(case):
            run.statuses[status] += 1
            if failure is not None:
                run.failures.append(f"{label}: {failure}")

    one()
