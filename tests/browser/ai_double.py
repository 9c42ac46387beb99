"""The AI server the browser tests run: the real app (real Phase A champion from the test registry), with the
Phase B routes replaced by a contract double, as ``tests/backend/conftest.py`` does in process.

No Phase B model is trained in tests. The double's problems come from the real generator on a tiny bank of real
tiles (``TEST_BANK_DIR``), without the classifier check; its score passes a trace with one press per slot. It
has the harness's answer oracle (:mod:`redteam.oracle`), so a test can play the person who
recognises the pictures. Run by uvicorn: ``uvicorn --factory tests.browser.ai_double:create_app``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI, HTTPException
from starlette.routing import BaseRoute

from redteam.oracle import AnswerBook, RecordAnswers, add_oracle_routes
from serving.app import create_app as create_ai_app
from serving.routes import phase_b as phase_b_routes
from tcurity.images.bank import ImageBank
from tcurity.problems import ProblemConfig, ProblemGenerator
from tcurity.traces import GridTask, Trace

PHASE_B_PREFIX = "/v1/phase-b/"
MODEL = {"name": "contract-double", "version": "1"}


def phase_b_double(bank: ImageBank) -> APIRouter:
    """The Phase B contract: problems from the real generator, a stand-in score, and the answers for tests."""
    router = APIRouter()
    generator = ProblemGenerator(bank, None, ProblemConfig())

    @router.post("/v1/phase-b/problems")
    def problems(body: dict[str, Any]) -> dict[str, Any]:
        made = generator.generate_batch(int(body.get("count", 1)))
        out = []
        for client, answer in made:
            out.append(
                {
                    "client": client.to_dict(),
                    "answer": {
                        "problem_id": answer.problem_id,
                        "target": answer.target,
                        "answer": list(answer.answer),
                        "numbers": dict(answer.numbers),
                    },
                }
            )
        return {"problems": out, "model": MODEL}

    @router.post("/v1/phase-b/score")
    def score(body: dict[str, Any]) -> dict[str, Any]:
        trace = Trace.model_validate(body["trace"])
        if not isinstance(trace.task, GridTask):
            raise HTTPException(422, "wrong_task")
        passed = len(trace.arrays().press_spans()) == len(trace.task.slots)
        return {
            "score": 1.0 if passed else 0.0,
            "passed": passed,
            "threshold": 0.5,
            "reasons": [] if passed else ["press_count_mismatch"],
            "checks": {},
            "model": {"name": "tcurity-phase-b-rf", "version": "test"},
        }

    return router


def _not_phase_b(route: BaseRoute) -> bool:
    # FastAPI keeps an included router as one entry that wraps it (``original_router``).
    if getattr(route, "original_router", None) is phase_b_routes.router:
        return False
    return not str(getattr(route, "path", "") or "").startswith(PHASE_B_PREFIX)


def create_app() -> FastAPI:
    """The real AI app (settings from the environment) with the Phase B double in place of its Phase B routes."""
    app = create_ai_app()
    app.router.routes[:] = [r for r in app.router.routes if _not_phase_b(r)]
    app.include_router(phase_b_double(ImageBank.load(Path(os.environ["TEST_BANK_DIR"]))))
    book = AnswerBook()
    add_oracle_routes(app, book)
    app.add_middleware(RecordAnswers, book=book)
    return app
