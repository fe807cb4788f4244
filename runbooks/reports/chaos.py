"""The report of a chaos experiment, rendered from its journal (Chaos Toolkit's, with
exitplan's measurements) as Markdown and as one self-contained HTML page: the verdict, the
load's timeline with the fault marked, the sandbox's figures beside the production estimate,
the steady-state probes and every activity."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
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
    stacks_served,
    timeline_plots,
    write_pages,
)

X_LABEL = "seconds since the load started"


def _load_clock(ex: Mapping[str, Any], iso: str | None) -> float | None:
    if iso is None or ex.get("load_epoch") is None:
        return None
    return round(datetime.fromisoformat(iso).timestamp() - float(ex["load_epoch"]), 3)


def _secs(value: float | None) -> str:
    """Seconds with the precision a detection time needs (sub-second figures matter here)."""
    return format_secs(value) if value is None or value >= 10 else f"{value:.2f} s"


def _failed(journal: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [r for r in exitplan_of(journal).get("activities") or [] if r.get("status") == "failed"]


def _claims(journal: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return list(exitplan_of(journal).get("claims") or [])


def uncounted(journal: Mapping[str, Any]) -> list[str]:
    """Why the load's requests fail the run however the experiment went: wrong answers,
    requests lost (scheduled, never recorded), or windows that do not add up to the schedule."""
    load = exitplan_of(journal).get("load") or {}
    reasons = []
    if load.get("wrong_answers"):
        reasons.append(f"{load['wrong_answers']:,} wrong answers")
    if load.get("lost"):
        reasons.append(f"{load['lost']:,} requests lost")
    if "scheduled" in load and load.get("accounted") != load["scheduled"]:
        reasons.append(f"{load['accounted']:,} requests accounted of {load['scheduled']:,}")
    return reasons


def _passed(journal: Mapping[str, Any]) -> bool:
    completed = journal.get("status") == "completed" and not journal.get("deviated")
    missed = [c for c in _claims(journal) if not c.get("met")]
    return completed and not _failed(journal) and not missed and not uncounted(journal)


def _verdict(journal: Mapping[str, Any]) -> list[str]:
    """The parts of the one-line verdict (plain text)."""
    ex = exitplan_of(journal)
    parts = [f"status {journal.get('status', '?')}"]
    missed = [c for c in _claims(journal) if not c.get("met")]
    parts += [
        f"claim {c['name']} not met: "
        + (c.get("why") or f"{_short(c.get('output'))} outside {_short(c.get('tolerance'))}")
        for c in missed
    ]
    if journal.get("deviated") and not missed:
        parts.append("steady state deviated")
    parts += uncounted(journal)
    parts += [f"{r['phase']} {r['name']} failed: {r.get('error', '')}" for r in _failed(journal)]
    fault = ex.get("fault")
    if fault:
        down = fault.get("marked_down_s")
        parts.append(
            f"{fault['func']} {fault['stack']}: "
            + (f"marked down after {_secs(down)}" if down is not None else "not marked down")
            + f", {fault['failed']:,} of {fault['sent']:,} requests failed while faulted"
            + f", p99 {format_ms(fault.get('p99_ms'))}"
        )
    if "revoke_to_recovered_s" in ex:
        recovered = ex["revoke_to_recovered_s"]
        text = "revoke -> not recovered"
        if recovered is not None:
            text = f"revoke -> recovered {format_secs(recovered)}"
        if ex.get("rto_target_s"):
            met = "met" if ex.get("rto_met") else "missed"
            text += f" vs RTO {format_secs(ex['rto_target_s'])} ({met})"
        parts.append(text)
    load = ex.get("load")
    if load:
        rate = load["failed"] / load["sent"] if load["sent"] else 0.0
        parts.append(
            f"{load['failed']:,} / {load['sent']:,} requests failed overall ({format_pct(rate)})"
        )
    estimate = ex.get("production_estimate")
    if estimate and estimate.get("clients_moved_s") is not None:
        parts.append(
            f"in production: ~{format_secs(estimate['clients_moved_s'])} before clients move "
            f"({estimate['router']} health checks + TTL)"
        )
    return parts


def _marked_down(fault: Mapping[str, Any]) -> str:
    """The detection time, with how finely the rotation watch read it (the longest time
    without a successful read before the change) and its failed reads, when it had any."""
    text = _secs(fault.get("marked_down_s"))
    within = fault.get("marked_down_within_s")
    if within is not None:
        failed = fault.get("rotation_reads_failed") or 0
        text += f" (to within {_secs(within)}" + (f"; {failed} reads failed)" if failed else ")")
    return text


def _fault_table(ex: Mapping[str, Any]) -> Table | None:
    """The sandbox's measured figures beside the real router's estimate."""
    fault, estimate = ex.get("fault"), ex.get("production_estimate") or {}
    if not fault:
        return None
    gap = estimate.get("gap")
    if not estimate:
        marked, moved = "no router routes this stack", "-"
    elif gap:
        marked, moved = f"no health checks: {gap}", "-"
    else:
        marked = (
            f"{format_secs(estimate['detection_s'])} ({estimate['health_check_interval_s']:g} s"
            f" x {estimate['failure_threshold']} checks, {estimate['router']})"
        )
        moved = (
            f"{format_secs(estimate['clients_moved_s'])} (+ TTL {estimate['ttl_s']:g} s; "
            "longer where resolvers or clients cache past it)"
        )
    error_free = fault.get("first_error_free_second_s")
    rows = [
        ["fault", f"{fault['func']} {fault['stack']} for {_secs(fault['window_s'])}", "-"],
        ["marked down after", _marked_down(fault), marked],
        ["back in rotation after", _secs(fault.get("back_in_rotation_s")), "-"],
        [
            "clients served error-free after",
            "never within the fault" if error_free is None else _secs(error_free),
            moved,
        ],
        [
            "last answer from the faulted stack",
            "none after the fault"
            if fault.get("last_answer_from_faulted_s") is None
            else _secs(fault["last_answer_from_faulted_s"]),
            "-",
        ],
        ["requests failed while faulted", f"{fault['failed']:,} / {fault['sent']:,}", "-"],
        ["p99 while faulted", format_ms(fault.get("p99_ms")), "-"],
    ]
    return "Fault: the sandbox measured, production estimated", [
        "measure", "sandbox (measured)", "behind the real router (estimated)"], rows  # fmt: skip


def _recovery_table(ex: Mapping[str, Any]) -> Table | None:
    if "revoke_to_recovered_s" not in ex:
        return None
    met = {True: "met", False: "missed", None: "-"}[ex.get("rto_met")]
    recovered = ex["revoke_to_recovered_s"]
    rows = [
        ["revoke -> recovered", "not recovered" if recovered is None else format_secs(recovered)],
        ["RTO target", format_secs(ex.get("rto_target_s"))],
        ["RTO", met],
    ]
    return "Credential recovery", ["measure", "value"], rows


def _short(value: Any, limit: int = 80) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _steady_table(journal: Mapping[str, Any]) -> Table:
    rows = []
    for when in ("before", "after"):
        for probe in ((journal.get("steady_states") or {}).get(when) or {}).get("probes") or []:
            met = probe.get("tolerance_met")
            rows.append(
                [
                    when,
                    str((probe.get("activity") or {}).get("name", "?")),
                    {True: "met", False: "missed", None: "-"}[met],
                    _short(probe.get("output")),
                ]
            )
    return "Steady-state hypothesis", ["when", "probe", "tolerance", "output"], rows


def _claims_table(journal: Mapping[str, Any]) -> Table | None:
    """Every claim of the method: its tolerance, what the activity returned, met or not."""
    rows = [
        [
            str(c.get("name", "?")),
            _short(c.get("tolerance")),
            _short(c.get("why") or c.get("output")),
            "met" if c.get("met") else "NOT met",
        ]
        for c in _claims(journal)
    ]
    return ("Claims", ["claim", "tolerance", "output", "verdict"], rows) if rows else None


def _activity_table(ex: Mapping[str, Any]) -> Table:
    rows = []
    for row in ex.get("activities") or []:
        requests = row.get("requests") or {}
        rows.append(
            [
                str(row.get("phase", "method")),
                str(row.get("name", "?")),
                str(row.get("status", "-")),
                format_secs(row.get("start_s")),
                format_secs(row.get("duration_s")),
                f"{requests.get('sent', 0):,}",
                f"{requests.get('failed', 0):,}",
                _short(row["error"] if "error" in row else row.get("output")),
            ]
        )
    headers = ["phase", "activity", "status", "start", "took", "sent", "failed", "output"]
    return "Activities", headers, rows


def _tables(journal: Mapping[str, Any]) -> list[Table]:
    ex = exitplan_of(journal)
    optional = [_claims_table(journal), _fault_table(ex), _recovery_table(ex)]
    return [*(t for t in optional if t), _steady_table(journal), _activity_table(ex)]


def _marks(ex: Mapping[str, Any]) -> list[tuple[float, str]]:
    """The fault, its detection and its end; the revocation and the recovery."""
    marks: list[tuple[float, str]] = []
    fault = ex.get("fault")
    if fault:
        marks.append((fault["start_s"], f"{fault['func']} {fault['stack']}"))
        if fault.get("marked_down_s") is not None:
            marks.append((fault["start_s"] + fault["marked_down_s"], "marked down"))
        marks.append((fault["end_s"], "fault undone"))
        if fault.get("back_in_rotation_s") is not None:
            marks.append((fault["start_s"] + fault["back_in_rotation_s"], "back in rotation"))
    for key, label in (("revoked_at", "revoked"), ("recovered_at", "recovered")):
        at = _load_clock(ex, ex.get(key))
        if at is not None:
            marks.append((at, label))
    return marks


def _plots(ex: Mapping[str, Any]) -> list[str]:
    timeline = ex.get("timeline") or []
    bands = [
        (row["start_s"], row["end_s"], str(row.get("name", "")))
        for row in ex.get("activities") or []
        if row.get("phase", "method") == "method" and "start_s" in row
    ]
    return timeline_plots(timeline, stacks_served(ex, timeline), bands, _marks(ex), X_LABEL)


def _meta(journal: Mapping[str, Any]) -> str:
    ex = exitplan_of(journal)
    rate = (ex.get("load") or {}).get("rate")
    return (
        f"target {ex.get('target', '-')} · load {'-' if rate is None else f'{rate:g} req/s'}"
        f" · started {journal.get('start', '-')} · duration "
        f"{format_secs(journal.get('duration'))} · status {journal.get('status', '-')}"
    )


def _heading(journal: Mapping[str, Any]) -> str:
    title = (journal.get("experiment") or {}).get("title", "untitled")
    return f"Chaos experiment: {title}"


def render_markdown(journal: Mapping[str, Any]) -> str:
    """The experiment's report as Markdown."""
    return markdown_page(
        _passed(journal), _verdict(journal), _heading(journal), _meta(journal), _tables(journal)
    )


