"""Secrets and tokens: site-secret hashing, pass tokens, random identifiers.

Site secrets are 256-bit random strings, so a keyed hash is enough to store them: ``HMAC-SHA256(pepper,
secret)``, compared with :func:`hmac.compare_digest`. A slow KDF would add nothing against guessing a 256-bit
value and would cap siteverify's throughput.

A pass token is ``v1.<payload>.<signature>``: the payload is compact JSON (base64url), the signature
``HMAC-SHA256(TOKEN_SIGNING_KEY, "v1." + payload)`` (base64url). It binds the site, hostname, action and
session, carries the issue and expiry times, the scores and the model versions that decided, and a random
``jti`` that the store consumes once.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from dataclasses import dataclass, field

import orjson

SECRET_HASH_PREFIX = "hmac-sha256:"
TOKEN_VERSION = "v1"
MAX_TOKEN_CHARS = 4096


def new_sitekey() -> str:
    """A public site key (safe to embed in pages)."""
    return "tk_" + secrets.token_urlsafe(18)


def new_secret() -> str:
    """A site secret: 256 random bits, shown once by the CLI and stored only as a hash."""
    return "ts_" + secrets.token_urlsafe(32)


def new_id() -> str:
    """A session or token id: 192 random bits, URL-safe."""
    return secrets.token_urlsafe(24)


def hash_secret(secret: str, pepper: str) -> str:
    """The stored form of a site secret (keyed with the server's pepper)."""
    digest = hmac.new(pepper.encode(), secret.encode(), hashlib.sha256).hexdigest()
    return SECRET_HASH_PREFIX + digest


def secret_matches(secret: str, stored_hash: str, pepper: str) -> bool:
    """Whether ``secret`` is the one ``stored_hash`` was made from (constant time)."""
    return hmac.compare_digest(hash_secret(secret, pepper).encode(), stored_hash.encode())


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True, slots=True)
class PassClaims:
    """What a pass token says.

    Attributes:
        jti: the token's id, consumed once.
        sitekey, hostname, action: what the challenge was solved for.
        session_id: the challenge session.
        issued_ms, expires_ms: Unix times in milliseconds.
        scores: per phase (``phase_a``, ``phase_b``): ``[score, threshold]`` of the model that decided.
        models: per phase: ``name@version`` of that model.
        unscored: a phase passed without a model (the site's fail-open policy, AI server unavailable).
        reasons: reason codes seen during the session (failed attempts, fail-open), at most a handful.
    """

    jti: str
    sitekey: str
    hostname: str
    action: str
    session_id: str
    issued_ms: int
    expires_ms: int
    scores: dict[str, list[float]] = field(default_factory=dict)
    models: dict[str, str] = field(default_factory=dict)
    unscored: bool = False
    reasons: list[str] = field(default_factory=list)

    def to_payload(self) -> dict[str, object]:
        return {
            "j": self.jti,
            "k": self.sitekey,
            "h": self.hostname,
            "a": self.action,
            "s": self.session_id,
            "i": self.issued_ms,
            "e": self.expires_ms,
            "sc": self.scores,
            "m": self.models,
            "u": self.unscored,
            "r": self.reasons,
        }

    @classmethod
    def from_payload(cls, p: dict[str, object]) -> PassClaims:
        return cls(
            jti=str(p["j"]),
            sitekey=str(p["k"]),
            hostname=str(p["h"]),
            action=str(p["a"]),
            session_id=str(p["s"]),
            issued_ms=int(p["i"]),  # type: ignore[call-overload]
            expires_ms=int(p["e"]),  # type: ignore[call-overload]
            scores={str(k): [float(x) for x in v] for k, v in dict(p["sc"]).items()},  # type: ignore[call-overload]
            models={str(k): str(v) for k, v in dict(p["m"]).items()},  # type: ignore[call-overload]
            unscored=bool(p["u"]),
            reasons=[str(r) for r in p["r"]],  # type: ignore[attr-defined]
        )


class TokenError(ValueError):
    """A token that is malformed or whose signature does not match."""


def _signature(key: bytes, signed: bytes) -> bytes:
    return hmac.new(key, signed, hashlib.sha256).digest()


def sign_pass_token(claims: PassClaims, key: str) -> str:
    """The token string for ``claims``, signed with ``key``."""
    payload = _b64(orjson.dumps(claims.to_payload()))
    signed = f"{TOKEN_VERSION}.{payload}"
    return f"{signed}.{_b64(_signature(key.encode(), signed.encode()))}"


def verify_pass_token(token: str, key: str) -> PassClaims:
    """The claims of a genuine token (expiry is the caller's to check).

    Raises:
        TokenError: when the token is malformed, of another version, or its signature does not match.
    """
    if len(token) > MAX_TOKEN_CHARS:
        raise TokenError("token too long")
    parts = token.split(".")
    if len(parts) != 3 or parts[0] != TOKEN_VERSION:
        raise TokenError("not a pass token")
    signed = f"{parts[0]}.{parts[1]}".encode()
    try:
        given = _unb64(parts[2])
    except (binascii.Error, ValueError) as exc:
        raise TokenError("bad signature encoding") from exc
    if not hmac.compare_digest(given, _signature(key.encode(), signed)):
        raise TokenError("signature mismatch")
    try:
        return PassClaims.from_payload(orjson.loads(_unb64(parts[1])))
    except (binascii.Error, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise TokenError("bad payload") from exc


def token_digest(token: str) -> str:
    """A short stable digest of a token (idempotency bookkeeping; the token itself is never stored or logged)."""
    return hashlib.sha256(token.encode()).hexdigest()[:32]
