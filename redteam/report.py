"""The harness's numbers: per-attacker rates from attempt outcomes, block reasons from the backend's own
Prometheus counters, the summary file (``reports/redteam/summary.json``) and its readable report."""

from __future__ import annotations

import json
import re
import shutil
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

from redteam.browser import Outcome, summarise_signals
from redteam.stack import Stack
from serving.codes import INTEGRITY_REASONS as INTEGRITY_CODES
from serving.codes import SIGNAL_REASONS

# The product's targets for the harness: every attacker ≤ 1 %, replay and relay 0 %, people ≥ 98 %.
ATTACKER_MAX_FULL_PASS = 0.01
STRICT_ATTACKERS = ("replay", "replay_junk_press", "replay_noisy", "relay")
HUMAN_MIN_FULL_PASS = 0.98

_SAMPLE = re.compile(r"^(backend_block_reasons_total|backend_siteverify_total)\{([^}]*)\} ([0-9.e+-]+)$")


def counters(stack: Stack) -> Counter[str]:
    """The backend's block reasons (``phase_a:reason``) and siteverify results (``siteverify:result``) so far."""
    text = httpx.get(
        f"{stack.backend_url}/api/metrics",
        headers={"Authorization": f"Bearer {stack.metrics_token}"},
        timeout=10.0,
    ).text
    counts: Counter[str] = Counter()
    for line in text.splitlines():
        match = _SAMPLE.match(line)
        if match is None:
            continue
        labels = dict(re.findall(r'(\w+)="([^"]*)"', match.group(2)))
        if match.group(1) == "backend_block_reasons_total":
            key = f"{labels['phase']}:{labels['reason']}"
        elif labels["result"] != "success":
            key = f"siteverify:{labels['result']}"
        else:
            continue
        counts[key] += int(float(match.group(3)))
    return counts


def models(stack: Stack) -> dict[str, str]:
    """The versions the AI server runs (``name → version``)."""
    body = httpx.get(
        f"{stack.ai_url}/version", headers={"Authorization": f"Bearer {stack.ai_token}"}, timeout=10.0
    ).json()
    return {m["name"]: str(m["version"]) for m in body["models"].values() if m is not None}


# The evidence layers a block reason belongs to (docs/architecture.md): the integrity of the input and the
# browser, the behaviour models of each phase, the replay refusal, and the token's checks at siteverify.
INTEGRITY_REASONS = frozenset(SIGNAL_REASONS) | frozenset(INTEGRITY_CODES)
REPLAY_REASONS = frozenset({"replayed_trace"})


def layer_of(reason: str) -> str:
    """The layer of a ``phase:reason`` (or ``siteverify:result``) key: ``integrity``, ``phase_a``, ``phase_b``,
    ``replay`` or ``siteverify``."""
    where, _, code = reason.partition(":")
    if where == "siteverify":
        return "siteverify"
    if code in INTEGRITY_REASONS:
        return "integrity"
    if code in REPLAY_REASONS:
        return "replay"
    return where


def by_layer(reasons: Counter[str]) -> dict[str, int]:
    """Block reasons summed per layer (every layer present, zero where nothing was blocked there)."""
    layers = dict.fromkeys(("integrity", "phase_a", "phase_b", "replay", "siteverify"), 0)
    for reason, count in reasons.items():
        layer = layer_of(reason)
        layers[layer] = layers.get(layer, 0) + count
    return layers


def _rate(hits: int, of: int) -> float:
    return round(hits / of, 4) if of else 0.0


def summarise(
    outcomes: list[Outcome], reasons: Counter[str], extra: dict[str, Any] | None = None
) -> dict[str, Any]:
    """One attacker's (or the people's) row. Probe attempts (Phase A played by a person) count toward Phase B
    only; ``phase_b_pass_rate`` is over the Phase B problems answered."""
    own = [o for o in outcomes if not o.probe]
    answered_b = [o for o in outcomes if o.phase_b is not None]
    full = [o for o in own if ((o.phase_a and bool(o.phase_b)) if o.full is None else o.full)]
    return {
        "attempts": len(own),
        "phase_a_pass_rate": _rate(sum(o.phase_a for o in own), len(own)),
        "phase_b_attempts": len(answered_b),
        "phase_b_probes": sum(o.probe for o in outcomes),
        "phase_b_pass_rate": _rate(sum(bool(o.phase_b) for o in answered_b), len(answered_b)),
        "full_pass_rate": _rate(len(full), len(own)),
        "bookings": sum(o.booked for o in own),
        "errors": sum(o.error is not None for o in outcomes),
        "error_examples": sorted({o.error for o in outcomes if o.error})[:3],
        "block_reasons": dict(sorted(reasons.items(), key=lambda kv: -kv[1])),
        "block_layers": by_layer(reasons),
        "signals": summarise_signals([s for o in own for s in o.signals]),
        **(extra or {}),
    }


