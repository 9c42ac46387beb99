"""The AI server's Phase B contract as a double, for the backend and browser tests (no Phase B model is trained
in tests): problems from the real generator on a bank of real tiles, without the classifier check, and a
stand-in score that passes a trace of one press per slot whose events the browser marked trusted (the AI
server's own signal rule), with the real integrity layer's verdict beside it."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException

from serving.decisions import integrity_part
from tcurity.images.bank import ImageBank
from tcurity.integrity import assess
from tcurity.problems import ProblemConfig, ProblemGenerator
from tcurity.traces import GridTask, Trace

PROBLEM_MODEL = {"name": "contract-double", "version": "1"}
SCORE_MODEL = {"name": "tcurity-phase-b-rf", "version": "double"}


def phase_b_double(bank: ImageBank) -> APIRouter:
    """``POST /v1/phase-b/problems`` and ``POST /v1/phase-b/score`` as the AI server answers them."""
    router = APIRouter()
    generator = ProblemGenerator(bank, None, ProblemConfig())

    @router.post("/v1/phase-b/problems")
    def problems(body: dict[str, Any]) -> dict[str, Any]:
        made = generator.generate_batch(int(body.get("count", 1)))
        return {
            "problems": [
                {
                    "client": client.to_dict(),
                    "answer": {
                        "problem_id": answer.problem_id,
                        "target": answer.target,
                        "answer": list(answer.answer),
                        "numbers": dict(answer.numbers),
                    },
                }
                for client, answer in made
            ],
            "model": PROBLEM_MODEL,
        }

    @router.post("/v1/phase-b/score")
    def score(body: dict[str, Any]) -> dict[str, Any]:
        trace = Trace.model_validate(body["trace"])
        if not isinstance(trace.task, GridTask):
            raise HTTPException(422, "wrong_task")
        reasons = (
            [] if len(trace.arrays().press_spans()) == len(trace.task.slots) else ["press_count_mismatch"]
        )
        if trace.points.trusted is not None and not all(trace.points.trusted):
            reasons.append("untrusted_events")
        passed = not reasons
        return {
            "score": 1.0 if passed else 0.0,
            "passed": passed,
            "threshold": 0.5,
            "reasons": reasons,
            "checks": {},
            "model": SCORE_MODEL,
            "integrity": integrity_part(assess(trace)),  # the real integrity layer, as the AI server runs it
        }

    return router
