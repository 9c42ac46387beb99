"""The site registry: who may use the challenge, from where, and under which policy.

Sites live in one JSON file (``SITES_FILE``) that the CLI writes (:mod:`web.backend.app.cli`) and the backend
re-reads when it changes. Each site has a public ``sitekey``, a secret stored only as a keyed hash, the
hostnames its pages are served from, and its policy. There is no implicit site: an empty or missing file
means no site, except under ``TCURITY_ENV=development``, where :data:`DEV_SITEKEY`/:data:`DEV_SECRET` (for
``localhost``) are added in memory.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import re
import tempfile
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from web.backend.app.core.security import hash_secret, secret_matches

logger = logging.getLogger(__name__)

FILE_VERSION = 1
DEV_SITEKEY = "dev-sitekey"
DEV_SECRET = "dev-secret"  # development only: refused as a real secret by construction (never in a file)
DEV_HOSTNAMES = ("localhost", "127.0.0.1")
_HOSTNAME = re.compile(
    r"^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$"
)
_STRICT = ConfigDict(extra="forbid")


IntegrityAction = Literal["block", "escalate", "log"]  # what a site does with an integrity reason


class SitePolicy(BaseModel):
    """How a site's challenges run.

    Attributes:
        fail_open: when the AI server cannot be reached, let a scored phase pass on the server-side checks alone
            and mark the pass ``unscored`` in siteverify, within ``UNSCORED_PASSES_PER_SITE`` per window (default:
            fail closed, ``ai_unavailable`` and no pass). Issuing Phase B never fails open.
        phase_b: ``always`` asks the image problem after Phase A; ``never`` passes on Phase A alone.
        max_attempts_phase_a / max_attempts_phase_b: tasks a session may be issued per phase.
        max_attempts_session: tasks a session may be issued in all.
        collect: store this site's challenge traces with their decisions (for labels and retraining).
        retention_days: how long collected traces and labels are kept.
        collect_quota_mib: the most bytes (MiB) of collected records the site keeps live at once; past it new
            traces are dropped (counted in ``backend_collect_dropped_total{reason="quota"}``) until old ones
            expire. 256 MiB holds some 8,000 records of the largest size (96 KiB), several times more of
            typical ones.
        requests_per_window: this site's own challenge rate limit (default ``RATE_LIMIT_PER_SITEKEY``).
        integrity: what an integrity reason (``injected_input``, ``automation_env``, docs/integrity.md) costs: ``log``
            (the default) only reports it in siteverify's ``reasons`` and the metrics; ``escalate`` asks Phase B
            once more (a site with ``phase_b: never`` then asks it; one with ``always`` asks a second round), once
            per session; ``block`` fails the answer with it.
        require_client_match: siteverify refuses a token (``client-mismatch``) unless ``remoteip`` is sent and lies
            in the solving client's network (``/24`` or ``/64``), and a ``user_agent`` sent matches the solving
            client's; off (the default), a mismatch is only reported (``client_match``).
    """

    model_config = _STRICT
    fail_open: bool = False
    phase_b: Literal["always", "never"] = "always"
    max_attempts_phase_a: Annotated[int, Field(ge=1, le=10)] = 3
    max_attempts_phase_b: Annotated[int, Field(ge=1, le=10)] = 3
    max_attempts_session: Annotated[int, Field(ge=1, le=20)] = 5
    collect: bool = False
    retention_days: Annotated[int, Field(ge=1, le=365)] = 30
    collect_quota_mib: Annotated[float, Field(gt=0.0, le=1_048_576.0)] = 256.0
    requests_per_window: Annotated[int, Field(ge=1)] | None = None
    require_client_match: bool = False
    integrity: IntegrityAction = "log"


class Site(BaseModel):
    """One site as stored (the secret only as its hash)."""

    model_config = _STRICT
    sitekey: Annotated[str, Field(min_length=8, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
    name: Annotated[str, Field(min_length=1, max_length=100)]
    secret_hash: str
    previous_secret_hash: str | None = None
    previous_secret_valid_until: float | None = Field(
        default=None, description="Unix time until which the secret replaced by the last rotation still works"
    )
    hostnames: Annotated[list[str], Field(min_length=1, max_length=50)]
    policy: SitePolicy = SitePolicy()
    created_at: str = Field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))

    @field_validator("hostnames")
    @classmethod
    def _valid_hostnames(cls, hostnames: list[str]) -> list[str]:
        cleaned = [h.strip().lower().rstrip(".") for h in hostnames]
        bad = [h for h in cleaned if not _HOSTNAME.match(h)]
        if bad:
            raise ValueError(f"not a hostname: {bad}")
        return sorted(set(cleaned))


class SitesFile(BaseModel):
    """The whole file."""

    model_config = _STRICT
    version: Literal[1] = 1
    sites: list[Site] = []


def load_file(path: Path) -> SitesFile:
    """The file's sites (none when it does not exist).

    Raises:
        ValueError: when the file is not a valid sites file.
    """
    if not path.exists():
        return SitesFile()
    try:
        return SitesFile.model_validate_json(path.read_bytes())
    except ValidationError as exc:
        raise ValueError(f"{path} is not a valid sites file: {exc}") from exc


def save_file(path: Path, content: SitesFile) -> None:
    """Writes the file atomically (temp file and rename), readable by its owner only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(content.model_dump_json(indent=2) + "\n")
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def editing_file(path: Path) -> Iterator[SitesFile]:
    """Reads the file, yields its content for changes and saves it, all under an exclusive lock.

    The lock is ``fcntl.flock`` on ``.<name>.lock`` beside the file (the file itself is replaced on every
    save, so it cannot carry the lock), so concurrent CLI runs apply their changes one after the other
    instead of losing one. Nothing is saved when the block raises.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path.with_name(f".{path.name}.lock"), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        content = load_file(path)
        yield content
        save_file(path, content)
    finally:
        os.close(fd)  # releases the lock


def dev_site(pepper: str) -> Site:
    """The development site (``localhost``), never written to a file."""
    return Site(
        sitekey=DEV_SITEKEY,
        name="development",
        secret_hash=hash_secret(DEV_SECRET, pepper),
        hostnames=list(DEV_HOSTNAMES),
        policy=SitePolicy(phase_b="never"),
    )


class SiteRegistry:
    """The sites the backend serves, re-read from the file when it changes (checked at most every few seconds).

    Lookups by secret go through the keyed hash (an index of hashes); the match is confirmed with
    :func:`hmac.compare_digest`. A secret replaced by a rotation keeps working until its grace time ends.
    """

    def __init__(self, path: Path, pepper: str, development: bool, reload_interval_s: float = 2.0) -> None:
        self.path = path
        self._pepper = pepper
        self._development = development
        self._interval_s = reload_interval_s
        self._lock = threading.Lock()
        self._mtime: float | None = None
        self._checked = 0.0
        self._by_sitekey: dict[str, Site] = {}
        self._by_hash: dict[str, Site] = {}
        self.hostnames: frozenset[str] = frozenset()
        self.reload(force=True)

    def reload(self, force: bool = False) -> None:
        """Re-reads the file when its modification time changed (or ``force``); a broken file keeps the old sites."""
        try:
            mtime: float | None = self.path.stat().st_mtime_ns / 1e9
        except FileNotFoundError:
            mtime = None
        if not force and mtime == self._mtime:
            return
        try:
            sites = load_file(self.path).sites
        except (ValueError, OSError):
            logger.exception("sites file unreadable; keeping the sites loaded before")
            return
        if self._development and all(s.sitekey != DEV_SITEKEY for s in sites):
            sites = [*sites, dev_site(self._pepper)]
        self._install(sites, mtime)

    def _install(self, sites: list[Site], mtime: float | None) -> None:
        by_hash: dict[str, Site] = {}
        for site in sites:
            by_hash[site.secret_hash] = site
            if site.previous_secret_hash:
                by_hash[site.previous_secret_hash] = site
        with self._lock:
            self._by_sitekey = {s.sitekey: s for s in sites}
            self._by_hash = by_hash
            self.hostnames = frozenset(h for s in sites for h in s.hostnames)
            self._mtime = mtime
        logger.info("sites loaded", extra={"fields": {"sites": len(sites)}})

    def _maybe_reload(self) -> None:
        now = time.monotonic()
        if now - self._checked >= self._interval_s:
            self._checked = now
            self.reload()

    def by_sitekey(self, sitekey: str) -> Site | None:
        """The site with this public key, if any."""
        self._maybe_reload()
        return self._by_sitekey.get(sitekey)

    def by_secret(self, secret: str) -> Site | None:
        """The site whose current secret (or, within its grace time, previous secret) this is."""
        self._maybe_reload()
        stored = hash_secret(secret, self._pepper)
        site = self._by_hash.get(stored)
        if site is None:
            return None
        if secret_matches(secret, site.secret_hash, self._pepper):
            return site
        previous_ok = (
            site.previous_secret_valid_until is not None and time.time() < site.previous_secret_valid_until
        )
        if (
            previous_ok
            and site.previous_secret_hash
            and secret_matches(secret, site.previous_secret_hash, self._pepper)
        ):
            return site
        return None

    def allowed_hostnames(self) -> frozenset[str]:
        """Every site's hostnames (what CORS answers preflights for)."""
        self._maybe_reload()
        return self.hostnames

    def all_sites(self) -> list[Site]:
        self._maybe_reload()
        return list(self._by_sitekey.values())
