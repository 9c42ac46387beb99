"""The AI server the browser tests run: the real app (real Phase A champion from the test registry), with the
Phase B routes replaced by a contract double, as ``tests/backend/conftest.py`` does in process.

No Phase B model is trained in tests: the Phase B routes are :mod:`tests.phase_b_double` on a tiny bank of real
tiles (``TEST_BANK_DIR``). It has the harness's answer oracle (:mod:`redteam.oracle`), so a test can play the person who
recognises the pictures. Run by uvicorn: ``uvicorn --factory tests.browser.ai_double:create_app``.
"""

from __future__ import annotations

import os
from pathlib import Path

from fastapi import FastAPI
from starlette.routing import BaseRoute

from redteam.oracle import AnswerBook, RecordAnswers, add_oracle_routes
from serving.app import create_app as create_ai_app
from serving.routes import phase_b as phase_b_routes
from tcurity.images.bank import ImageBank
from tests.phase_b_double import phase_b_double

PHASE_B_PREFIX = "/v1/phase-b/"


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
