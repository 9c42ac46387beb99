"""Exporting a site's labelled traces as a training dataset (``python -m web.backend.app.cli traces export``).

Only the CLI imports this: the request path never loads the dataset writer (Parquet). A label becomes ground truth
only for the passing, scored trace of its session (see :mod:`web.backend.app.services.collect`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from tcurity.datasets import Source, TraceRecord, write_traces
from tcurity.traces import Trace
from web.backend.app.services.collect import retention_s
from web.backend.app.services.session import ref
from web.backend.app.sites import Site
from web.backend.app.store.base import Store, StoredTrace

LABEL_SOURCE: dict[str, Source] = {
    "confirmed_human": "human",
    "confirmed_bot": "bot",
    "chargeback": "bot",
    "account_takeover": "bot",
    "scalping": "bot",
}
COLLECTED_SPLIT = "collected"


@dataclass(frozen=True, slots=True)
class ExportResult:
    """What one export wrote for one site."""

    sitekey: str
    files: dict[str, int]  # path → traces written


def to_record(stored: StoredTrace) -> tuple[str, TraceRecord] | None:
    """The dataset record of a labelled, passing, scored trace, with its phase.

    ``None`` for an unlabelled trace and for a quarantined one (refused by the model, or a record of an older
    version that was not a scored pass): a site's label vouches only for the trace that earned the pass.
    """
    if stored.refused or stored.label is None or stored.label not in LABEL_SOURCE:
        return None
    payload: dict[str, Any] = orjson.loads(stored.data)
    decision: dict[str, Any] = payload.get("decision") or {}
    if not decision.get("passed") or decision.get("score") is None or decision.get("unscored"):
        return None
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
