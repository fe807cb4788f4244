"""The report of an exit-plan drill, rendered from its journal as Markdown and as one
self-contained HTML page (the kit in `kit.py`: inline CSS, plots as inline SVG)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from runbooks.reports.kit import (
    Table,
    exitplan_of,
    format_ms,
    format_pct,
    format_secs,
    html_page,
    markdown_page,
    money,
    num,
    parse_time,
    stacks_served,
    timeline_plots,
    write_pages,
)

PHASE_HEADERS = ["phase", "duration", "sent", "failed", "error rate", "p50", "p99"]

GATE_HEADERS = [
    "% on target", "result", "error rate", "p99", "SLO p99", "baseline p99", "reason", "phase",
    "share on target",
]  # fmt: skip


def _totals(journal: Mapping[str, Any]) -> tuple[int, int]:
    """Scheduled (sent) and failed requests over the whole drill: the load's accounting, else
    the phases' rows (transitions included), else the timeline."""
    ex = exitplan_of(journal)
    if ex.get("load"):
        return int(ex["load"]["scheduled"]), int(ex["load"]["failed"])
    rows = ex.get("phases") or ex.get("timeline") or []
    return sum(int(r.get("sent", 0)) for r in rows), sum(int(r.get("failed", 0)) for r in rows)


def _verdict(journal: Mapping[str, Any]) -> tuple[bool, list[str]]:
    """Whether the drill passed, and the parts of its one-line verdict (plain text)."""
    ex = exitplan_of(journal)
    verdict = ex.get("verdict") or {}
    passed = bool(verdict.get("passed")) and journal.get("status", "completed") == "completed"
    parts = [f"{ex.get('from', '?')} -> {ex.get('to', '?')}"]
    measured, target = ex.get("rto_measured_s"), ex.get("rto_target_s")
    rto = "RTO not measured" if measured is None else f"RTO {format_secs(measured)}"
    cutover = ex.get("cutover")
    if cutover:  # so that nobody takes the configured holds for a recovery time
        rto += (
            f" ({format_secs(cutover['holds_s'])} configured holds + "
            f"{format_secs(cutover['overhead_s'])} measured overhead)"
        )
    if target is not None:
        met = measured is not None and measured <= target
        rto += f" vs target {format_secs(target)} ({'met' if met else 'missed'})"
    if ex.get("rto_estimate_s") is not None:
        rto += f", standby estimate {format_secs(ex['rto_estimate_s'])}"
    parts.append(rto)
    sent, failed = _totals(journal)
    counted = f"{failed:,} / {sent:,} requests failed ({format_pct(failed / sent if sent else 0)})"
    load = ex.get("load")
    if load:
        counted += f", {load['wrong_answers']:,} wrong answers, {load['lost']:,} lost"
    parts.append(counted)
    gates = ex.get("gates") or []
    parts.append(f"gates {sum(1 for g in gates if g.get('passed'))}/{len(gates)} passed")
    failing = next((g for g in gates if not g.get("passed")), None)
    if failing is not None:
        parts.append(f"gate at {num(failing.get('step', 0))}% failed: {failing.get('reason', '')}")
    if journal.get("status", "completed") != "completed":
        parts.append(f"run {journal.get('status')}")
    if verdict.get("summary"):
        parts.append(str(verdict["summary"]))
    return passed, parts


def _activities(journal: Mapping[str, Any]) -> list[list[str]]:
    t0, rows = parse_time(journal.get("start")), []
    for kind in ("run", "rollbacks"):
        for item in journal.get(kind) or []:
            act = item.get("activity") or {}
            start, end = parse_time(item.get("start")), parse_time(item.get("end"))
            at = (
                f"+{format_secs((start - t0).total_seconds())}"
                if start and t0
                else item.get("start")
            )
            took = format_secs((end - start).total_seconds()) if start and end else "-"
            kind_s = "rollback" if kind == "rollbacks" else act.get("type", "-")
            rows.append([kind_s, act.get("name", "?"), item.get("status", "-"), str(at), took])
    return rows


