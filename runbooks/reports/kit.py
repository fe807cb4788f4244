"""The page and plot kit every report shares: number formats, one SVG line chart (phase bands,
fault marks), the three timeline plots of a load, and a report as Markdown or as one
self-contained HTML page (inline CSS and SVG, no network fetches), written atomically."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import datetime
from html import escape
from pathlib import Path
from typing import Any

from runbooks.reports.files import write_atomic

PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#17becf")

BAND_FILLS = ("#4e79a7", "#f28e2b", "#59a14f", "#b07aa1", "#76b7b2", "#edc948", "#e15759")

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;color:#222;
 max-width:1000px;margin:24px auto;padding:0 16px;line-height:1.4}.meta{color:#555;font-size:.92em}
.verdict{padding:14px 18px;border-radius:6px;font-size:1.05em;margin-bottom:8px}
.pass{background:#e6f4ea;border-left:8px solid #1e8e3e}.verdict strong{font-size:1.3em}
.fail{background:#fce8e6;border-left:8px solid #d93025}h1{font-size:1.4em;margin:18px 0 4px}
h2{font-size:1.15em;margin:28px 0 8px}figure{margin:12px 0}svg{max-width:100%;height:auto}
table{border-collapse:collapse;width:100%;font-size:.9em}th{background:#f3f3f3}
th,td{border:1px solid #ddd;padding:4px 8px;text-align:left;vertical-align:top}
tr:nth-child(even) td{background:#fafafa}td.num{text-align:right;font-variant-numeric:tabular-nums}
.ok{color:#1e8e3e;font-weight:600}.bad{color:#d93025;font-weight:600}code{word-break:break-all}
"""

Table = tuple[str, list[str], list[list[str]]]  # heading, headers, rows


def num(v: float) -> str:
    """A number without a needless `.0`."""
    return str(int(v)) if float(v).is_integer() else f"{v:g}"


def format_ms(v: float | None) -> str:
    """Milliseconds, two decimals below 10 ms."""
    return "-" if v is None else f"{v:.2f} ms" if abs(v) < 10 else f"{v:.1f} ms"


def format_pct(v: float | None) -> str:
    """A share as a percentage (two decimals when small but not zero)."""
    return "-" if v is None else f"{v * 100:.2f}%" if 0 < abs(v) < 0.01 else f"{v * 100:.1f}%"


def format_bytes(n: float) -> str:
    """A size: B, KiB, MiB or GiB, three significant digits."""
    for unit, size in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if n >= size:
            return f"{n / size:.3g} {unit}"
    return f"{n:.0f} B"


def format_secs(v: float | None) -> str:
    """Seconds; from two minutes on whole seconds with minutes beside them, one format for
    every figure (review U10: the same RTO read `635 s`, `10m 35.0s` and `90.0 s`)."""
    if v is None:
        return "-"
    return f"{v:.1f} s" if v < 120 else f"{v:.0f} s ({int(v // 60)}m {v % 60:02.0f}s)"


def money(v: float | None) -> str:
    """US dollars an hour."""
    return "-" if v is None else f"{'-' if v < 0 else ''}${abs(v):,.2f}/h"


def parse_time(value: Any) -> datetime | None:
    """An ISO 8601 time of a journal, or None."""
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None


def exitplan_of(journal: Mapping[str, Any]) -> Mapping[str, Any]:
    """The journal's `exitplan` section (exitplan's measurements), empty when absent."""
    return journal.get("exitplan") or {}


