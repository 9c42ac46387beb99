"""The backend's command line: manage sites and keys; export and clean up collected traces.

Runs with the backend's environment (``SITES_FILE``, ``SITE_SECRET_PEPPER``, ``REDIS_URL``, …)::

    python -m web.backend.app.cli sites add --name "Tickets" --hostname tickets.example.com [--collect]
    python -m web.backend.app.cli sites list
    python -m web.backend.app.cli sites rotate-secret SITEKEY [--grace-s 3600]
    python -m web.backend.app.cli sites remove SITEKEY
    python -m web.backend.app.cli traces export [--sitekey SITEKEY] [--out data/collected]
    python -m web.backend.app.cli traces cleanup

A new secret is printed once (JSON on stdout) and stored only as its hash. The running backend picks up
changes to the sites file within ``SITES_RELOAD_INTERVAL_S``. Trace commands need ``COLLECT_REDIS_URL`` (or,
without it, ``REDIS_URL``) to reach a running backend's data (the in-memory store lives and dies with its
process). The export holds only labelled traces that passed a scored check; traces the model refused stay
quarantined in the store until they expire.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson

from web.backend.app.core.config import Settings, get_settings
from web.backend.app.core.logging import setup_logging
from web.backend.app.core.security import hash_secret, new_secret, new_sitekey
from web.backend.app.services.export import export_site, remove_stale_exports
from web.backend.app.sites import Site, SitePolicy, SitesFile, editing_file, load_file
from web.backend.app.store import Store, make_store

logger = logging.getLogger(__name__)


def _out(value: Any) -> None:
    sys.stdout.write(orjson.dumps(value, option=orjson.OPT_INDENT_2).decode() + "\n")


def _policy_args(parser: argparse.ArgumentParser) -> None:
    defaults = SitePolicy()
    parser.add_argument(
        "--fail-open",
        action="store_true",
        help="pass a scored phase unscored when the AI server cannot be reached (within UNSCORED_PASSES_PER_SITE)",
    )
    parser.add_argument("--phase-b", choices=["always", "never"], default=defaults.phase_b)
    parser.add_argument("--max-attempts-phase-a", type=int, default=defaults.max_attempts_phase_a)
    parser.add_argument("--max-attempts-phase-b", type=int, default=defaults.max_attempts_phase_b)
    parser.add_argument("--max-attempts-session", type=int, default=defaults.max_attempts_session)
    parser.add_argument(
        "--collect",
        action="store_true",
        help="keep scored challenge traces (bounded, within the quota) for labels and training",
    )
    parser.add_argument("--retention-days", type=int, default=defaults.retention_days)
    parser.add_argument(
        "--collect-quota-mib",
        type=float,
        default=defaults.collect_quota_mib,
        help="most MiB of collected traces kept at once; past it new ones are dropped",
    )
    parser.add_argument("--requests-per-window", type=int, default=None, help="this site's own rate limit")
    parser.add_argument(
        "--integrity",
        choices=["block", "escalate", "log"],
        default=defaults.integrity,
        help="what injected input or an automated browser costs (docs/integrity.md)",
    )
    parser.add_argument(
        "--require-client-match",
        action="store_true",
        help="siteverify refuses tokens whose remoteip is not the solving client's /24 (/64)",
    )


def _policy(args: argparse.Namespace) -> SitePolicy:
    return SitePolicy(
        fail_open=args.fail_open,
        phase_b=args.phase_b,
        max_attempts_phase_a=args.max_attempts_phase_a,
        max_attempts_phase_b=args.max_attempts_phase_b,
        max_attempts_session=args.max_attempts_session,
        collect=args.collect,
        retention_days=args.retention_days,
        collect_quota_mib=args.collect_quota_mib,
        requests_per_window=args.requests_per_window,
        require_client_match=args.require_client_match,
        integrity=args.integrity,
    )


def _public(site: Site) -> dict[str, Any]:
    """A site without its secret hashes."""
    return site.model_dump(exclude={"secret_hash", "previous_secret_hash"})


def _find(content: SitesFile, sitekey: str) -> Site:
    for site in content.sites:
        if site.sitekey == sitekey:
            return site
    raise SystemExit(f"no site with sitekey {sitekey!r}")


def sites_add(settings: Settings, name: str, hostnames: list[str], policy: SitePolicy) -> dict[str, str]:
    """Adds a site; returns its sitekey and its secret (shown this once)."""
    secret = new_secret()
    site = Site(
        sitekey=new_sitekey(),
        name=name,
        secret_hash=hash_secret(secret, settings.site_secret_pepper.get_secret_value()),
        hostnames=hostnames,
        policy=policy,
    )
    with editing_file(settings.sites_file) as content:
        content.sites.append(site)
    return {"sitekey": site.sitekey, "secret": secret}


def sites_rotate(settings: Settings, sitekey: str, grace_s: float) -> dict[str, str]:
    """Gives a site a new secret; the old one keeps working for ``grace_s`` seconds (0: stops now)."""
    secret = new_secret()
    with editing_file(settings.sites_file) as content:
        site = _find(content, sitekey)
        rotated = site.model_copy(
            update={
                "secret_hash": hash_secret(secret, settings.site_secret_pepper.get_secret_value()),
                "previous_secret_hash": site.secret_hash if grace_s > 0 else None,
                "previous_secret_valid_until": time.time() + grace_s if grace_s > 0 else None,
            }
        )
        content.sites = [rotated if s.sitekey == sitekey else s for s in content.sites]
    return {"sitekey": sitekey, "secret": secret}


def sites_remove(settings: Settings, sitekey: str) -> None:
    """Removes a site (its secret stops working at the backend's next reload)."""
    with editing_file(settings.sites_file) as content:
        _find(content, sitekey)
        content.sites = [s for s in content.sites if s.sitekey != sitekey]


def _collect_store(settings: Settings) -> Store:
    """The store that holds collected traces (``COLLECT_REDIS_URL``, else ``REDIS_URL``, else memory)."""
    return make_store(settings.collect_redis_url or settings.redis_url)


async def traces_export(settings: Settings, sitekey: str | None, out_dir: Path) -> dict[str, int]:
    """Writes every collecting site's labelled, passing traces (or one site's) under ``out_dir``."""
    sites = [s for s in load_file(settings.sites_file).sites if s.policy.collect]
    if sitekey is not None:
        sites = [s for s in sites if s.sitekey == sitekey]
    store = _collect_store(settings)
    try:
        written: dict[str, int] = {}
        for site in sites:
            written.update((await export_site(store, site, out_dir)).files)
        return written
    finally:
        await store.close()


async def traces_cleanup(settings: Settings, out_dir: Path) -> dict[str, int]:
    """Deletes expired collected traces in the store and exports past their site's retention."""
    store = _collect_store(settings)
    try:
        purged = await store.purge_expired()
    finally:
        await store.close()
    removed = remove_stale_exports(out_dir, load_file(settings.sites_file).sites)
    return {"traces_purged": purged, "export_files_removed": len(removed)}


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="python -m web.backend.app.cli", description=__doc__.split("\n")[0])
    groups = top.add_subparsers(dest="group", required=True)
    sites = groups.add_parser("sites", help="manage sites and keys").add_subparsers(
        dest="command", required=True
    )
    add = sites.add_parser("add", help="add a site; prints its sitekey and secret")
    add.add_argument("--name", required=True)
    add.add_argument("--hostname", action="append", required=True, help="repeat for each hostname")
    _policy_args(add)
    sites.add_parser("list", help="list sites (no secrets)")
    rotate = sites.add_parser("rotate-secret", help="new secret; prints it")
    rotate.add_argument("sitekey")
    rotate.add_argument("--grace-s", type=float, default=0.0, help="the old secret keeps working this long")
    remove = sites.add_parser("remove", help="remove a site")
    remove.add_argument("sitekey")
    traces = groups.add_parser("traces", help="collected traces").add_subparsers(
        dest="command", required=True
    )
    export = traces.add_parser(
        "export", help="write labelled passing traces as Parquet (tcurity.datasets; refused ones never)"
    )
    export.add_argument("--sitekey")
    export.add_argument("--out", type=Path, default=None, help="default: COLLECTED_DIR")
    cleanup = traces.add_parser("cleanup", help="delete expired traces and exports")
    cleanup.add_argument("--out", type=Path, default=None, help="default: COLLECTED_DIR")
    return top


def main(argv: Sequence[str] | None = None) -> None:
    args = parser().parse_args(argv)
    setup_logging("WARNING")
    try:
        _run(args, get_settings())
    except ValueError as exc:  # an invalid hostname, policy or sites file
        raise SystemExit(f"error: {exc}") from exc


def _run(args: argparse.Namespace, settings: Settings) -> None:
    if args.group == "sites":
        if args.command == "add":
            _out(sites_add(settings, args.name, args.hostname, _policy(args)))
        elif args.command == "list":
            _out([_public(s) for s in load_file(settings.sites_file).sites])
        elif args.command == "rotate-secret":
            _out(sites_rotate(settings, args.sitekey, args.grace_s))
        elif args.command == "remove":
            sites_remove(settings, args.sitekey)
            _out({"removed": args.sitekey})
        return
    out_dir = args.out or settings.collected_dir
    if args.command == "export":
        _out(asyncio.run(traces_export(settings, args.sitekey, out_dir)))
    else:
        _out(asyncio.run(traces_cleanup(settings, out_dir)))


if __name__ == "__main__":
    main()