def _tables(journal: Mapping[str, Any]) -> list[Table]:
    """Every table of the report as plain strings, shared by both formats."""
    ex = exitplan_of(journal)
    phases = ex.get("phases") or []
    stacks = stacks_served(ex, phases)
    phase_rows = [
        [
            str(p.get("name", "?")) + (" (transition)" if p.get("kind") == "transition" else ""),
            format_secs(p.get("end_s", 0) - p.get("start_s", 0)),
            f"{p.get('sent', 0):,}",
            f"{p.get('failed', 0):,}",
            format_pct(p.get("failed", 0) / p["sent"]) if p.get("sent") else "-",
            format_ms(p.get("p50_ms")),
            format_ms(p.get("p99_ms")),
            *[format_pct((p.get("share") or {}).get(s, 0.0)) for s in stacks],
        ]
        for p in phases
    ]
    gate_rows = [
        [
            f"{num(g.get('step', 0))}%",
            "pass" if g.get("passed") else "FAIL",
            format_pct(g.get("error_rate")),
            format_ms(g.get("p99_ms")),
            format_ms(g.get("slo_p99_ms")),
            format_ms(g.get("baseline_p99_ms")),
            str(g.get("reason", "")),
            str(g.get("phase", "-")),
            _share_on(g, ex.get("to")),
        ]
        for g in ex.get("gates") or []
    ]
    restored = {True: "yes", False: "no", None: "-"}
    change_rows = [
        [str(c.get("what", "")), str(c.get("detail", "")), restored.get(c.get("restored"), "-")]
        for c in ex.get("changes") or []
    ]
    rpo = ex.get("rpo") or {}
    same = rpo.get("from_digest") is not None and rpo.get("from_digest") == rpo.get("to_digest")
    lag = 0 if same else rpo.get("lag_versions")
    rpo_rows = [
        ["RPO", "0 (digests equal)" if same else f"{lag} version(s) behind" if rpo else "-"],
        [f"digest on {ex.get('from', 'from')}", str(rpo.get("from_digest", "-"))],
        [f"digest on {ex.get('to', 'to')}", str(rpo.get("to_digest", "-"))],
    ]
    if "store_lag_s" in rpo:
        lag = rpo["store_lag_s"]
        rpo_rows.append(
            [
                "store lag (newest object on --to vs --from)",
                format_secs(lag) if lag is not None else f"not measured: {rpo.get('store_unread')}",
            ]
        )
    tables: list[Table] = [
        ("Phases", [*PHASE_HEADERS, *[f"share {s}" for s in stacks]], phase_rows),
        ("Gates", GATE_HEADERS, gate_rows),
        ("Changes", ["what", "detail", "restored"], change_rows),
        ("Recovery point", ["measure", "value"], rpo_rows),
    ]
    tables += _accounting(ex)
    cost = ex.get("cost_per_hour") or {}
    before, after = cost.get("before"), cost.get("after")
    if before is not None or after is not None:
        delta = "-" if before is None or after is None else money(after - before)
        rows = [["before", money(before)], ["after", money(after)], ["change", delta]]
        # what is priced: the GPU node pool at its minimum, not the whole stack (review U10)
        title = "Cost per hour of the GPU node pool (min nodes; the stack's other resources: "
        title += "exitplan cost)"
        tables.append((title, ["when", "cost"], rows))
    tables.append(
        ("Activity log", ["kind", "activity", "status", "start", "took"], _activities(journal))
    )
    return tables


def _share_on(gate: Mapping[str, Any], stack: str | None) -> str:
    """A gate's measured share on the destination, or why there is none."""
    if "share" not in gate:
        return "-"
    share = gate["share"]
    return "unmeasurable" if share is None else format_pct(share.get(stack or "", 0.0))


def _accounting(ex: Mapping[str, Any]) -> list[Table]:
    """The cutover's time split and the load's accounting, where the journal has them."""
    tables: list[Table] = []
    cutover = ex.get("cutover")
    if cutover:
        rows = [
            ["first weight change to cutover gate passed", format_secs(cutover["measured_s"])],
            ["of which configured canary holds", format_secs(cutover["holds_s"])],
            ["of which measured overhead", format_secs(cutover["overhead_s"])],
        ]
        tables.append(("Cutover time", ["measure", "value"], rows))
    load = ex.get("load")
    if load:
        rows = [
            ["scheduled", f"{load['scheduled']:,}"],
            ["accounted in the rows above", f"{load['accounted']:,}"],
            ["failed", f"{load['failed']:,}"],
            ["wrong answers", f"{load['wrong_answers']:,}"],
            ["lost (no outcome)", f"{load['lost']:,}"],
            ["generator lag p50 / p99 / max", " / ".join(
                format_ms(load[k]) for k in ("lag_p50_ms", "lag_p99_ms", "lag_max_ms")
            )],
            ["generator lag p99 limit", format_ms(load["max_lag_ms"])],
            ["answers checked against", str(load.get("reference") or "-")],
        ]  # fmt: skip
        tables.append(("Load accounting", ["measure", "value"], rows))
    return tables


def _meta(journal: Mapping[str, Any]) -> str:
    ex = exitplan_of(journal)
    rate = f"{ex['rate']:g} req/s" if ex.get("rate") is not None else "-"
    return (
        f"target {ex.get('target', '-')} · load {rate} · started {journal.get('start', '-')} · "
        f"duration {format_secs(journal.get('duration'))} · status {journal.get('status', '-')}"
        + (" · steady state deviated" if journal.get("deviated") else "")
    )


def render_markdown(journal: Mapping[str, Any]) -> str:
    """The drill report as Markdown: the verdict line first, then the tables."""
    passed, parts = _verdict(journal)
    heading = f"Exit-plan drill: {journal.get('title', 'untitled')}"
    return markdown_page(passed, parts, heading, _meta(journal), _tables(journal))


def _plots(ex: Mapping[str, Any]) -> list[str]:
    timeline = ex.get("timeline") or []
    bands = [(p["start_s"], p["end_s"], str(p.get("name", ""))) for p in ex.get("phases") or []]
    return timeline_plots(timeline, stacks_served(ex, timeline), bands)


def render_html(journal: Mapping[str, Any]) -> str:
    """The drill report as one self-contained HTML page: verdict, plots, tables."""
    passed, parts = _verdict(journal)
    heading = f"Exit-plan drill: {journal.get('title', 'untitled')}"
    return html_page(
        passed, parts, heading, _meta(journal), _plots(exitplan_of(journal)), _tables(journal)
    )


def write_report(journal: Mapping[str, Any], out_dir: Path) -> tuple[Path, Path]:
    """Write the drill's report.md and report.html into `out_dir`."""
    return write_pages(render_markdown(journal), render_html(journal), out_dir)
