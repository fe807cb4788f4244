"""The report of a failover drill (`exitplan drill failover`), from its journal: the measured
phases and the catalog's estimates side by side, the achievable RTO against the stack's
estimate, the flags, the load's rows; Markdown and one self-contained HTML page (`kit.py`)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from runbooks.reports.kit import (
    Table,
    format_bytes,
    format_ms,
    format_pct,
    format_secs,
    html_page,
    markdown_page,
    stacks_served,
    timeline_plots,
    write_pages,
)


def _seconds(value: float | None) -> str:
    return "-" if value is None else format_secs(value)


def tables(journal: Mapping[str, Any]) -> list[Table]:
    """The report's tables: phases (measured | estimated), RTO, flags, load rows."""
    ex = journal["exitplan"]
    rto = ex.get("rto") or {"rows": [], "flags": []}
    phases = [
        [
            r["phase"],
            _seconds(r["measured_s"]),
            _seconds(r["estimated_s"]) + (" (estimate only)" if r["estimate_only"] else ""),
            r["basis"] or "-",
            r["flag"] or "-",
        ]
        for r in rto["rows"]
    ]
    labels = {
        "measured_rto_s": "measured (kill -> all traffic on the standby, correct answers)",
        "achievable_rto_s": "achievable (measured - router detection + estimate-only phases)",
        "estimated_rto_s": f"{ex['to']}'s estimated RTO at {ex['level']} (catalog only)",
    }
    totals = [[label, _seconds(rto.get(key))] for key, label in labels.items()]
    rows = [
        [
            r["name"],
            _seconds(r["end_s"] - r["start_s"]),
            str(r["sent"]),
            str(r["failed"]),
            ", ".join(f"{n} {k}" for k, n in r["errors"].items()) or "-",
            format_ms(r["p50_ms"]),
            format_ms(r["p99_ms"]),
            served(r.get("share")),
        ]
        for r in ex["phases"]
    ]
    return [
        ("Phases: measured | estimated (seconds from the kill)",
         ["phase", "measured", "estimated", "basis", "flag"], phases),
        ("RTO", ["", "seconds"], totals),
        ("Load", ["rows", "duration", "sent", "failed", "errors", "p50", "p99", "served by"],
         rows),
        ("Scaling", ["what", "value"], scaling(ex["measured"].get("scale") or {})),
        ("Flags (measured more than ±50 % off the catalog figure scaled to the model size)",
         ["flag"], [[f] for f in rto["flags"]]),
    ]  # fmt: skip


def served(share: Mapping[str, float] | None) -> str:
    """Who answered a row's requests: each stack's share of the answers (review B3: the gap's
    answers came from another standby than the one drilled, and no table said so)."""
    parts = [f"{stack} {format_pct(part)}" for stack, part in sorted((share or {}).items()) if part]
    return ", ".join(parts) or "-"


# The standby's scaling step, as `ScalableTarget.scale` measures it: a label with its unit
# (review U5: the table was the raw dict, `download_bytes 3981.0`, `began_s 0.019`).
SCALING = {
    "started": ("Tritons started", lambda v: f"{v:g}"),
    "download_bytes": ("model downloaded", format_bytes),
    "download": ("download", format_secs),
    "start": ("Triton start", format_secs),
    "load": ("model load", format_secs),
    "began_s": ("began (after the kill)", format_secs),
    "ended_s": ("ended (after the kill)", format_secs),
}


def scaling(scale: Mapping[str, Any]) -> list[list[str]]:
    """The Scaling table's rows: known measurements labelled with units, others as they are."""
    rows = []
    for key, value in scale.items():
        label, show = SCALING.get(key, (key, str))
        rows.append([label, "-" if value is None else show(value)])
    return rows


def write_report(journal: Mapping[str, Any], out_dir: Path) -> tuple[Path, Path]:
    """report.md and report.html of a failover drill's journal into `out_dir`."""
    ex = journal["exitplan"]
    passed = bool(ex["verdict"]["passed"])
    parts = [ex["verdict"]["summary"]]
    heading = f"Failover {ex['from']} -> {ex['to']} ({ex['level']}, router {ex['router']})"
    meta = (
        f"{journal['start']} · target {ex['target']} · {ex['rate']:g} req/s · model "
        f"{ex['model']} · the sandbox's front door stands in for the DNS router; estimates "
        "come from components/catalog/data/rto_figures.csv"
    )
    kill = ex["measured"].get("killed_at_s")
    marks = [(kill, "kill")] if kill is not None else []
    plots = timeline_plots(ex.get("timeline") or [], stacks_served(ex, ex["phases"]), marks=marks)
    md = markdown_page(passed, parts, heading, meta, tables(journal))
    html = html_page(passed, parts, heading, meta, plots, tables(journal))
    return write_pages(md, html, out_dir)
