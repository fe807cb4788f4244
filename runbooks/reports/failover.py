"""The report of a failover drill (`exitplan drill failover`), from its journal: the measured
phases and the catalog's estimates side by side, the achievable RTO against the stack's
estimate, the flags, the load's rows; Markdown and one self-contained HTML page (`kit.py`)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from runbooks.reports.kit import (
    Table,
    format_ms,
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
        ]
        for r in ex["phases"]
    ]
    scale = ex["measured"].get("scale") or {}
    return [
        ("Phases: measured | estimated (seconds from the kill)",
         ["phase", "measured", "estimated", "basis", "flag"], phases),
        ("RTO", ["", "seconds"], totals),
        ("Load", ["rows", "duration", "sent", "failed", "errors", "p50", "p99"], rows),
        ("Scaling", ["what", "value"], [[k, str(v)] for k, v in scale.items()]),
        ("Flags (measured more than ±50 % off the catalog figure scaled to the model size)",
         ["flag"], [[f] for f in rto["flags"]]),
    ]  # fmt: skip


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
