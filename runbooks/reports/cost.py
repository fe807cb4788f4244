"""What `exitplan cost` and `exitplan cost tco` print: tables that fit 80 columns (long names
as numbered footnotes), the `--json` documents, and the self-contained HTML report with the
standby trade-off plot."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.markup import escape
from rich.table import Table

from components.cost.estimate import LevelCost
from components.cost.lines import Line, StackCost
from components.cost.profile import HOURS_PER_MONTH, Profile
from components.cost.tco import Exit
from runbooks import render
from runbooks.reports import kit
from runbooks.reports.files import write_atomic

SHORT_KIND = {
    "control-plane": "control",
    "load-balancer": "lb",
    "dns-health-check": "dns check",
    "nat-gateway": "nat",
    "public-ip": "ipv4",
    "kms-key": "key",
}
SHORT_UNIT = {
    "Hours": "h",
    "GB-Months": "GB-mo",
    "Health Check-Months": "check-mo",
    "Months": "mo",
    "Mbps-Hours": "Mbps-h",
}
SHORT_MODEL = {"on-demand": "on-demand", "spot": "spot", "reserved-1y": "1y", "reserved-3y": "3y"}


def usd(value: float | None) -> str:
    """Dollars with cents and thousands separators ("-" for none)."""
    if value is None:
        return "-"
    return f"{'-' if value < -0.005 else ''}${abs(value):,.2f}"


def _table(*headers: str, title: str = "") -> Table:
    table = Table(*headers, title=title or None, **render.COMPACT)
    table.title_justify = "left"
    for column in table.columns:
        column.no_wrap = True
    for column in table.columns[2:]:
        column.justify = "right"
    return table


def _quantity(line: Line) -> str:
    return f"{line.quantity:,.4g} {SHORT_UNIT.get(line.unit, line.unit)}"


def print_costs(
    costs: Sequence[StackCost], tradeoff: Sequence[LevelCost], warnings: Sequence[str]
) -> None:
    """Per stack its lines, the node lines under each pricing model, then the totals, the
    standby trade-off, the price sources and the warnings."""
    notes = render.Footnotes()
    for cost in costs:
        title = f"{cost.stack} ({cost.cloud}): {usd(cost.monthly)} a month"
        table = _table("kind", "item", "quantity", "$/month", "at min", "at max", title=title)
        for line in cost.lines:
            table.add_row(
                SHORT_KIND.get(line.kind, line.kind),
                notes.cell(line.description),
                _quantity(line),
                usd(line.monthly),
                usd(line.monthly_min),
                usd(line.monthly_max),
            )
        for item in cost.unpriced:
            reason = notes.cell(f"{item.resource}: {item.reason}", 0)
            table.add_row("unpriced", notes.cell(item.resource), "", "-", "", reason)
        render.out.print(table)
        nodes = [line for line in cost.lines if line.models]
        if nodes:
            models = _table("", "item", *SHORT_MODEL.values(), title="nodes by pricing model")
            for line in nodes:
                values = [usd(line.models.get(m)) for m in SHORT_MODEL]
                models.add_row("", notes.cell(line.description), *values)
            render.out.print(models)
    totals = _table(
        "stack",
        "cloud",
        "$/month",
        "at min",
        "at max",
        "unpriced",
        title=f"totals ({HOURS_PER_MONTH} h a month)",
    )
    for cost in costs:
        totals.add_row(
            cost.stack,
            cost.cloud,
            usd(cost.monthly),
            usd(cost.monthly_min),
            usd(cost.monthly_max),
            str(len(cost.unpriced)),
        )
    totals.add_row(
        "all",
        "",
        *(
            usd(sum(getattr(c, k) for c in costs))
            for k in ("monthly", "monthly_min", "monthly_max")
        ),
        "",
    )
    render.out.print(totals)
    print_tradeoff(tradeoff)
    notes.print()
    for source, as_of in sorted({(line.source, line.as_of) for c in costs for line in c.lines}):
        render.out.print(f"price source: {source} ({as_of})", soft_wrap=True)
    for note in sorted({line.note for c in costs for line in c.lines if line.models}):
        render.out.print(f"[dim]note[/] {escape(note)}", soft_wrap=True)
    for warning in warnings:
        render.out.print(f"[yellow]warning[/] {escape(warning)}", soft_wrap=True)


def print_tradeoff(rows: Sequence[LevelCost]) -> None:
    """Each standby at hot, warm and pilot-light: $ a month against the RTO it achieves."""
    if not rows:
        return
    table = _table("standby", "level", "$/month", "RTO", "", title="standby trade-off")
    for row in rows:
        table.add_row(
            row.standby,
            row.level,
            usd(row.monthly),
            kit.format_secs(row.rto_s),
            "current" if row.current else "",
        )
    render.out.print(table)


def cost_json(
    costs: Sequence[StackCost],
    tradeoff: Sequence[LevelCost],
    profile: Profile,
    warnings: Sequence[str],
) -> dict[str, Any]:
    """`exitplan cost --json` (schema `cost`)."""
    return {
        "hours_per_month": HOURS_PER_MONTH,
        "utilisation": {
            "unit": profile.unit,
            "hours": list(profile.hours),
            "origin": profile.origin,
        },
        "stacks": [cost.as_dict() for cost in costs],
        "total_monthly_usd": round(sum(c.monthly for c in costs), 2),
        "total_monthly_min_usd": round(sum(c.monthly_min for c in costs), 2),
        "total_monthly_max_usd": round(sum(c.monthly_max for c in costs), 2),
        "standby_tradeoff": [row.as_dict() for row in tradeoff],
        "warnings": list(warnings),
    }


def write_html(
    path: Path, costs: Sequence[StackCost], tradeoff: Sequence[LevelCost], warnings: Sequence[str]
) -> Path:
    """The cost report as one self-contained HTML page: the trade-off plot (RTO against $ a
    month, the current levels in red), then the tables."""
    points = [(f"{r.standby} {r.level}", float(r.rto_s), r.monthly, r.current) for r in tradeoff]
    plots = []
    if points:
        plots.append(
            kit.svg_scatter(
                points,
                title="Standby trade-off: $ a month against RTO",
                x_label="achievable RTO (s)",
                y_label="$ a month",
            )
        )
    headers = ["stack", "kind", "item", "quantity", "$/month", "at min", "at max", "source"]
    lines = [
        [
            c.stack,
            line.kind,
            line.description,
            _quantity(line),
            usd(line.monthly),
            usd(line.monthly_min),
            usd(line.monthly_max),
            f"{line.source} ({line.as_of})",
        ]
        for c in costs
        for line in c.lines
    ]
    models = [
        [c.stack, line.description, *(usd(line.models.get(m)) for m in SHORT_MODEL), line.note]
        for c in costs
        for line in c.lines
        if line.models
    ]
    tables: list[kit.Table] = [
        (
            "Totals",
            ["stack", "cloud", "$/month", "at min", "at max"],
            [
                [c.stack, c.cloud, usd(c.monthly), usd(c.monthly_min), usd(c.monthly_max)]
                for c in costs
            ],
        ),
        (
            "Standby trade-off",
            ["standby", "level", "$/month", "RTO", "current"],
            [
                [
                    r.standby,
                    r.level,
                    usd(r.monthly),
                    kit.format_secs(r.rto_s),
                    "current" if r.current else "",
                ]
                for r in tradeoff
            ],
        ),
        ("Lines", headers, lines),
        ("Nodes by pricing model", ["stack", "item", *SHORT_MODEL.values(), "note"], models),
        (
            "Unpriced",
            ["stack", "resource", "why"],
            [[u.stack, u.resource, u.reason] for c in costs for u in c.unpriced],
        ),
        ("Warnings", ["warning"], [[w] for w in warnings]),
    ]
    total = usd(sum(c.monthly for c in costs))
    meta = f"{len(costs)} stacks, {total} a month at the utilisation profile ({HOURS_PER_MONTH} h)"
    page = kit.html_page(
        None, [], "exitplan cost", meta, plots, tables, plots_title="Standby trade-off"
    )
    write_atomic(path, page)
    return path


def print_tco(exits: Sequence[tuple[str, Sequence[Exit]]]) -> None:
    """Per price scenario, staying against each exit: totals, savings, break-even month, and
    the cheapest choice marked."""
    for scenario, rows in exits:
        if not rows:
            continue
        first = rows[0]
        title = (
            f"{scenario}: {first.months} months from {first.source}, "
            f"{first.dual_run_months} dual-run month{'s' if first.dual_run_months != 1 else ''}"
        )
        table = _table("to", "", "leave", "stay", "savings", "break-even", title=title)
        cheapest = min(rows, key=lambda e: e.leave[-1])
        stay_best = cheapest.leave[-1] > cheapest.stay[-1]
        for row in rows:
            month = row.break_even_month
            mark = "cheapest" if row is cheapest and not stay_best else ""
            table.add_row(
                row.target,
                mark,
                usd(row.leave[-1]),
                usd(row.stay[-1]),
                usd(row.savings),
                f"month {month}" if month else "never",
            )
        render.out.print(table)
        if stay_best:
            render.out.print(f"staying on {first.source} is cheapest over {first.months} months")
        for row in rows:
            render.out.print(
                f"{row.target}: moves {row.move_gb:,.2f} GB for {usd(row.move_usd)}; runs "
                f"{usd(row.target_monthly)} a month against {usd(row.stay_monthly)}",
                soft_wrap=True,
            )