def write_traces(path: Path, outcomes: list[Outcome]) -> None:
    """Every answer the attempts sent, with its outcome, one JSON line each (for studying what passed)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as out:
        for i, outcome in enumerate(outcomes):
            for sent in outcome.traces:
                out.write(json.dumps({"attempt": i, "probe": outcome.probe, **sent}) + "\n")


def targets(summary: dict[str, Any]) -> dict[str, Any]:
    worst = {
        name: row["full_pass_rate"]
        for name, row in summary["attackers"].items()
        if row["full_pass_rate"] > (0.0 if name in STRICT_ATTACKERS else ATTACKER_MAX_FULL_PASS)
    }
    incomplete = sorted(
        name for name, row in summary["attackers"].items() if row.get("failed") or row["attempts"] == 0
    )
    humans_met = (
        summary["humans"]["attempts"] > 0 and summary["humans"]["full_pass_rate"] >= HUMAN_MIN_FULL_PASS
    )
    return {
        "attacker_max_full_pass_rate": ATTACKER_MAX_FULL_PASS,
        "replay_and_relay_full_pass_rate": 0.0,
        "human_min_full_pass_rate": HUMAN_MIN_FULL_PASS,
        "attackers_over_target": worst,
        "attackers_not_measured": incomplete,
        "humans_met": humans_met,
        "met": not worst and not incomplete and humans_met,
    }


def merge(summary: dict[str, Any], into: dict[str, Any]) -> dict[str, Any]:
    """``into`` with the rows of ``summary`` in place of its own (a re-run of some attackers against the same
    models); the run says which rows were re-run when."""
    if summary["models"] != into["models"]:
        raise ValueError(f"cannot merge runs of other models: {summary['models']} vs {into['models']}")
    merged = {**into, "attackers": {**into["attackers"], **summary["attackers"]}}
    if summary["humans"]["attempts"]:
        merged["humans"] = summary["humans"]
    reruns = [*into["run"].get("reruns", []), {"rows": sorted(summary["attackers"]), **summary["run"]}]
    merged["run"] = {**into["run"], "reruns": reruns}
    merged["targets"] = targets(merged)
    return merged


def write(summary: dict[str, Any], out_dir: Path, rotate: bool = True) -> Path:
    """Writes ``summary.json`` (the last one kept as ``previous.json`` when ``rotate``) and ``report.md``;
    returns the summary path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "summary.json"
    previous = None
    if path.exists() and rotate:
        shutil.copyfile(path, out_dir / "previous.json")
    if (out_dir / "previous.json").exists():
        previous = json.loads((out_dir / "previous.json").read_text())
    path.write_text(json.dumps(summary, indent=2, sort_keys=False) + "\n")
    (out_dir / "report.md").write_text(markdown(summary, previous))
    return path


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f} %"


def markdown(summary: dict[str, Any], previous: dict[str, Any] | None) -> str:
    before = (previous or {}).get("attackers", {})
    lines = [
        "# Red-team report",
        "",
        f"Run {summary['run']['finished']} against {summary['run']['target']}, "
        f"{summary['run']['duration_s']:.0f} s. Models: "
        + ", ".join(f"{k} v{v}" for k, v in summary["models"].items())
        + ".",
        "",
        "| who | attempts | Phase A pass | Phase B pass (answered) | full pass | bookings | previous full pass "
        "| blocks by layer | block reasons |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    people = {"people (held-out)": "humans", "people (held-out, CDP)": "humans_cdp"}
    rows = [*summary["attackers"].items()]
    rows += [(label, summary[key]) for label, key in people.items() if key in summary]
    for name, row in rows:
        old = before.get(name, {}).get("full_pass_rate") if name in before else None
        if name in people and previous:
            old = previous.get(people[name], {}).get("full_pass_rate")
        reasons = ", ".join(f"{k} {v}" for k, v in list(row.get("block_reasons", {}).items())[:4]) or "—"
        layers = ", ".join(f"{k} {v}" for k, v in row.get("block_layers", {}).items() if v) or "—"
        lines.append(
            f"| {name} | {row['attempts']} | {_pct(row['phase_a_pass_rate'])} | "
            f"{_pct(row['phase_b_pass_rate'])} ({row['phase_b_attempts']}) | {_pct(row['full_pass_rate'])} | "
            f"{row['bookings']} | {_pct(old)} | {layers} | {reasons} |"
        )
    t = summary["targets"]
    lines += [
        "",
        f"Targets: every attacker ≤ {_pct(t['attacker_max_full_pass_rate'])} full pass (replay and relay 0 %), "
        f"people ≥ {_pct(t['human_min_full_pass_rate'])}. "
        + (
            "All met."
            if t["met"]
            else f"Not met: attackers over target {t['attackers_over_target'] or 'none'}; "
            f"people {'met' if t['humans_met'] else 'not met'}."
        ),
        "",
        "Phase B pass is over the Phase B problems each attacker answered; where an attacker rarely passed Phase A,",
        "held-out people played its Phase A in extra probe attempts, so its Phase B is still measured (these probes",
        "count toward Phase B only). Block reasons are the backend's own counters (`backend_block_reasons_total`,",
        "`backend_siteverify_total`) over each attacker's run. See docs/redteam.md.",
        "",
    ]
    return "\n".join(lines)
