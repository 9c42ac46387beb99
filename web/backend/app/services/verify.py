"""siteverify: a site's server checks a pass token once, with its secret.

Order of checks: the secret (wrong ones are counted per IP and rate-limited), the token's signature, its site,
its expiry, then the one-time consumption in the store (atomic: of two concurrent verifications one wins), then
the expected action. With an ``idempotency_key`` the answer is kept, and a retry with the same key and token
gets it again instead of ``timeout-or-duplicate``.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import orjson

from web.backend.app.core.config import Settings
from web.backend.app.core.security import PassClaims, TokenError, token_digest, verify_pass_token
from web.backend.app.core.telemetry import Telemetry
from web.backend.app.schemas.siteverify import SiteverifyRequest
from web.backend.app.services.ratelimit import RateLimiter
from web.backend.app.sites import SiteRegistry
from web.backend.app.store.base import Store

logger = logging.getLogger(__name__)

RESULT_POLL_S = 0.02
RESULT_WAIT_S = 1.0


def verdict(codes: list[str], claims: PassClaims | None = None) -> dict[str, Any]:
    """The siteverify body: ``success`` when no code, and what the token says when its signature held."""
    body: dict[str, Any] = {
        "success": not codes,
        "challenge_ts": None,
        "hostname": None,
        "action": None,
        "error-codes": codes,
        "score": None,
        "scores": {},
        "reasons": [],
        "models": {},
        "unscored": False,
    }
    if claims is not None:
        scores = {p: {"score": s[0], "threshold": s[1]} for p, s in claims.scores.items()}
        last = next((scores[p]["score"] for p in ("phase_b", "phase_a") if p in scores), None)
        body.update(
            challenge_ts=datetime.fromtimestamp(claims.issued_ms / 1000.0, tz=UTC).isoformat(
                timespec="milliseconds"
            ),
            hostname=claims.hostname,
            action=claims.action,
            score=last,
            scores=scores,
            reasons=claims.reasons,
            models=claims.models,
            unscored=claims.unscored,
        )
    return body


class Verifier:
    """Answers siteverify requests; returns ``(http_status, body, retry_after_s)``."""

    def __init__(
        self,
        settings: Settings,
        sites: SiteRegistry,
        store: Store,
        limiter: RateLimiter,
        telemetry: Telemetry,
    ) -> None:
        self.settings = settings
        self.sites = sites
        self.store = store
        self.limiter = limiter
        self.telemetry = telemetry
        self._key = settings.token_signing_key.get_secret_value()
        self.clock: Callable[[], float] = time.time  # Unix seconds; tests move it

    async def verify(self, request: SiteverifyRequest, ip: str) -> tuple[int, dict[str, Any], int | None]:
        status, body, retry = await self._verify(request, ip)
        codes = body["error-codes"]
        self.telemetry.siteverify.labels(codes[0] if codes else "success").inc()
        return status, body, retry

    async def _verify(self, request: SiteverifyRequest, ip: str) -> tuple[int, dict[str, Any], int | None]:
        if not request.secret:
            return 200, verdict(["missing-input-secret"]), None
        retry = await self.limiter.blocked_for("secret_failure", ip, self.settings.secret_failures_per_ip)
        if retry is not None:
            return 429, verdict(["rate-limited"]), retry
        site = self.sites.by_secret(request.secret)
        if site is None:
            await self.limiter.count_failure("secret_failure", ip)
            logger.info("siteverify with a wrong secret", extra={"fields": {"code": "invalid-input-secret"}})
            return 200, verdict(["invalid-input-secret"]), None
        if not request.response:
            return 200, verdict(["missing-input-response"]), None
        scope = None
        if request.idempotency_key:
            key_hash = hashlib.sha256(request.idempotency_key.encode()).hexdigest()[:32]
            scope = f"idem:{site.sitekey}:{key_hash}"
            kept = await self._kept(scope, request.response)
            if kept is not None:
                return 200, kept, None
        body = await self._check_token(request, site.sitekey, scope)
        if scope is not None:
            record = {"t": token_digest(request.response), "b": body}
            await self.store.put_result(scope, orjson.dumps(record), self.settings.idempotency_ttl_s)
        return 200, body, None

    async def _kept(self, scope: str, token: str) -> dict[str, Any] | None:
        """The answer kept for this idempotency scope; ``bad-request`` when it was for another token."""
        kept = await self.store.get_result(scope)
        if kept is None:
            return None
        record = orjson.loads(kept)
        if record["t"] != token_digest(token):
            return verdict(["bad-request"])
        return dict(record["b"])

    async def _check_token(
        self, request: SiteverifyRequest, sitekey: str, scope: str | None
    ) -> dict[str, Any]:
        assert request.response is not None
        claims, refusal = self._read_token(request.response, sitekey, request.sitekey)
        if claims is None:
            return refusal
        duplicate = await self._consume(claims, request.response, scope)
        if duplicate is not None:
            return duplicate
        if request.expected_action is not None and request.expected_action != claims.action:
            return verdict(["action-mismatch"], claims)
        return verdict([], claims)

    def _read_token(
        self, token: str, sitekey: str, requested_sitekey: str | None
    ) -> tuple[PassClaims | None, dict[str, Any]]:
        """The claims of a genuine, unexpired token of this site, or the refusal."""
        try:
            claims = verify_pass_token(token, self._key)
        except TokenError:
            return None, verdict(["invalid-input-response"])
        if claims.sitekey != sitekey or (requested_sitekey and requested_sitekey != claims.sitekey):
            return None, verdict(["sitekey-mismatch"])
        if self.clock() * 1000.0 > claims.expires_ms:
            return None, verdict(["timeout-or-duplicate"], claims)
        return claims, {}

    async def _consume(self, claims: PassClaims, token: str, scope: str | None) -> dict[str, Any] | None:
        """Consumes the token once; a second consumer is refused unless it retries the first one's key."""
        ttl_s = (claims.expires_ms - self.clock() * 1000.0) / 1000.0 + 5.0
        earlier = await self.store.consume_once(f"tok:{claims.jti}", scope or "-", ttl_s)
        if earlier is None:
            return None
        if scope is not None and earlier == scope:
            kept = await self._wait_for(scope, token)
            if kept is not None:
                return kept
        return verdict(["timeout-or-duplicate"], claims)

    async def _wait_for(self, scope: str, token: str) -> dict[str, Any] | None:
        """A concurrent retry with the same key: wait briefly for the first request's answer."""
        deadline = time.monotonic() + RESULT_WAIT_S
        while time.monotonic() < deadline:
            kept = await self._kept(scope, token)
            if kept is not None:
                return kept
            await asyncio.sleep(RESULT_POLL_S)
        return None