def stacks_served(ex: Mapping[str, Any], rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """The stacks a report shows: the journal's `from` and `to`, then every stack that served a
    share of some row (a phase or a timeline bucket), in order of first appearance."""
    names = [str(ex[k]) for k in ("from", "to") if ex.get(k)]
    for row in rows:
        names += [str(s) for s in row.get("share") or {} if str(s) not in names]
    return names


def md_cell(text: str) -> str:
    """Text safe in one Markdown table cell."""
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def markdown_page(passed: bool, parts: Sequence[str], heading: str, meta: str,
                  tables: Sequence[Table]) -> str:  # fmt: skip
    """A report as Markdown: the verdict line, the heading, the meta line, then the tables."""
    lines = [f"**{'PASSED' if passed else 'FAILED'}** · " + " · ".join(map(md_cell, parts)), ""]
    lines += [f"# {md_cell(heading)}", ""]
    lines += [md_cell(meta), "", "Plots: see report.html.", ""]
    for title, headers, rows in tables:
        lines += [f"## {title}", ""]
        if not rows:
            lines += ["None recorded.", ""]
            continue
        lines.append("| " + " | ".join(map(md_cell, headers)) + " |")
        lines.append("|" + "|".join("---" for _ in headers) + "|")
        lines += ["| " + " | ".join(map(md_cell, row)) + " |" for row in rows]
        lines.append("")
    return "\n".join(lines)


def nice_axis(top: float) -> tuple[float, float]:
    """A round axis maximum at or above `top`, and its tick step (about five ticks)."""
    if top <= 0:
        return 1.0, 0.2
    raw = top / 5
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    return math.ceil(top / step - 1e-9) * step, step


LABEL_CHAR_PX = 6.0  # a 10 px label's glyphs are narrower than this on average
LABEL_GAP_PX = 4.0


def label_lanes(labels: Sequence[tuple[float, str]], right: float) -> list[tuple[float, str, int]]:
    """Where each label of a vertical line at x goes: (text x, text-anchor, lane). A label
    starts just right of its line, or ends just left of it where it would pass `right`; it
    takes the first lane (row) where it clears the label before it, so none overlaps another
    and none is clipped (review U11: "to canary 1%" over "canary 1%", "load en" cut off, a
    chaos run's five method labels in one unreadable block)."""
    placed: list[tuple[float, str, int]] = [(0.0, "start", 0)] * len(labels)
    ends: list[float] = []  # per lane: where its last label ends
    for i in sorted(range(len(labels)), key=lambda i: labels[i][0]):
        x, text = labels[i]
        width = LABEL_CHAR_PX * len(text)
        if x + 3 + width > right:
            tx, anchor, start, end = x - 3, "end", x - 3 - width, x - 3
        else:
            tx, anchor, start, end = x + 3, "start", x + 3, x + 3 + width
        lane = next((n for n, e in enumerate(ends) if start >= e + LABEL_GAP_PX), len(ends))
        if lane == len(ends):
            ends.append(end)
        else:
            ends[lane] = end
        placed[i] = (tx, anchor, lane)
    return placed


def svg_line_chart(
    series: Mapping[str, Sequence[tuple[float, float]]],
    *,
    title: str,
    y_label: str,
    bands: Sequence[tuple[float, float, str]] = (),
    marks: Sequence[tuple[float, str]] = (),
    x_label: str = "seconds since drill start",
    width: int = 900,
    height: int = 260,
) -> str:
    """An inline SVG line chart: labelled phase bands behind the lines, red vertical marks
    (a fault, a recovery) over them, axes, ticks, legend."""
    left, right, top, bottom = 64, 16, 52, 42
    x0, x1, y0, y1 = left, width - right, top, height - bottom
    xs = [x for pts in series.values() for x, _ in pts] + [v for b in bands for v in b[:2]]
    xs += [x for x, _ in marks]
    lo, hi = (min(xs), max(xs)) if xs else (0.0, 1.0)
    hi = hi if hi > lo else lo + 1
    y_top, y_step = nice_axis(max((y for pts in series.values() for _, y in pts), default=0.0))

    def sx(x: float) -> float:
        return x0 + (x - lo) / (hi - lo) * (x1 - x0)

    def sy(y: float) -> float:
        return y1 - y / y_top * (y1 - y0)

    out = [
        f'<svg viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img" aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
        f'<text x="{x0}" y="18" font-size="14" font-weight="600">{escape(title)}</text>',
    ]
    band_labels = label_lanes([(sx(start), name) for start, _, name in bands], x1)
    for i, (start, end, name) in enumerate(bands):
        bx = sx(start)
        tx, anchor, lane = band_labels[i]
        out.append(
            f'<rect class="band" x="{bx:.1f}" y="{y0}" width="{max(sx(end) - bx, 1):.1f}" '
            f'height="{y1 - y0}" fill="{BAND_FILLS[i % len(BAND_FILLS)]}" fill-opacity="0.13">'
            f"<title>{escape(name)}: {start:g}-{end:g} s</title></rect>"
            f'<text class="band-label" x="{tx:.1f}" y="{y0 + 11 + lane * 12}" '
            f'text-anchor="{anchor}" font-size="10" fill="#444">{escape(name)}</text>'
        )
    for k in range(round(y_top / y_step) + 1):
        v, y = k * y_step, sy(k * y_step)
        out.append(
            f'<line x1="{x0}" x2="{x1}" y1="{y:.1f}" y2="{y:.1f}" stroke="#ddd"/>'
            f'<text x="{x0 - 6}" y="{y + 4:.1f}" font-size="11" text-anchor="end">'
            f"{num(round(v, 6))}</text>"
        )
    x_step = nice_axis(hi - lo)[1]
    k = math.ceil(lo / x_step)
    while k * x_step <= hi + 1e-9:
        x = sx(k * x_step)
        out.append(
            f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{y1}" y2="{y1 + 5}" stroke="#555"/>'
            f'<text x="{x:.1f}" y="{y1 + 18}" font-size="11" text-anchor="middle">'
            f"{num(round(k * x_step, 6))}</text>"
        )
        k += 1
    out.append(
        f'<line x1="{x0}" x2="{x1}" y1="{y1}" y2="{y1}" stroke="#555"/>'
        f'<line x1="{x0}" x2="{x0}" y1="{y0}" y2="{y1}" stroke="#555"/>'
        f'<text x="{(x0 + x1) / 2:.0f}" y="{height - 6}" font-size="11" text-anchor="middle">'
        f"{escape(x_label)}</text>"
        f'<text transform="translate(14 {(y0 + y1) / 2:.0f}) rotate(-90)" font-size="11" '
        f'text-anchor="middle">{escape(y_label)}</text>'
    )
    mark_labels = label_lanes([(sx(x), label) for x, label in marks], x1)
    for i, (x, label) in enumerate(marks):
        mx = sx(x)
        tx, anchor, lane = mark_labels[i]
        out.append(
            f'<line class="mark" x1="{mx:.1f}" x2="{mx:.1f}" y1="{y0}" y2="{y1}" '
            f'stroke="#d93025" stroke-width="1.5" stroke-dasharray="5 3">'
            f"<title>{escape(label)} at {x:g} s</title></line>"
            f'<text class="mark-label" x="{tx:.1f}" y="{y1 - 6 - lane * 12}" '
            f'text-anchor="{anchor}" font-size="10" fill="#d93025">{escape(label)}</text>'
        )
    lx = x0
    for i, (name, pts) in enumerate(series.items()):
        color = PALETTE[i % len(PALETTE)]
        coords = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in pts)
        out.append(
            f'<polyline fill="none" stroke="{color}" stroke-width="1.6" points="{coords}"/>'
            f'<line x1="{lx}" x2="{lx + 18}" y1="34" y2="34" stroke="{color}" stroke-width="3"/>'
            f'<text x="{lx + 22}" y="38" font-size="12">{escape(name)}</text>'
        )
        lx += 40 + 7 * len(name)
    out.append("</svg>")
    return "\n".join(out)


