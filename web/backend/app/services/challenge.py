"""The challenge flow: a checked state machine from a new session to a pass token (or a block).

``created → phase_a → phase_b → passed``, or ``blocked`` once a failed answer leaves no attempt. Each step
loads the session, checks that its state allows the step and that the request comes from the session's
hostname, and saves with compare-and-set, so two requests can never both use one task.

Answering a task claims it first (it cannot be answered twice), then checks, cheapest first: the time limit
the client was told, that the trace answers exactly the task issued, that the trace is not longer than the
time since issue, that its shape did not answer another session (``replayed_trace``,
:mod:`web.backend.app.services.replay`), the task checks of :mod:`tcurity.task_checks` (Phase A: the follow
check; Phase B: that drag ``k`` moved tile ``k`` from its cell into slot ``k``, ``drag_not_on_tile``), and only
then the AI server's behaviour score; Phase B's tile order (``wrong_answer``) is compared after it, in constant
time.

When the AI server cannot be reached (:class:`AiUnavailableError`: connection errors, timeouts, an open circuit
breaker), the site's policy decides: fail closed (``ai_unavailable``, the task reopens for a retry, no pass) or
fail open (the phase passes ``unscored``), but only within the site's budget of unscored passes
(``UNSCORED_PASSES_PER_SITE`` per ``UNSCORED_WINDOW_S``, shared by every replica); past it the site fails
closed. An AI server that answers without a usable answer (5xx, malformed) always fails closed; a 422 is a
refusal of the trace (a failed attempt with its code). An AI server that answers but lacks a model is not an
outage: that is ``service_not_ready`` (503), whatever the site's policy. Issuing Phase B never fails open: with
no problem shown there is no pass.

Limits, cheapest and most specific first, so that one client is refused long before it can touch a shared
budget: every request per client IP (an IPv6 client is its ``/64``) and per client network (``/24``, ``/48``); new sessions, Phase B problems and
passes per IP and per network; then the client's share of the site's cap (1/20 per IP, 1/4 per network); then the site's cap.

The AI server's integrity reasons (``injected_input``, ``automation_env``: docs/integrity.md) never change its
``passed``; the site's ``integrity`` policy says what they cost here (:meth:`ChallengeFlow._apply_integrity`):
``log`` reports them, ``block`` fails the answer, ``escalate`` asks one more Phase B round once per session. They
reach siteverify's ``reasons`` whatever the policy.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np

from tcurity.geometry import grid_layout, random_perforation
from tcurity.task_checks import DRAG_NOT_ON_TILE, WRONG_ANSWER, check_follow, drags_on_tiles, tiles_in_order
from tcurity.traces import GridTask, PerforationTask, Trace
from web.backend.app.core.config import Settings
from web.backend.app.core.errors import ApiError
from web.backend.app.core.security import (
    PassClaims,
    key_binding_network,
    limit_network,
    new_id,
    user_agent_digest,
)
from web.backend.app.core.telemetry import Telemetry
from web.backend.app.schemas.challenge import (
    AnswerResult,
    AttemptsLeft,
    PhaseATaskResponse,
    PhaseBAnswer,
    PhaseBProblemResponse,
    PhaseName,
    SessionResponse,
)
from web.backend.app.services.ai_client import (
    AiClient,
    AiFailedError,
    AiNotReadyError,
    AiRejectedError,
    AiUnavailableError,
)
from web.backend.app.services.collect import Collector
from web.backend.app.services.problem_pool import ProblemPool
from web.backend.app.services.ratelimit import RateLimiter, spend_phase_b_budget, too_many
from web.backend.app.services.replay import ReplayCheck, ReplayGuard
from web.backend.app.services.session import (
    OpenTask,
    PhaseResult,
    SessionRecord,
    SessionRepo,
    ref,
    store_unavailable,
)
from web.backend.app.services.tokens import CLAIMS_SLACK_S, PassTokens
from web.backend.app.sites import Site, SitePolicy, SiteRegistry
from web.backend.app.store.base import StoreUnavailableError

logger = logging.getLogger(__name__)

# The trace's own clock may run this much longer than the server's time since issue (clock-rate slack).
TRACE_CLOCK_SLACK_MS = 100.0
# One client IP may use at most 1/20 of a site's request cap per window, one client network 1/4 of it.
IP_SHARE_OF_SITE = 20
NETWORK_SHARE_OF_SITE = 4


def network_of(ip: str) -> str:
    """The key of a client's network for limits: its ``/24`` (IPv4) or ``/48`` (IPv6); a non-address as is.

    ``ip`` is the client's limit key (:func:`~web.backend.app.core.security.client_key`: an IPv6 client is its
    ``/64``)."""
    return limit_network(ip)


def _iso(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000.0, tz=UTC)


def secure_rng() -> np.random.Generator:
    """A generator seeded from the OS's CSPRNG for each task, so no task predicts the next."""
    return np.random.default_rng(secrets.randbits(128))


