"""The shop's server-side check of a T-curity pass token: ``POST {BACKEND_URL}/api/v1/siteverify``.

The token the browser sent proves nothing until the backend says ``success`` for this site's secret, this
sitekey and the action the page asked for. A backend that cannot be reached fails closed: no booking.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import httpx

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Verdict:
    """siteverify's answer, reduced to what the shop acts on."""

    success: bool
    error_codes: list[str] = field(default_factory=list)
    reachable: bool = True


class SiteVerifier:
    """Calls siteverify with the site's secret (server to server)."""

    def __init__(
        self,
        backend_url: str,
        secret: str,
        sitekey: str,
        action: str,
        timeout_s: float,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._secret = secret
        self._sitekey = sitekey
        self._action = action
        self._client = httpx.AsyncClient(base_url=backend_url, timeout=timeout_s, transport=transport)

    async def verify(self, token: str, remote_ip: str | None) -> Verdict:
        """The backend's verdict on one token (``reachable=False`` when it could not answer)."""
        form = {
            "secret": self._secret,
            "response": token,
            "sitekey": self._sitekey,
            "expected_action": self._action,
        }
        if remote_ip:
            form["remoteip"] = remote_ip
        try:
            response = await self._client.post("/api/v1/siteverify", data=form)
            body = response.json()
        except (httpx.HTTPError, ValueError):
            logger.warning("siteverify unreachable or unreadable", exc_info=True)
            return Verdict(False, ["verify-unavailable"], reachable=False)
        codes = [str(c) for c in body.get("error-codes", [])]
        return Verdict(bool(body.get("success")) and response.status_code == 200, codes)

    async def close(self) -> None:
        await self._client.aclose()
