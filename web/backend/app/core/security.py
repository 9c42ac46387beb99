"""Secrets and tokens: site-secret hashing, pass tokens, random identifiers.

Site secrets are 256-bit random strings, so a keyed hash is enough to store them: ``HMAC-SHA256(pepper,
secret)``, compared with :func:`hmac.compare_digest`. A slow KDF would add nothing against guessing a 256-bit
value and would cap siteverify's throughput.

A pass token is an opaque handle, ``v2.<jti>.<tag>``: ``jti`` is 192 random bits and ``tag`` is
``HMAC-SHA256(TOKEN_SIGNING_KEY, "v2." + jti)`` (both base64url, canonical). The browser learns nothing from
it: what the pass says (:class:`PassClaims`: site, hostname, action, session, times, scores, model versions,
reason codes, the solving client's network and user-agent digest) stays in the store under ``tok:{jti}``
(:mod:`web.backend.app.services.tokens`) and only siteverify reads it. The tag lets siteverify refuse a forged
handle without a store lookup.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import ipaddress
import secrets
from dataclasses import dataclass, field

import orjson

SECRET_HASH_PREFIX = "hmac-sha256:"
TOKEN_VERSION = "v2"
MAX_TOKEN_CHARS = 4096
JTI_BYTES = 24


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
    """Strict, canonical base64url without padding: any other spelling of the same bytes is refused.

    Raises:
        ValueError: for characters outside the alphabet, padding, or non-zero trailing bits.
    """
    decoded = base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_", validate=True)
    if _b64(decoded) != text:
        raise ValueError("not canonical base64url")
    return decoded


@dataclass(frozen=True, slots=True)
class PassClaims:
    """What a pass says; kept server-side under ``tok:{jti}``, never sent to the browser.

    Attributes:
        jti: the token's id, consumed once.
        sitekey, hostname, action: what the challenge was solved for.
        session_id: the challenge session.
        issued_ms, expires_ms: Unix times in milliseconds.
        scores: per phase (``phase_a``, ``phase_b``): ``[score, threshold]`` of the model that decided.
        models: per phase: ``name@version`` of that model.
        unscored: a phase passed without a model (the site's fail-open policy, AI server unavailable).
        reasons: reason codes seen during the session (failed attempts, fail-open), at most a handful.
        client_net: the solving client's network (``/24`` of IPv4, ``/64`` of IPv6); ``None`` when its address
            could not be parsed.
        user_agent: :func:`user_agent_digest` of the solving client's ``User-Agent`` (``None``: none sent).
        client_moved: what of the client (``ip``: its network, ``user_agent``) differed on some request of the
            session from the client that created it: a relayed answer (review finding 5). Siteverify counts it
            as a mismatch whatever the site sends.
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
    client_net: str | None = None
    user_agent: str | None = None
    client_moved: list[str] = field(default_factory=list)

    def to_json(self) -> bytes:
        """The stored form (compact JSON)."""
        return orjson.dumps(
            {
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
                "n": self.client_net,
                "ua": self.user_agent,
                "mv": self.client_moved,
            }
        )

    @classmethod
    def from_json(cls, data: bytes | str) -> PassClaims:
        """The claims :meth:`to_json` wrote.

        Raises:
            ValueError: when ``data`` is not such a record.
        """
        try:
            p = orjson.loads(data)
            return cls(
                jti=str(p["j"]),
                sitekey=str(p["k"]),
                hostname=str(p["h"]),
                action=str(p["a"]),
                session_id=str(p["s"]),
                issued_ms=int(p["i"]),
                expires_ms=int(p["e"]),
                scores={str(k): [float(x) for x in v] for k, v in dict(p["sc"]).items()},
                models={str(k): str(v) for k, v in dict(p["m"]).items()},
                unscored=bool(p["u"]),
                reasons=[str(r) for r in p["r"]],
                client_net=None if p.get("n") is None else str(p["n"]),
                user_agent=None if p.get("ua") is None else str(p["ua"]),
                client_moved=[str(m) for m in p.get("mv", [])],
            )
        except (orjson.JSONDecodeError, KeyError, TypeError, AttributeError) as exc:
            raise ValueError("not a pass-claims record") from exc


class TokenError(ValueError):
    """A token that is malformed or whose tag does not match."""


def _tag(key: str, jti: str) -> bytes:
    return hmac.new(key.encode(), f"{TOKEN_VERSION}.{jti}".encode(), hashlib.sha256).digest()


def pass_token(jti: str, key: str) -> str:
    """The opaque token the browser gets for the claims kept under ``jti``."""
    return f"{TOKEN_VERSION}.{jti}.{_b64(_tag(key, jti))}"


def pass_token_jti(token: str, key: str) -> str:
    """The ``jti`` of a token this server issued (whether its claims still exist is the store's to say).

    Raises:
        TokenError: when the token is malformed, not canonical, of another version, or its tag does not match.
    """
    if len(token) > MAX_TOKEN_CHARS:
        raise TokenError("token too long")
    parts = token.split(".")
    if len(parts) != 3 or parts[0] != TOKEN_VERSION:
        raise TokenError("not a pass token")
    jti, tag = parts[1], parts[2]
    try:
        if len(_unb64(jti)) != JTI_BYTES:
            raise TokenError("bad token id")
        given = _unb64(tag)
    except (binascii.Error, ValueError) as exc:
        raise TokenError("bad token encoding") from exc
    if not hmac.compare_digest(given, _tag(key, jti)):
        raise TokenError("tag mismatch")
    return jti


def token_digest(token: str) -> str:
    """A short stable digest of a token (idempotency bookkeeping; the token itself is never stored or logged)."""
    return hashlib.sha256(token.encode()).hexdigest()[:32]


# How much of the address space one client and one network hold (review finding 3). An IPv6 subscriber gets a
# whole /64 (often a /56 or /48), so an IPv6 "address" for the per-IP limits is its /64 and an IPv6 "network" for
# the per-network limits is its /48; an IPv4 client is its address and its network its /24. The token's client
# binding uses the /24 and the /64: an IPv6 client keeps its /64 while privacy addresses rotate within it.
IPV4_NETWORK_PREFIX = 24
IPV6_CLIENT_PREFIX = 64
IPV6_NETWORK_PREFIX = 48


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """``text`` as an address (an IPv4-mapped IPv6 address as its IPv4 address); ``None`` when it is none."""
    try:
        address = ipaddress.ip_address(text.strip())
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def client_network(ip: str) -> str | None:
    """The network a client address belongs to for token binding: its ``/24`` (IPv4) or ``/64`` (IPv6).

    An IPv4-mapped IPv6 address counts as its IPv4 address. ``None`` when ``ip`` is not an address.
    """
    address = _address(ip)
    if address is None:
        return None
    prefix = IPV4_NETWORK_PREFIX if address.version == 4 else IPV6_CLIENT_PREFIX
    return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False))


