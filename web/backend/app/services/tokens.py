"""Pass tokens: an opaque handle for the browser, the claims in the store.

The browser gets ``v2.<jti>.<tag>`` (:func:`~web.backend.app.core.security.pass_token`) and nothing else: no
score, threshold, reason or model version that could tell an attacker how close a trace came. The claims are
kept under ``tok:{jti}`` for the token's life plus :data:`CLAIMS_SLACK_S` (longer for a site that collects
traces, so its later reports can still name the session), and only siteverify and report read them.
"""

from __future__ import annotations

import logging

from web.backend.app.core.security import PassClaims, pass_token, pass_token_jti
from web.backend.app.store.base import Store

logger = logging.getLogger(__name__)

# The claims (and the consume marker) outlive the token by this much, whatever the replicas' clocks say.
CLAIMS_SLACK_S = 60.0


class PassTokens:
    """Issues opaque pass tokens and reads their claims back from the store."""

    def __init__(self, store: Store, key: str) -> None:
        self._store = store
        self._key = key

    async def issue(self, claims: PassClaims, keep_s: float) -> str:
        """Keeps ``claims`` for ``keep_s`` seconds and returns the browser's token for them.

        Raises:
            StoreUnavailableError: when the store cannot keep them (no token is handed out then).
        """
        await self._store.put_token_claims(claims.jti, claims.to_json(), keep_s)
        return pass_token(claims.jti, self._key)

    def jti(self, token: str) -> str:
        """The id of a token this server issued, checked by its tag without touching the store.

        Raises:
            TokenError: for a malformed or forged token.
        """
        return pass_token_jti(token, self._key)

    async def claims(self, token: str) -> PassClaims | None:
        """The claims of a genuine token, ``None`` when the store no longer has them (expired).

        Raises:
            TokenError: for a malformed or forged token.
            StoreUnavailableError: when the store cannot be reached.
        """
        data = await self._store.get_token_claims(self.jti(token))
        if data is None:
            return None
        try:
            return PassClaims.from_json(data)
        except ValueError:
            logger.exception("unreadable pass-token claims in the store")
            return None