def timeline_plots(
    timeline: Sequence[Mapping[str, Any]],
    stacks: Sequence[str],
    bands: Sequence[tuple[float, float, str]] = (),
    marks: Sequence[tuple[float, str]] = (),
    x_label: str = "seconds since drill start",
) -> list[str]:
    """The three plots of a load timeline (100 ms buckets): latency p50/p99, traffic share per
    stack, failed requests; each with the same bands and marks."""
    if not timeline:
        return []
    served = [b for b in timeline if b.get("sent")]
    latency = {
        "p50": [(b["t_s"], float(b.get("p50_ms", 0))) for b in served],
        "p99": [(b["t_s"], float(b.get("p99_ms", 0))) for b in served],
    }
    shares = {
        s: [(b["t_s"], 100 * float((b.get("share") or {}).get(s, 0.0))) for b in timeline]
        for s in stacks
    }
    errors = {"failed requests": [(b["t_s"], float(b.get("failed", 0))) for b in timeline]}
    common: dict[str, Any] = {"bands": bands, "marks": marks, "x_label": x_label}
    return [
        svg_line_chart(latency, title="Latency p50 / p99", y_label="ms", **common),
        svg_line_chart(shares, title="Traffic share per stack", y_label="%", **common),
        svg_line_chart(errors, title="Failed requests per 100 ms", y_label="requests", **common),
    ]