def client_key(ip: str) -> str:
    """The key every per-IP limit counts under: an IPv4 address itself, an IPv6 address's ``/64``.

    One IPv6 host may use any address of its ``/64``, so keying IPv6 limits on the full address would give it
    ``2**64`` buckets. A text that is no address is returned as it is (its own bucket).
    """
    address = _address(ip)
    if address is None:
        return ip
    if address.version == 4:
        return str(address)
    return str(ipaddress.ip_network(f"{address}/{IPV6_CLIENT_PREFIX}", strict=False))


def _key_network(key: str, ipv6_prefix: int) -> str | None:
    """The ``/24`` (IPv4) or ``/ipv6_prefix`` (IPv6) holding a :func:`client_key`; ``None`` for another text."""
    try:
        network = ipaddress.ip_network(key.strip(), strict=False)
    except ValueError:
        return None
    if network.version == 6 and network.prefixlen < ipv6_prefix:
        return None  # no client key is this wide
    prefix = IPV4_NETWORK_PREFIX if network.version == 4 else ipv6_prefix
    if network.version == 4 and network.prefixlen != 32:
        return None  # an IPv4 client key is one address
    return str(ipaddress.ip_network(f"{network.network_address}/{prefix}", strict=False))


def key_binding_network(key: str) -> str | None:
    """The network a pass binds the client of :func:`client_key` ``key`` to: the same as :func:`client_network`
    gives for any of its addresses (``/24``, ``/64``); ``None`` when ``key`` is no client key of an address."""
    return _key_network(key, IPV6_CLIENT_PREFIX)


def limit_network(key: str) -> str:
    """The key every per-network limit counts under, for the client of :func:`client_key` ``key``: its ``/24``
    (IPv4) or ``/48`` (IPv6); a key that is no address stands for itself."""
    return _key_network(key, IPV6_NETWORK_PREFIX) or key


# Only this much of a User-Agent is bound (review finding 10): the solving side keeps the first 512 characters,
# and siteverify takes a longer header (up to MAX_VERIFY_USER_AGENT_CHARS) and compares the same prefix.
MAX_USER_AGENT_CHARS = 512
MAX_VERIFY_USER_AGENT_CHARS = 8192


def user_agent_digest(user_agent: str, key: str) -> str:
    """A keyed digest of the first :data:`MAX_USER_AGENT_CHARS` characters of a ``User-Agent`` (the claims never
    hold it raw); both sides cut it the same way, so a site may forward the full header."""
    text = user_agent[:MAX_USER_AGENT_CHARS].encode()
    return hmac.new(key.encode(), b"user-agent\x00" + text, hashlib.sha256).hexdigest()[:32]