def render_html(journal: Mapping[str, Any]) -> str:
    """The experiment's report as one self-contained HTML page, with the timeline plots."""
    return html_page(
        _passed(journal),
        _verdict(journal),
        _heading(journal),
        _meta(journal),
        _plots(exitplan_of(journal)),
        _tables(journal),
    )


def describe_estimate(estimate: Mapping[str, Any]) -> str:
    """One line: the production figure to set beside the sandbox's measured detection."""
    where = f"behind the real router ({estimate['router']} DNS, {estimate['zone']})"
    if estimate["detection_s"] is None:
        return f"  {where}: no health checks ({estimate['gap']})"
    return (
        f"  {where}: health checks {estimate['health_check_interval_s']} s x "
        f"{estimate['failure_threshold']} = {estimate['detection_s']} s to mark it down, "
        f"+ TTL {estimate['ttl_s']} s = {estimate['clients_moved_s']} s before clients move "
        "(longer where resolvers or clients cache past the TTL)"
    )


def summary_lines(journal: Mapping[str, Any]) -> list[str]:
    """The run in a few terminal lines: PASSED/FAILED and the title, the verdict's parts, and
    the production estimate spelled out."""
    lines = [f"{'PASSED' if _passed(journal) else 'FAILED'}  {_heading(journal)}"]
    lines += [f"  {part}" for part in _verdict(journal)]
    estimate = exitplan_of(journal).get("production_estimate")
    if estimate:
        lines.append(describe_estimate(estimate))
    return lines


def write_report(journal: Mapping[str, Any], out_dir: Path) -> tuple[Path, Path]:
    """Write report.md and report.html for the experiment into `out_dir`."""
    return write_pages(render_markdown(journal), render_html(journal), out_dir)
