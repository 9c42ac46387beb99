"""Learning from traffic, for sites that opt in: collected traces, the sites' labels, export and cleanup.

When a site's policy has ``collect``, every answered trace is kept with the decision it got, for the site's
``retention_days``. The site reports what it learned later (``POST /api/v1/report``: ``confirmed_bot``,
``chargeback``, …), which labels the session's traces. Only that label ever becomes ground truth: the export
writes labelled traces only, with ``source`` taken from the label, never from the model's own verdict (which is
kept beside it, as ``decision``, for audits).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import orjson

from tcurity.datasets import Source, TraceRecord, write_traces
from tcurity.traces import Trace
from web.backend.app.core.security import new_id
from web.backend.app.services.session import PhaseResult, SessionRecord, ref
from web.backend.app.sites import Site
from web.backend.app.store.base import Store, StoredTrace

logger = logging.getLogger(__name__)

Label = Literal["confirmed_human", "confirmed_bot", "chargeback", "account_takeover", "scalping"]
LABEL_SOURCE: dict[str, Source] = {
    "confirmed_human": "human",
    "confirmed_bot": "bot",
    "chargeback": "bot",
    "account_takeover": "bot",
    "scalping": "bot",
}
COLLECTED_SPLIT = "collected"
DAY_S = 86_400.0


def retention_s(site: Site) -> float:
    return site.policy.retention_days * DAY_S


class Collector:
    """Keeps answered traces of collecting sites and attaches their labels."""

    def __init__(self, store: Store) -> None:
        self._store = store

    async def record(
        self,
        site: Site,
        session: SessionRecord,
        phase: str,
        trace: Trace,
        passed: bool,
        reasons: list[str],
        result: PhaseResult | None,
    ) -> None:
        """Stores one answered trace with its decision, if the site collects (a store failure loses only it)."""
        if not site.policy.collect:
            return
        payload = {
            "phase": phase,
            "created_s": time.time(),
            "trace": trace.model_dump(mode="json"),
            "decision": {"passed": passed, "reasons": reasons, **(result.model_dump() if result else {})},
        }
        try:
            await self._store.add_trace(
                site.sitekey, session.session_id, new_id(), orjson.dumps(payload), retention_s(site)
            )
        except Exception:
            logger.exception("trace not collected", extra={"fields": {"session": ref(session.session_id)}})

    async def label(self, site: Site, session_id: str, label: str) -> int:
        """Attaches the site's label to a session's traces; returns how many it labels."""
        return await self._store.set_label(site.sitekey, session_id, label, retention_s(site))


@dataclass(frozen=True, slots=True)
class ExportResult:
    """What one export wrote for one site."""

    sitekey: str
    files: dict[str, int]  # path → traces written


def to_record(stored: StoredTrace) -> tuple[str, TraceRecord] | None:
    """The dataset record of a labelled trace (``None`` when unlabelled), with its phase."""
    if stored.label is None or stored.label not in LABEL_SOURCE:
        return None
    payload: dict[str, Any] = orjson.loads(stored.data)
    trace = Trace.model_validate(payload["trace"])
    source = LABEL_SOURCE[stored.label]
    record = TraceRecord(
        trace_id=stored.trace_id,
        source=source,
        family="human" if source == "human" else stored.label,
        user=ref(stored.session_id),
        split=COLLECTED_SPLIT,
        task=trace.task,
        arrays=trace.arrays(),
    )
    return str(payload["phase"]), record


async def export_site(store: Store, site: Site, out_dir: Path) -> ExportResult:
    """Writes a site's labelled traces to ``out_dir/<sitekey>/<phase>.parquet`` (a full snapshot each time).

    A phase with no labelled trace left has its file removed, so expired data leaves the export too.
    """
    by_phase: dict[str, list[TraceRecord]] = {"phase_a": [], "phase_b": []}
    for stored in await store.traces(site.sitekey):
        found = to_record(stored)
        if found is not None:
            by_phase.setdefault(found[0], []).append(found[1])
    files: dict[str, int] = {}
    for phase, records in by_phase.items():
        path = out_dir / site.sitekey / f"{phase}.parquet"
        if records:
            files[str(path)] = write_traces(records, path)
        else:
            path.unlink(missing_ok=True)
    return ExportResult(site.sitekey, files)


def remove_stale_exports(out_dir: Path, sites: list[Site]) -> list[Path]:
    """Deletes exported files of sites that no longer collect (or exist) and files older than the retention."""
    collecting = {s.sitekey: s for s in sites if s.policy.collect}
    removed: list[Path] = []
    if not out_dir.exists():
        return removed
    now = time.time()
    for path in sorted(out_dir.glob("*/*.parquet")):
        site = collecting.get(path.parent.name)
        if site is None or now - path.stat().st_mtime > retention_s(site):
            path.unlink()
            removed.append(path)
    return removed
