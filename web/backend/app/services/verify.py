"""siteverify: a site's server checks a pass token once, with its secret.

Order of checks: the secret (wrong ones are counted per IP and rate-limited), the token's tag (a forged handle
costs no store lookup), its claims in the store, its site, its expiry, then the one-time consumption in the
store (atomic: of two concurrent verifications one wins), then the expected action and the client binding
(``remoteip`` against the solving client's network, ``user_agent`` against its digest; a refusal only where
the site's policy asks for it).

The consume marker lives for the token's whole TTL plus :data:`~web.backend.app.services.tokens.CLAIMS_SLACK_S`,
not until the expiry by this replica's clock, so a replica whose clock runs behind cannot accept a token again.

With an ``idempotency_key`` the answer is kept until the token expires (plus :data:`RETRY_SLACK_S`), and a retry
with the same key and token gets it again instead of ``timeout-or-duplicate``, re-checked against the retry:
its sitekey, ``expected_action`` and client, and the token's expiry.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import orjson

from web.backend.app.core.config import Settings
from web.backend.app.core.security import (
    PassClaims,
    TokenError,
    client_network,
    token_digest,
    user_agent_digest,
)
from web.backend.app.core.telemetry import Telemetry
from web.backend.app.schemas.siteverify import SiteverifyRequest
from web.backend.app.services.ratelimit import RateLimiter
from web.backend.app.services.tokens import CLAIMS_SLACK_S, PassTokens
from web.backend.app.sites import Site, SiteRegistry
from web.backend.app.store.base import Store

logger = logging.getLogger(__name__)

RESULT_POLL_S = 0.02
RESULT_WAIT_S = 1.0
# An idempotent retry may come this long after the token's expiry (a retry of a call made just before it).
RETRY_SLACK_S = 5.0

ClientCheck = tuple[bool | None, list[str]]
NOT_COMPARED: ClientCheck = (None, [])


def verdict(
    codes: list[str], claims: PassClaims | None = None, client: ClientCheck = NOT_COMPARED
) -> dict[str, Any]:
    """The siteverify body: ``success`` when no code, and what the claims say when the token was genuine."""
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
        "client_match": None,
        "client_mismatch": [],
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
            client_match=client[0],
            client_mismatch=client[1],
        )
    return body


def check_client(claims: PassClaims, remoteip: str | None, user_agent: str | None, key: str) -> ClientCheck:
    """Whether the verifying request's client is the solving one: ``(match, what differed)``.

    ``remoteip`` is compared by network (``/24``, ``/64``), ``user_agent`` by its keyed digest; what was not
    sent is not compared (``match`` is ``None`` when nothing was). An address that does not parse, or a pass
    that recorded none, counts as a mismatch. What changed during the session itself (``client_moved``: a
    request from another network or user agent than the one that created it) is a mismatch whatever was sent.
    """
    differ = set(claims.client_moved) & {"ip", "user_agent"}
    compared = bool(differ)
    if remoteip:
        compared = True
        network = client_network(remoteip)
        if network is None or claims.client_net is None or network != claims.client_net:
            differ.add("ip")
    if user_agent:
        compared = True
        digest = user_agent_digest(user_agent, key)
        if claims.user_agent is None or not hmac.compare_digest(digest, claims.user_agent):
            differ.add("user_agent")
    ordered: list[str] = [part for part in ("ip", "user_agent") if part in differ]
    return (not ordered if compared else None), ordered


class Verifier:
    """Answers siteverify requests; returns ``(http_status, body, retry_after_s)``."""

    def __init__(
        self,
        settings: Settings,
        sites: SiteRegistry,
        store: Store,
        limiter: RateLimiter,
        telemetry: Telemetry,
        tokens: PassTokens,
    ) -> None:
        self.settings = settings
        self.sites = sites
        self.store = store
        self.limiter = limiter
        self.telemetry = telemetry
        self.tokens = tokens
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
                return 200, self._retry(request, site, *kept), None
        body, claims = await self._check_token(request, site, scope)
        if scope is not None:
            await self._keep(scope, request.response, body, claims)
        return 200, body, None

    async def _keep(self, scope: str, token: str, body: dict[str, Any], claims: PassClaims | None) -> None:
        """Keeps the answer for retries until the token expires (plus :data:`RETRY_SLACK_S`), never longer."""
        if claims is not None:
            life_s = (claims.expires_ms - self.clock() * 1000.0) / 1000.0
        else:  # no claims to say when: no token lives longer than this
            life_s = float(self.settings.pass_token_ttl_s)
        ttl_s = min(float(self.settings.idempotency_ttl_s), max(0.0, life_s) + RETRY_SLACK_S)
        record = {"t": token_digest(token), "b": body, "c": claims.to_json().decode() if claims else None}
        await self.store.put_result(scope, orjson.dumps(record), ttl_s)

    async def _kept(self, scope: str, token: str) -> tuple[dict[str, Any], PassClaims | None] | None:
        """The answer kept for this idempotency scope with its claims; ``bad-request`` when it was for another
        token."""
        kept = await self.store.get_result(scope)
        if kept is None:
            return None
        record = orjson.loads(kept)
        if record["t"] != token_digest(token):
            return verdict(["bad-request"]), None
        claims = PassClaims.from_json(record["c"]) if record.get("c") else None
        return dict(record["b"]), claims

    def _retry(
        self, request: SiteverifyRequest, site: Site, body: dict[str, Any], claims: PassClaims | None
    ) -> dict[str, Any]:
        """A retry's answer: the kept refusal as it was, or the kept pass re-checked against this request."""
        if claims is None or not body["success"]:
            return body
        refusal = self._refusal(claims, site, request.sitekey, slack_ms=RETRY_SLACK_S * 1000.0)
        return refusal if refusal is not None else self._judge(request, site, claims)

    async def _check_token(
        self, request: SiteverifyRequest, site: Site, scope: str | None
    ) -> tuple[dict[str, Any], PassClaims | None]:
        assert request.response is not None
        try:
            claims = await self.tokens.claims(request.response)
        except TokenError:
            return verdict(["invalid-input-response"]), None
        if claims is None:  # a genuine handle whose claims the store dropped: long expired
            return verdict(["timeout-or-duplicate"]), None
        refusal = self._refusal(claims, site, request.sitekey)
        if refusal is not None:
            return refusal, claims
        duplicate = await self._consume(request, site, claims, scope)
        if duplicate is not None:
            return duplicate, claims
        return self._judge(request, site, claims), claims

    def _refusal(
        self, claims: PassClaims, site: Site, requested_sitekey: str | None, slack_ms: float = 0.0
    ) -> dict[str, Any] | None:
        """``sitekey-mismatch`` for another site's token, ``timeout-or-duplicate`` past its expiry, else ``None``."""
        if claims.sitekey != site.sitekey or (requested_sitekey and requested_sitekey != claims.sitekey):
            return verdict(["sitekey-mismatch"])
        if self.clock() * 1000.0 > claims.expires_ms + slack_ms:
            return verdict(["timeout-or-duplicate"], claims)
        return None

    def _judge(self, request: SiteverifyRequest, site: Site, claims: PassClaims) -> dict[str, Any]:
        """The verdict on a consumed token: the expected action, then the client binding."""
        client = check_client(claims, request.remoteip, request.user_agent, self._key)
        if request.expected_action is not None and request.expected_action != claims.action:
            return verdict(["action-mismatch"], claims, client)
        if site.policy.require_client_match and client[0] is not True:
            return verdict(["client-mismatch"], claims, client)
        return verdict([], claims, client)

    async def _consume(
        self, request: SiteverifyRequest, site: Site, claims: PassClaims, scope: str | None
    ) -> dict[str, Any] | None:
        """Consumes the token once; a second consumer is refused unless it retries the first one's key."""
        assert request.response is not None
        ttl_s = self.settings.pass_token_ttl_s + CLAIMS_SLACK_S
        earlier = await self.store.consume_once(f"tok:{claims.jti}", scope or "-", ttl_s)
        if earlier is None:
            return None
        if scope is not None and earlier == scope:
            kept = await self._wait_for(scope, request.response)
            if kept is not None:
                return self._retry(request, site, *kept)
        return verdict(["timeout-or-duplicate"], claims)

    async def _wait_for(self, scope: str, token: str) -> tuple[dict[str, Any], PassClaims | None] | None:
        """A concurrent retry with the same key: wait briefly for the first request's answer."""
        deadline = time.monotonic() + RESULT_WAIT_S
        while time.monotonic() < deadline:
            kept = await self._kept(scope, token)
            if kept is not None:
                return kept
            await asyncio.sleep(RESULT_POLL_S)
        return None
