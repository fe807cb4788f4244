"""The inventory readiness as one self-contained HTML page (runbooks/reports/kit.py): the plot of
RTO target against achievable RTO per service (inline SVG, log scale: targets run from seconds
to days), then a readiness table per service."""

from __future__ import annotations

import math
from html import escape

from runbooks.rehearsal.inventory import format_duration
from runbooks.rehearsal.readiness import Readiness
from runbooks.reports.kit import Table, html_page

TICKS_S = (10, 60, 600, 3600, 4 * 3600, 86400, 7 * 86400)
SHOWN = {"pass": "pass", "fail": "FAIL", "n/a": "n/a"}  # kit.html_page marks pass and FAIL
TARGET_FILL, MET_FILL, MISSED_FILL = "#9aa0a6", "#1e8e3e", "#d93025"


def svg_rto_bars(services: list[Readiness], width: int = 900) -> str:
    """Per service, two horizontal bars on a log time axis: its `rto` target (grey) and the
    achievable RTO of the failover judged (green when within the target, red when not;
    "none" when it has no failover or no known RTO); the basis (measured, estimate) labelled."""
    left, right, top, row_h = 150, 150, 44, 34
    height = top + row_h * len(services) + 40
    values = [s.row.rto_s for s in services]
    values += [s.failover.rto_s for s in services if s.failover and s.failover.rto_s]
    lo = min([*values, 60.0]) / 2
    hi = max([*values, 3600.0]) * 1.5
    x0, x1 = left, width - right

    def sx(seconds: float) -> float:
        return x0 + (math.log10(max(seconds, lo)) - math.log10(lo)) / math.log10(hi / lo) * (
            x1 - x0
        )

    title = "RTO target vs achievable RTO per service"
    out = [
        f'<svg viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
        f'aria-label="{title}"><title>{title}</title>',
        f'<text x="{x0}" y="18" font-size="14" font-weight="600">{title}</text>',
        f'<rect x="{x0}" y="26" width="12" height="8" fill="{TARGET_FILL}"/>'
        f'<text x="{x0 + 16}" y="34" font-size="11">rto target</text>'
        f'<rect x="{x0 + 90}" y="26" width="12" height="8" fill="{MET_FILL}"/>'
        f'<text x="{x0 + 106}" y="34" font-size="11">achievable, within</text>'
        f'<rect x="{x0 + 220}" y="26" width="12" height="8" fill="{MISSED_FILL}"/>'
        f'<text x="{x0 + 236}" y="34" font-size="11">achievable, missed</text>',
    ]
    bottom = top + row_h * len(services)
    for tick in (t for t in TICKS_S if lo <= t <= hi):
        x = sx(tick)
        out.append(
            f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{top}" y2="{bottom}" stroke="#ddd"/>'
            f'<text x="{x:.1f}" y="{bottom + 16}" font-size="11" text-anchor="middle">'
            f"{format_duration(tick)}</text>"
        )
    for i, service in enumerate(services):
        y = top + i * row_h
        target, failover = service.row.rto_s, service.failover
        out.append(
            f'<text x="{x0 - 8}" y="{y + 18}" font-size="12" text-anchor="end">'
            f"{escape(service.row.service)}</text>"
            f'<rect class="target" x="{x0}" y="{y + 4}" width="{sx(target) - x0:.1f}" height="11" '
            f'fill="{TARGET_FILL}"><title>rto {format_duration(target)}</title></rect>'
        )
        if failover is None or failover.rto_s is None:
            out.append(f'<text x="{x0 + 4}" y="{y + 28}" font-size="10">none</text>')
            continue
        fill = MET_FILL if failover.rto_s <= target else MISSED_FILL
        label = f"{failover.stack}: {failover.rto_text}"
        end = sx(failover.rto_s)
        out.append(
            f'<rect class="achievable" x="{x0}" y="{y + 17}" width="{end - x0:.1f}" height="11" '
            f'fill="{fill}"><title>{escape(label)}</title></rect>'
            f'<text x="{end + 4:.1f}" y="{y + 27}" font-size="10">{escape(label)}</text>'
        )
    out.append(
        f'<line x1="{x0}" x2="{x1}" y1="{bottom}" y2="{bottom}" stroke="#555"/>'
        f'<text x="{(x0 + x1) / 2:.0f}" y="{height - 4}" font-size="11" text-anchor="middle">'
        "time to recover (log scale)</text></svg>"
    )
    return "\n".join(out)


def readiness_html(services: list[Readiness], score: float | None, source: str) -> str:
    """The page: verdict (FAILED when a critical rule fails), the plot, a table per service."""
    critical = [f for s in services for f in s.critical_failures]
    shown = "-" if score is None else f"{score:.0%}"
    parts = [f"score {shown}", f"{len(critical)} critical rule(s) failed", source]
    tables: list[Table] = []
    for s in services:
        rows = [
            [f.rule, f.severity, SHOWN[f.status], f.evidence, f.fix if f.status == "fail" else ""]
            for f in s.findings
        ]
        score_text = "-" if s.score is None else f"{s.score:.0%}"
        heading = f"{s.row.service} ({s.row.criticality}, owner {s.row.owner}): {score_text}"
        tables.append((heading, ["rule", "severity", "status", "evidence", "fix"], rows))
    return html_page(
        not critical,
        parts,
        "Exit readiness",
        f"{len(services)} services from {source}",
        [svg_rto_bars(services)],
        tables,
        plots_title="RTO",
    )