def svg_scatter(
    points: Sequence[tuple[str, float, float, bool]],
    *,
    title: str,
    x_label: str,
    y_label: str,
    width: int = 900,
    height: int = 360,
) -> str:
    """An inline SVG scatter of labelled points (name, x, y, highlighted): highlighted points
    (a Pareto front) in red, joined in x order by a step line; the others grey."""
    left, right, top, bottom = 64, 16, 40, 42
    x0, x1, y0, y1 = left, width - right, top, height - bottom
    x_top, x_step = nice_axis(max((x for _, x, _, _ in points), default=0.0))
    y_top, y_step = nice_axis(max((y for _, _, y, _ in points), default=0.0))

    def sx(x: float) -> float:
        return x0 + x / x_top * (x1 - x0)

    def sy(y: float) -> float:
        return y1 - y / y_top * (y1 - y0)

    out = [
        f'<svg viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
        f'aria-label="{escape(title)}"><title>{escape(title)}</title>',
        f'<text x="{x0}" y="18" font-size="14" font-weight="600">{escape(title)}</text>',
        f'<line x1="{x0}" x2="{x1}" y1="{y1}" y2="{y1}" stroke="#555"/>'
        f'<line x1="{x0}" x2="{x0}" y1="{y0}" y2="{y1}" stroke="#555"/>',
    ]
    for k in range(round(x_top / x_step) + 1):
        tick = num(round(k * x_step, 6))
        out.append(f'<text x="{sx(k * x_step):.1f}" y="{y1 + 16}" font-size="11" '
                   f'text-anchor="middle">{tick}</text>')  # fmt: skip
    for k in range(round(y_top / y_step) + 1):
        tick = num(round(k * y_step, 6))
        out.append(f'<text x="{x0 - 6}" y="{sy(k * y_step) + 4:.1f}" font-size="11" '
                   f'text-anchor="end">{tick}</text>')  # fmt: skip
    out.append(
        f'<text x="{(x0 + x1) / 2:.0f}" y="{height - 6}" font-size="11" text-anchor="middle">'
        f"{escape(x_label)}</text>"
        f'<text transform="translate(14 {(y0 + y1) / 2:.0f}) rotate(-90)" font-size="11" '
        f'text-anchor="middle">{escape(y_label)}</text>'
    )
    front = sorted((x, y) for _, x, y, hi in points if hi)
    if len(front) > 1:
        steps = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in front)
        out.append(f'<polyline class="front" fill="none" stroke="#d93025" points="{steps}"/>')
    for name, x, y, hi in points:
        color, label = "#d93025" if hi else "#888", escape(name)
        out.append(
            f'<circle class="{"front" if hi else "point"}" cx="{sx(x):.1f}" cy="{sy(y):.1f}" '
            f'r="{5 if hi else 4}" fill="{color}"><title>{label}: {x:g}, {y:g}</title></circle>'
        )
        if hi:
            out.append(
                f'<text x="{sx(x) + 7:.1f}" y="{sy(y) - 6:.1f}" font-size="10">{label}</text>'
            )
    out.append("</svg>")
    return "\n".join(out)


def html_page(passed: bool | None, parts: Sequence[str], heading: str, meta: str,
              plots: Sequence[str], tables: Sequence[Table],
              plots_title: str = "Timeline") -> str:  # fmt: skip
    """A report as one self-contained HTML page: verdict (none when `passed` is None: a report
    that judges nothing, a cost or a scorecard), heading, meta, plots, tables."""
    word = "PASSED" if passed else "FAILED" if passed is not None else "REPORT"
    verdict = (
        f'<div class="verdict {"pass" if passed else "fail"}"><strong>{word}</strong> '
        + " · ".join(escape(p) for p in parts)
        + "</div>"
    )
    body = [
        verdict if passed is not None else "",
        f"<h1>{escape(heading)}</h1>",
        f'<p class="meta">{escape(meta)}</p>',
    ]
    if plots:
        body.append(f"<h2>{escape(plots_title)}</h2>")
        body += [f"<figure>{svg}</figure>" for svg in plots]
    elif plots_title:
        missing = escape(plots_title.lower())
        body.append(f'<p class="meta">No {missing} recorded: plots skipped.</p>')
    marks = {"pass": "ok", "FAIL": "bad", "succeeded": "ok", "failed": "bad", "no": "bad"}
    marks |= {"met": "ok", "missed": "bad"}
    for title, headers, rows in tables:
        body.append(f"<h2>{escape(title)}</h2>")
        if not rows:
            body.append("<p>None recorded.</p>")
            continue
        body.append("<table><thead><tr>" + "".join(f"<th>{escape(h)}</th>" for h in headers))
        body.append("</tr></thead><tbody>")
        for row in rows:
            cells = []
            for i, cell in enumerate(row):
                head = cell.lstrip("-")[:1]
                numeric = i > 0 and head != "" and head in "0123456789+$"
                # a status word marks a value, never a row's label (review U10: the label
                # "failed" was red beside a count of 0)
                cls = "num" if numeric else marks.get(cell, "") if i else ""
                text = f"<code>{escape(cell)}</code>" if i and "digest" in row[0] else None
                cells.append(f'<td class="{cls}">' if cls else "<td>")
                cells.append(f"{text or escape(cell)}</td>")
            body.append("<tr>" + "".join(cells) + "</tr>")
        body.append("</tbody></table>")
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{word}: {escape(heading)}</title><style>{CSS}</style></head>\n<body>\n"
        + "\n".join(body)
        + "\n</body></html>\n"
    )


def write_pages(markdown: str, html: str, out_dir: Path) -> tuple[Path, Path]:
    """Write report.md and report.html into `out_dir` (each via a temp file and a rename)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    md, page = out_dir / "report.md", out_dir / "report.html"
    write_atomic(md, markdown)
    write_atomic(page, html)
    return md, page