def drags_bound(task: OpenTask, answer: PhaseBAnswer) -> bool:
    """Whether drag ``k`` of the answer's trace moved tile ``tile_ids[k]``: from that tile's cell into slot ``k``."""
    cells = task.tile_cells or {}
    grid = answer.trace.task
    if not isinstance(grid, GridTask) or any(t not in cells for t in answer.tile_ids):
        return False
    return drags_on_tiles(grid, answer.trace.arrays(), [cells[t] for t in answer.tile_ids])


@dataclass(slots=True)
class Decision:
    """One answer's verdict: passed or not, why, and the phase result to keep on a pass."""

    passed: bool
    reasons: list[str]
    result: PhaseResult | None = None
    integrity: list[str] = field(default_factory=list)  # the integrity layer's reasons (never ``passed``'s)
    integrity_model: str | None = None


@dataclass(slots=True)
class Claim:
    """An answered task, already taken off the session (saved at ``rev``)."""

    rev: int
    record: SessionRecord
    site: Site
    task: OpenTask
    ip: str
    replay: ReplayCheck | None = None  # the marks the replay check left (taken back unless the answer passes)


class ChallengeFlow:
    """The state machine over the store, the site registry and the AI server."""

    def __init__(
        self,
        settings: Settings,
        sites: SiteRegistry,
        repo: SessionRepo,
        ai: AiClient,
        limiter: RateLimiter,
        collector: Collector,
        telemetry: Telemetry,
        replays: ReplayGuard,
        tokens: PassTokens,
        pool: ProblemPool,
    ) -> None:
        self.settings = settings
        self.sites = sites
        self.repo = repo
        self.ai = ai
        self.limiter = limiter
        self.collector = collector
        self.telemetry = telemetry
        self.replays = replays
        self.tokens = tokens
        self.pool = pool
        self.clock: Callable[[], float] = time.time  # Unix seconds; tests move it

    def now_ms(self) -> int:
        return int(self.clock() * 1000)

    # --- common steps ---------------------------------------------------------------------------------------
    async def _limit_client(self, ip: str) -> None:
        """Every challenge request, per client IP and per client network (before anything else is read)."""
        await self.limiter.hit("ip", ip, self.settings.rate_limit_per_ip)
        await self.limiter.hit("net", network_of(ip), self.settings.rate_limit_per_network)

    async def _limit_site(self, site: Site, ip: str) -> None:
        """The site's cap, counted only once the client is within its own share of it.

        The cap is a safety limit for the whole site, not a bucket one client can drain: one IP may use at most
        ``1/IP_SHARE_OF_SITE`` of it and one network ``1/NETWORK_SHARE_OF_SITE`` (checked only where that share
        is below the client's own limits, which with the default cap it is not), and a refused client never
        counts against the site.
        """
        cap = site.policy.requests_per_window or self.settings.rate_limit_per_sitekey
        ip_share, net_share = max(1, cap // IP_SHARE_OF_SITE), max(1, cap // NETWORK_SHARE_OF_SITE)
        if ip_share < self.settings.rate_limit_per_ip:
            await self.limiter.hit("site_ip", f"{site.sitekey}:{ip}", ip_share)
        if net_share < self.settings.rate_limit_per_network:
            await self.limiter.hit("site_net", f"{site.sitekey}:{network_of(ip)}", net_share)
        await self.limiter.hit("sitekey", site.sitekey, cap)

    async def _limit_new_session(self, ip: str) -> None:
        """New sessions per IP and per network; refused at once when the client already spent its passes."""
        settings, net = self.settings, network_of(ip)
        for scope, key, limit in (
            ("pass_ip", ip, settings.passes_per_ip),
            ("pass_net", net, settings.passes_per_network),
        ):
            retry_after_s = await self.limiter.blocked_for(scope, key, limit)
            if retry_after_s is not None:
                raise too_many(retry_after_s, "passes")
        await self.limiter.hit("session_ip", ip, settings.sessions_per_ip, "sessions")
        await self.limiter.hit("session_net", net, settings.sessions_per_network, "sessions")

    async def _open(self, session_id: str, host: str | None, ip: str) -> tuple[int, SessionRecord, Site]:
        await self._limit_client(ip)
        rev, record = await self.repo.load(session_id)
        if host is None or host != record.hostname:
            raise ApiError(403, "origin_not_allowed", "this session belongs to another origin")
        site = self.sites.by_sitekey(record.sitekey)
        if site is None:
            raise ApiError(400, "invalid_sitekey", "the session's site no longer exists")
        await self._limit_site(site, ip)
        return rev, record, site

    def _attempts_left(self, record: SessionRecord, policy: SitePolicy) -> AttemptsLeft:
        session_left = max(0, policy.max_attempts_session - sum(record.attempts.values()))
        phase = {"created": "phase_a", "phase_a": "phase_a", "phase_b": "phase_b"}.get(record.state)
        if phase is None:
            return AttemptsLeft(phase=0, session=0)
        limit = policy.max_attempts_phase_a if phase == "phase_a" else policy.max_attempts_phase_b
        return AttemptsLeft(
            phase=min(session_left, max(0, limit - record.attempts[phase])), session=session_left
        )

    def _take_attempt(self, record: SessionRecord, phase: PhaseName, policy: SitePolicy) -> None:
        record.state = phase
        if self._attempts_left(record, policy).phase <= 0:
            raise ApiError(409, "attempts_exhausted", f"no {phase} attempt left in this session")
        record.attempts[phase] += 1

    def _deadline(self, record: SessionRecord, limit_s: float) -> tuple[int, int]:
        issued = self.now_ms()
        return issued, min(issued + int(limit_s * 1000), record.expires_ms)

    def _phases(self, site: Site) -> list[PhaseName]:
        return ["phase_a", "phase_b"] if site.policy.phase_b == "always" else ["phase_a"]

    def _session_view(self, record: SessionRecord, site: Site) -> SessionResponse:
        return SessionResponse(
            session_id=record.session_id,
            state=record.state,
            expires_at=_iso(record.expires_ms),
            phases=self._phases(site),
            attempts_left=self._attempts_left(record, site.policy),
        )

    # --- sessions -------------------------------------------------------------------------------------------
    async def create(
        self, sitekey: str, action: str, host: str | None, ip: str, user_agent: str = ""
    ) -> SessionResponse:
        """Starts a session for ``sitekey`` from a page on ``host``, bound to the creating client's network and
        user agent (a pass's claims name that client; a later request from another one marks the session)."""
        await self._limit_client(ip)
        site = self.sites.by_sitekey(sitekey)
        if site is None:
            raise ApiError(400, "invalid_sitekey", "the sitekey names no site")
        if host is None or host not in site.hostnames:
            raise ApiError(403, "origin_not_allowed", "this origin is not an allowed hostname of the site")
        await self._limit_new_session(ip)
        await self._limit_site(site, ip)
        created = self.now_ms()
        record = SessionRecord(
            session_id=new_id(),
            sitekey=sitekey,
            hostname=host,
            action=action,
            state="created",
            created_ms=created,
            expires_ms=created + self.settings.session_ttl_s * 1000,
        )
        self._bind_client(record, ip, user_agent)
        await self.repo.create(record)
        self.telemetry.sessions.inc()
        logger.info(
            "session created", extra={"fields": {"session": ref(record.session_id), "sitekey": sitekey}}
        )
        return self._session_view(record, site)

    async def status(self, session_id: str, host: str | None, ip: str) -> SessionResponse:
        """A session's state (lets a page resume after a reload)."""
        _, record, site = await self._open(session_id, host, ip)
        return self._session_view(record, site)

    # --- Phase A --------------------------------------------------------------------------------------------
    async def issue_phase_a(self, session_id: str, host: str | None, ip: str) -> PhaseATaskResponse:
        """A fresh perforation (any open Phase A task is replaced and its attempt stays used)."""
        rev, record, site = await self._open(session_id, host, ip)
        if record.state not in ("created", "phase_a"):
            raise ApiError(
                409, "invalid_state", f"no Phase A task in state {record.state}", {"state": record.state}
            )
        self._take_attempt(record, "phase_a", site.policy)
        task = random_perforation(secure_rng())
        issued, deadline = self._deadline(record, self.settings.phase_a_time_limit_s)
        record.open_task = OpenTask(phase="phase_a", issued_ms=issued, deadline_ms=deadline, task=task)
        await self.repo.save(record, rev)
        return PhaseATaskResponse(
            state=record.state,
            task=task,
            time_limit_ms=deadline - issued,
            expires_at=_iso(deadline),
            attempts_left=self._attempts_left(record, site.policy),
        )

    async def answer_phase_a(
        self, session_id: str, host: str | None, ip: str, trace: Trace, user_agent: str = ""
    ) -> AnswerResult:
        """Checks a tear: time, task, geometry on the server, then the AI score."""
        claim = await self._claim(session_id, host, ip, "phase_a", user_agent)
        reasons = await self._precheck(claim, trace)
        if not reasons:
            task = claim.task.task
            assert isinstance(task, PerforationTask)
            code = check_follow(task, trace.arrays()).code
            reasons = [] if code is None else [code]
        decision = Decision(False, reasons) if reasons else await self._score(claim, "phase_a", trace)
        return await self._conclude(claim, "phase_a", trace, decision)

    # --- Phase B --------------------------------------------------------------------------------------------
    async def issue_phase_b(
        self, session_id: str, host: str | None, ip: str, user_agent: str = ""
    ) -> PhaseBProblemResponse:
        """A ready problem from the pool (made and checked ahead of time; the AI server is not called here).

        Issues are limited per client IP and per network (``rate_limited``), by the client's Phase B solve
        budget (``solve_budget_exhausted``) and per site, so one site cannot drain the shared pool. An empty pool
        refuses with ``pool_empty`` (503, retryable). All of these refuse before the attempt is saved, so they
        use no attempt, and none ever passes, whatever the site's fail-open policy.
        """
        rev, record, site = await self._open(session_id, host, ip)
        if record.state != "phase_b":
            raise ApiError(
                409, "invalid_state", f"no Phase B problem in state {record.state}", {"state": record.state}
            )
        await self.limiter.hit("problem_ip", ip, self.settings.problems_per_ip, "problems")
        await self.limiter.hit("problem_net", network_of(ip), self.settings.problems_per_network, "problems")
        await self.limiter.hit(
            "issue_b_site", site.sitekey, self.settings.phase_b_issues_per_sitekey, "problems"
        )
        await self._spend_phase_b_budget(ip)
        self._take_attempt(record, "phase_b", site.policy)
        self._bind_client(record, ip, user_agent)
        problem = await self.pool.take()
        task = grid_layout(len(problem.answer))
        issued, deadline = self._deadline(record, self.settings.phase_b_time_limit_s)
        record.open_task = OpenTask(
            phase="phase_b",
            issued_ms=issued,
            deadline_ms=deadline,
            task=task,
            answer=problem.answer,
            tile_cells={tile.tile_id: tile.position for tile in problem.view.tiles},
            problem_model=problem.model,
        )
        await self.repo.save(record, rev)
        return PhaseBProblemResponse(
            state=record.state,
            problem=problem.view,
            task=task,
            time_limit_ms=deadline - issued,
            expires_at=_iso(deadline),
            attempts_left=self._attempts_left(record, site.policy),
        )

    async def _spend_phase_b_budget(self, ip: str) -> None:
        """Counts the problem against the IP's and its /24's Phase B budget (review 8), before the AI call."""
        s = self.settings
        await spend_phase_b_budget(
            self.limiter.store,
            self.telemetry,
            ip,
            s.phase_b_budget_per_ip,
            s.phase_b_budget_per_network,
            s.phase_b_budget_window_s,
        )

    async def answer_phase_b(
        self, session_id: str, host: str | None, ip: str, answer: PhaseBAnswer, user_agent: str = ""
    ) -> AnswerResult:
        """Checks an image answer: time, task, the AI score of the drags, then the tile order (constant time).

        The drags are scored whether or not the tiles are right, so a wrong answer costs the same AI call as a
        right one and the answer's latency does not tell which it was.
        """
        claim = await self._claim(session_id, host, ip, "phase_b", user_agent)
        reasons = await self._precheck(claim, answer.trace)
        # The binding uses only what the client already knows (where its drags went down), so refusing it before
        # scoring tells nothing; the answer itself is judged after scoring.
        if not reasons and not drags_bound(claim.task, answer):
            reasons = [DRAG_NOT_ON_TILE]
        decision = Decision(False, reasons) if reasons else await self._score(claim, "phase_b", answer.trace)
        if not reasons and not tiles_in_order(claim.task.answer or [], answer.tile_ids):
            decision = Decision(False, [WRONG_ANSWER], decision.result)
        return await self._conclude(claim, "phase_b", answer.trace, decision)

    # --- answering ------------------------------------------------------------------------------------------
    async def _claim(
        self, session_id: str, host: str | None, ip: str, phase: PhaseName, user_agent: str = ""
    ) -> Claim:
        rev, record, site = await self._open(session_id, host, ip)
        task = record.open_task
        if record.state != phase or task is None or task.phase != phase:
            raise ApiError(409, "invalid_state", f"no open {phase} task", {"state": record.state})
        record.open_task = None
        self._bind_client(record, ip, user_agent)
        rev = await self.repo.save(record, rev)
        return Claim(rev, record, site, task, ip)

    async def _precheck(self, claim: Claim, trace: Trace) -> list[str]:
        """Refuses a late answer or one for another task (raising, after counting the attempt as failed);
        returns ``trace_longer_than_elapsed`` when the trace lasts longer than the time since issue, and
        ``replayed_trace`` when another session answered with its shape."""
        now = self.now_ms()
        if now > claim.task.deadline_ms:
            await self._conclude(claim, claim.task.phase, None, Decision(False, ["task_expired"]))
            raise ApiError(409, "task_expired", "the answer came after the time limit", self._state(claim))
        if trace.task != claim.task.task:
            await self._conclude(claim, claim.task.phase, None, Decision(False, ["wrong_task"]))
            raise ApiError(422, "wrong_task", "the trace does not answer the task issued", self._state(claim))
        duration_ms = trace.points.t_ms[-1] - trace.points.t_ms[0]
        if duration_ms > now - claim.task.issued_ms + TRACE_CLOCK_SLACK_MS:
            return ["trace_longer_than_elapsed"]
        claim.replay = await self.replays.check(trace, claim.record.session_id)
        if claim.replay.replayed:
            return ["replayed_trace"]
        return []

    def _state(self, claim: Claim) -> dict[str, object]:
        left = self._attempts_left(claim.record, claim.site.policy)
        return {"state": claim.record.state, "attempts_left": left.model_dump()}

    async def _score(self, claim: Claim, phase: PhaseName, trace: Trace) -> Decision:
        try:
            ai = await self.ai.score(phase, trace)
        except AiRejectedError as exc:
            await self._conclude(claim, phase, None, Decision(False, [exc.code]))
            raise ApiError(422, exc.code, exc.message, self._state(claim)) from exc
        except AiNotReadyError as exc:
            await self._reopen(claim)  # nothing was judged: the task stays open
            raise _not_ready(exc) from exc
        except AiUnavailableError as exc:
            if claim.site.policy.fail_open:
                await self._refuse_spent_passes(claim, phase)  # before the site's unscored budget is touched
                if await self._unscored_allowed(claim.site):
                    return Decision(True, ["ai_unavailable"], PhaseResult(unscored=True))
            await self._reopen(claim)  # the same answer may be sent again while its time lasts
            raise _ai_unavailable() from exc
        except AiFailedError as exc:  # an answer, but no usable one: never a pass, whatever the policy
            await self._reopen(claim)
            raise _ai_unavailable() from exc
        result = PhaseResult(score=ai.score, threshold=ai.threshold, model=ai.model)
        reasons = [] if ai.passed else (ai.reasons or ["model_below_threshold"])
        return Decision(ai.passed, reasons, result, list(ai.integrity), ai.integrity_model)

    @staticmethod
    def _phase_b_rounds(policy: SitePolicy, escalated: bool) -> int:
        """How many Phase B passes a session needs: one where the site always asks for Phase B, one more once
        the integrity policy escalated it."""
        return (1 if policy.phase_b == "always" else 0) + (1 if escalated else 0)

    def _final_pass(self, claim: Claim, phase: PhaseName, decision: Decision) -> bool:
        """Whether this passing answer ends the challenge with a token (the pass limits count only those)."""
        record, policy = claim.record, claim.site.policy
        escalated = record.escalated or (bool(decision.integrity) and policy.integrity == "escalate")
        passes = record.phase_b_passes + (1 if phase == "phase_b" else 0)
        return passes >= self._phase_b_rounds(policy, escalated)

    def _apply_integrity(self, claim: Claim, phase: PhaseName, decision: Decision) -> Decision:
        """The site's integrity policy on a scored answer: its reasons always join the session's (siteverify)
        and the metrics; under ``block`` they also fail the answer. (``escalate`` acts on a pass, in
        :meth:`_passed`.)"""
        if decision.integrity_model:
            claim.record.results["integrity"] = PhaseResult(model=decision.integrity_model)
        if not decision.integrity:
            return decision
        action = claim.site.policy.integrity
        for reason in decision.integrity:
            self.telemetry.integrity.labels(phase, reason, action).inc()
        claim.record.add_reasons(decision.integrity)
        if action == "block" and decision.passed:
            return Decision(False, list(decision.integrity), decision.result, decision.integrity)
        return decision

    async def _reopen(self, claim: Claim) -> None:
        """Puts the claimed task back (nothing was judged), so the same answer may be sent again in time."""
        claim.record.open_task = claim.task
        claim.rev = await self.repo.save(claim.record, claim.rev)

    async def _unscored_allowed(self, site: Site) -> bool:
        """Whether a fail-open site may pass one more phase unscored in this window (shared store: every
        replica counts against the same budget). Past the budget the site fails closed."""
        budget, window_s = self.settings.unscored_passes_per_site, self.settings.unscored_window_s
        allowed = (await self.limiter.take("unscored", site.sitekey, budget, window_s)).allowed
        self.telemetry.unscored.labels("passed" if allowed else "over_budget").inc()
        if not allowed:
            logger.warning(
                "unscored budget spent: failing closed", extra={"fields": {"sitekey": site.sitekey}}
            )
        return allowed

    async def _refuse_spent_passes(self, claim: Claim, phase: PhaseName) -> None:
        """A cheap look (no count) at the client's pass limits before an unscored pass spends the site's budget
        (review finding 12): a client whose passes are spent would get 429 from :meth:`_limit_passes` only after
        the budget was spent, and the reopened task let it resend the answer to drain the site's budget.

        Raises:
            ApiError: 429 ``rate_limited`` (the task reopened) when this pass would end the challenge and the
                client's IP or network already has no pass left in this window.
        """
        if not self._final_pass(claim, phase, Decision(True, [])):
            return
        for scope, key, limit in self._pass_limits(claim.ip):
            retry_after_s = await self.limiter.blocked_for(scope, key, limit)
            if retry_after_s is not None:
                await self._reopen(claim)
                raise too_many(retry_after_s, "passes")

    async def _limit_passes(self, claim: Claim) -> None:
        """Counts a pass against the client's IP and network; past either limit no token is given (429), and
        the task is put back so the same answer may be sent again once the window turns (while its time lasts).
        """
        taken = [await self.limiter.take(*limit) for limit in self._pass_limits(claim.ip)]
        if not all(t.allowed for t in taken):
            await self._reopen(claim)
            raise too_many(max(t.retry_after_s for t in taken), "passes")

    def _pass_limits(self, ip: str) -> tuple[tuple[str, str, int], ...]:
        """The pass limits a client is held to: ``(scope, key, limit)`` for its IP and for its network."""
        s = self.settings
        return (("pass_ip", ip, s.passes_per_ip), ("pass_net", network_of(ip), s.passes_per_network))

    async def _conclude(
        self, claim: Claim, phase: PhaseName, trace: Trace | None, decision: Decision
    ) -> AnswerResult:
        decision = self._apply_integrity(claim, phase, decision)
        if decision.passed and self._final_pass(claim, phase, decision):
            await self._limit_passes(claim)
        self.telemetry.answers.labels(phase, "pass" if decision.passed else "fail").inc()
        if trace is not None:
            await self.collector.record(
                claim.site, claim.record, phase, trace, decision.passed, decision.reasons, decision.result
            )
        if not decision.passed:
            if claim.replay is not None:
                await self.replays.forget(claim.replay, claim.record.session_id)
            return await self._failed(claim, phase, decision.reasons)
        if claim.task.problem_model:
            claim.record.results["phase_b_problem"] = PhaseResult(model=claim.task.problem_model)
        return await self._passed(claim.rev, claim.record, claim.site, phase, decision)

    async def _passed(
        self, rev: int, record: SessionRecord, site: Site, phase: PhaseName, decision: Decision
    ) -> AnswerResult:
        policy = site.policy
        record.results[phase] = decision.result or PhaseResult(unscored=True)
        record.add_reasons(decision.reasons)
        if decision.integrity and policy.integrity == "escalate" and not record.escalated:
            record.escalated = True
            logger.info(
                "session escalated", extra={"fields": {"session": ref(record.session_id), "phase": phase}}
            )
        if phase == "phase_b":
            record.phase_b_passes += 1
        rounds = self._phase_b_rounds(policy, record.escalated)
        if record.phase_b_passes < rounds:
            record.state = "phase_b"
            await self.repo.save(record, rev)
            return AnswerResult(
                outcome="next_phase", state="phase_b", attempts_left=self._attempts_left(record, policy)
            )
        record.state = "passed"
        token, expires_ms = await self._token(record, site)  # claims stored before the pass is saved
        await self.repo.save(record, rev)
        unscored = any(r.unscored for r in record.results.values())
        self.telemetry.passes.labels(str(unscored).lower()).inc()
        logger.info(
            "session passed", extra={"fields": {"session": ref(record.session_id), "unscored": unscored}}
        )
        left = self._attempts_left(record, policy)
        return AnswerResult(
            outcome="passed",
            state="passed",
            attempts_left=left,
            token=token,
            token_expires_at=_iso(expires_ms),
        )

    async def _failed(self, claim: Claim, phase: PhaseName, reasons: list[str]) -> AnswerResult:
        record, policy = claim.record, claim.site.policy
        record.add_reasons(reasons)
        for reason in reasons:
            self.telemetry.blocks.labels(phase, reason).inc()
        outcome = "retry"
        if self._attempts_left(record, policy).phase <= 0:
            record.state, outcome = "blocked", "blocked"
            logger.info(
                "session blocked", extra={"fields": {"session": ref(record.session_id), "reasons": reasons}}
            )
        await self.repo.save(record, claim.rev)
        return AnswerResult(
            outcome=outcome, state=record.state, attempts_left=self._attempts_left(record, policy)
        )

    def _bind_client(self, record: SessionRecord, ip: str, user_agent: str) -> None:
        """Binds the session to the client that created it (its network and user-agent digest, which a pass's
        claims carry), and on every later call notes what of the client differs from it.

        The binding is never moved to a later client (review finding 5): when the last request decided it, a farm
        could solve from its own network and relay only the final answer from the buyer's, and the token would
        name the buyer. What differed goes into the claims as ``client_moved``, so siteverify reports
        ``client_match: false`` and a site with ``require_client_match`` refuses the token.
        """
        network = key_binding_network(ip)
        key = self.settings.token_signing_key.get_secret_value()
        digest = user_agent_digest(user_agent, key) if user_agent else None
        if not record.client_bound:  # a new session, or one created before this release
            record.client_net, record.client_ua, record.client_bound = network, digest, True
            return
        moved = [
            part
            for part, same in (
                ("ip", network == record.client_net),
                ("user_agent", digest == record.client_ua),
            )
            if not same and part not in record.client_moved
        ]
        if moved:
            record.client_moved.extend(moved)
            logger.info(
                "session client changed",
                extra={"fields": {"session": ref(record.session_id), "moved": moved}},
            )

    async def _token(self, record: SessionRecord, site: Site) -> tuple[str, int]:
        """An opaque pass token; its claims (scores, models, reasons, client) stay in the store."""
        issued = self.now_ms()
        results = record.results
        claims = PassClaims(
            jti=new_id(),
            sitekey=record.sitekey,
            hostname=record.hostname,
            action=record.action,
            session_id=record.session_id,
            issued_ms=issued,
            expires_ms=issued + self.settings.pass_token_ttl_s * 1000,
            scores={
                p: [r.score, r.threshold]
                for p, r in results.items()
                if r.score is not None and r.threshold is not None
            },
            models={p: r.model for p, r in results.items() if r.model},
            unscored=any(r.unscored for r in results.values()),
            reasons=list(record.reasons),
            client_net=record.client_net,
            user_agent=record.client_ua,
            client_moved=list(record.client_moved),
        )
        keep_s = self.settings.pass_token_ttl_s + CLAIMS_SLACK_S
        if site.policy.collect:  # a later report names the session by its token
            keep_s = max(keep_s, site.policy.retention_days * 86_400.0)
        try:
            token = await self.tokens.issue(claims, keep_s)
        except StoreUnavailableError as exc:
            raise store_unavailable() from exc
        return token, claims.expires_ms


def _not_ready(exc: AiNotReadyError) -> ApiError:
    return ApiError(
        503,
        "service_not_ready",
        "the scoring service is not configured: a model is missing (an operator must fix it; retrying will not)",
        {"ai_code": exc.code},
    )


def _ai_unavailable() -> ApiError:
    return ApiError(503, "ai_unavailable", "the scoring service is unavailable; retry in a few seconds")
