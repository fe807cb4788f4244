"""The monthly cost change between two estimates (a pull request's base and head: previews,
states or stacks), per resource and in total, and the gates a change must pass: a most it may
add a month (`max_increase`) and a budget the head must stay within. A breached gate names
the resources that did it."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

from components.cost.lines import StackCost, Unpriced
from components.errors import InputError

Status = Literal["added", "removed", "changed", "unchanged"]
CENT = 0.005  # changes below half a cent are rounding, not change


@dataclass(frozen=True)
class Change:
    """One resource's $ a month in the base and in the head (None: not there)."""

    resource: str
    resource_type: str
    base: float | None
    head: float | None

    @property
    def delta(self) -> float:
        """$ a month the head adds (negative: saves)."""
        return (self.head or 0.0) - (self.base or 0.0)

    @property
    def status(self) -> Status:
        """Whether the resource was added, removed, changed in cost or left as it was."""
        if self.base is None:
            return "added"
        if self.head is None:
            return "removed"
        return "changed" if abs(self.delta) >= CENT else "unchanged"

    def as_dict(self) -> dict[str, Any]:
        """The change for `--json`."""
        return {
            "resource": self.resource,
            "resource_type": self.resource_type,
            "status": self.status,
            "base_monthly_usd": None if self.base is None else round(self.base, 2),
            "head_monthly_usd": None if self.head is None else round(self.head, 2),
            "change_monthly_usd": round(self.delta, 2),
        }


@dataclass(frozen=True)
class Breach:
    """A gate the head breaks: its limit, the figure that broke it, and the resources that
    did it (those that add the most first)."""

    gate: Literal["max-increase", "budget"]
    limit: float
    actual: float
    resources: tuple[Change, ...]

    def describe(self) -> str:
        """One sentence: which gate, by how much, because of what."""
        what = "the increase" if self.gate == "max-increase" else "the head's total"
        names = ", ".join(f"{c.resource} ({c.delta:+,.2f})" for c in self.resources)
        return (
            f"{self.gate}: {what} ${self.actual:,.2f}/month is over ${self.limit:,.2f}; "
            f"caused by {names or 'no single resource'}"
        )

    def as_dict(self) -> dict[str, Any]:
        """The breach for `--json`."""
        return {
            "gate": self.gate,
            "limit_usd": self.limit,
            "actual_usd": round(self.actual, 2),
            "resources": [c.resource for c in self.resources],
            "message": self.describe(),
        }


@dataclass(frozen=True)
class CostDiff:
    """Base against head: every resource's change, and what neither could price."""

    base: str
    head: str
    changes: tuple[Change, ...]
    base_total: float
    head_total: float
    unpriced: tuple[Unpriced, ...]

    @property
    def delta(self) -> float:
        """$ a month the head adds in total."""
        return self.head_total - self.base_total

    def breaches(self, max_increase: float | None, budget: float | None) -> list[Breach]:
        """The gates the head breaks: more than `max_increase` added, or over `budget`."""
        found = []
        added = sorted((c for c in self.changes if c.delta >= CENT), key=lambda c: -c.delta)
        if max_increase is not None and self.delta > max_increase + CENT:
            found.append(Breach("max-increase", max_increase, self.delta, tuple(added)))
        if budget is not None and self.head_total > budget + CENT:
            costly = added or sorted(
                (c for c in self.changes if c.head), key=lambda c: -(c.head or 0.0)
            )
            found.append(Breach("budget", budget, self.head_total, tuple(costly)))
        return found


def check_limit(value: float | None, flag: str) -> float | None:
    """A gate's limit in USD: nothing, or 0 or more (a negative one is an InputError)."""
    if value is not None and value < 0:
        raise InputError(
            f"must be 0 or more, got {value:g}", field=flag, fix=f"give {flag} in USD a month"
        )
    return value


def cost_diff(
    base: tuple[str, Iterable[StackCost]], head: tuple[str, Iterable[StackCost]]
) -> CostDiff:
    """Each resource's monthly cost in the base and the head (label, estimates), matched by
    Pulumi type and name."""
    base_label, base_costs = base[0], list(base[1])
    head_label, head_costs = head[0], list(head[1])
    before, after = _per_resource(base_costs), _per_resource(head_costs)
    changes = [
        Change(name, typ, before.get((typ, name)), after.get((typ, name)))
        for typ, name in sorted(before.keys() | after.keys(), key=lambda k: (k[1], k[0]))
    ]
    changes.sort(key=lambda c: (-abs(c.delta), c.resource))
    return CostDiff(
        base_label,
        head_label,
        tuple(changes),
        sum(c.monthly for c in base_costs),
        sum(c.monthly for c in head_costs),
        tuple(u for c in head_costs for u in c.unpriced),
    )


def _per_resource(costs: list[StackCost]) -> dict[tuple[str, str], float]:
    found: dict[tuple[str, str], float] = {}
    for cost in costs:
        for line in cost.lines:
            key = (line.resource_type, line.resource)
            found[key] = found.get(key, 0.0) + line.monthly
    return found
