"""`exitplan cost diff` as Markdown fit for a pull request comment (or a CI job summary): the
totals, each resource whose cost changed, the gates' verdict, what could not be priced."""

from __future__ import annotations

from components.cost.diff import Breach, CostDiff

STATUS = {"added": "added", "removed": "removed", "changed": "changed", "unchanged": ""}


def _usd(value: float | None) -> str:
    return "-" if value is None else f"${value:,.2f}"


def _signed(value: float) -> str:
    return f"{'+' if value >= 0 else '-'}${abs(value):,.2f}"


def markdown(diff: CostDiff, breaches: list[Breach], gated: bool) -> str:
    """The diff as Markdown; `gated`: whether any gate was asked for."""
    share = f" ({diff.delta / diff.base_total:+.1%})" if diff.base_total else ""
    lines = [
        "### exitplan cost diff",
        "",
        f"Monthly cost: **{_usd(diff.base_total)}** (`{diff.base}`) → "
        f"**{_usd(diff.head_total)}** (`{diff.head}`): **{_signed(diff.delta)}**{share}",
        "",
    ]
    moved = [c for c in diff.changes if c.status != "unchanged"]
    if moved:
        lines += [
            "| resource | type | | base $/month | head $/month | change |",
            "|---|---|---|---:|---:|---:|",
        ]
        lines += [
            f"| `{c.resource}` | `{c.resource_type}` | {STATUS[c.status]} | {_usd(c.base)} "
            f"| {_usd(c.head)} | {_signed(c.delta)} |"
            for c in moved
        ]
        lines.append("")
    same = len(diff.changes) - len(moved)
    lines.append(f"{len(moved)} resources changed in cost, {same} unchanged.")
    if gated:
        lines.append("")
        if breaches:
            lines += [f"**Budget check failed**: {b.describe()}" for b in breaches]
        else:
            lines.append("**Budget check passed.**")
    if diff.unpriced:
        lines += ["", "Not priced in the head:"]
        lines += [f"- `{u.resource}` (`{u.resource_type}`): {u.reason}" for u in diff.unpriced]
    return "\n".join(lines) + "\n"
