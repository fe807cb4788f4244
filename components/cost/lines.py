"""A cost line (one priced planned resource) and a stack's estimate (its lines and totals)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace
from typing import Any

from components.catalog import today
from components.catalog.service_prices import STALE_DAYS, is_stale


@dataclass(frozen=True)
class Line:
    """One planned resource's monthly cost: `quantity` units of `unit` a month at
    `unit_price` (the priced model's rate), beside the list (on-demand) rate. Node lines also
    carry the cost at the pool's min and max and under every pricing model."""

    stack: str
    cloud: str  # the cloud that bills it (a replication's egress bills at the source)
    kind: str  # node | control-plane | load-balancer | storage | dns-health-check | egress ...
    resource: str  # the planned resource's name
    resource_type: str  # its Pulumi type token
    description: str
    region: str
    service_name: str
    service_category: str
    service_subcategory: str  # FOCUS ServiceSubcategory
    unit: str  # FOCUS pricing unit: Hours, GB-Months, GB, ...
    unit_price: float
    list_unit_price: float
    quantity: float  # units a month at the utilisation profile
    source: str
    as_of: dt.date
    note: str = ""
    pricing_model: str = "on-demand"
    quantity_min: float | None = None  # node lines: units a month at the pool's min / max
    quantity_max: float | None = None
    nodes: tuple[int, int] | None = None  # node lines: the pool's (min, max)
    models: dict[str, float | None] = field(default_factory=dict)  # node lines: $/month

    @property
    def monthly(self) -> float:
        """$ a month at the profile, under the priced model."""
        return self.unit_price * self.quantity

    @property
    def monthly_list(self) -> float:
        """$ a month at list (on-demand) prices."""
        return self.list_unit_price * self.quantity

    @property
    def monthly_min(self) -> float:
        """$ a month at the pool's minimum (the same as `monthly` for other lines)."""
        return self.monthly if self.quantity_min is None else self.unit_price * self.quantity_min

    @property
    def monthly_max(self) -> float:
        """$ a month at the pool's maximum (the same as `monthly` for other lines)."""
        return self.monthly if self.quantity_max is None else self.unit_price * self.quantity_max

    def scaled(self, factor: float) -> Line:
        """The line with every price multiplied by `factor` (a what-if price change)."""
        models = {m: None if v is None else v * factor for m, v in self.models.items()}
        return replace(
            self,
            unit_price=self.unit_price * factor,
            list_unit_price=self.list_unit_price * factor,
            models=models,
        )

    def as_dict(self) -> dict[str, Any]:
        """The line for `--json`."""
        return {
            "stack": self.stack,
            "cloud": self.cloud,
            "kind": self.kind,
            "resource": self.resource,
            "resource_type": self.resource_type,
            "description": self.description,
            "region": self.region,
            "service": self.service_name,
            "unit": self.unit,
            "quantity": round(self.quantity, 6),
            "unit_price_usd": self.unit_price,
            "pricing_model": self.pricing_model,
            "monthly_usd": round(self.monthly, 4),
            "monthly_min_usd": round(self.monthly_min, 4),
            "monthly_max_usd": round(self.monthly_max, 4),
            "nodes": None if self.nodes is None else {"min": self.nodes[0], "max": self.nodes[1]},
            "models_monthly_usd": {
                m: None if v is None else round(v, 4) for m, v in self.models.items()
            },
            "source": self.source,
            "as_of": self.as_of.isoformat(),
            "note": self.note,
        }


@dataclass(frozen=True)
class Unpriced:
    """A planned resource that costs money but has no catalog price, and why."""

    stack: str
    resource: str
    resource_type: str
    reason: str

    def as_dict(self) -> dict[str, str]:
        """The entry for `--json`."""
        return dict(self.__dict__)


@dataclass(frozen=True)
class StackCost:
    """A stack's lines, what could not be priced, and its totals."""

    stack: str
    cloud: str
    kind: str
    level: str | None
    lines: tuple[Line, ...]
    unpriced: tuple[Unpriced, ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def monthly(self) -> float:
        """$ a month at the profile: the sum of the lines."""
        return sum(line.monthly for line in self.lines)

    @property
    def monthly_min(self) -> float:
        """$ a month with every pool at its minimum."""
        return sum(line.monthly_min for line in self.lines)

    @property
    def monthly_max(self) -> float:
        """$ a month with every pool at its maximum."""
        return sum(line.monthly_max for line in self.lines)

    def scaled(self, factors: dict[str, float]) -> StackCost:
        """The estimate with each cloud's lines multiplied by its factor (what-if prices)."""
        lines = tuple(line.scaled(factors.get(line.cloud, 1.0)) for line in self.lines)
        return replace(self, lines=lines)

    def stale(self, on: dt.date | None = None) -> list[str]:
        """A warning per price source older than `STALE_DAYS` days on `on` (default today)."""
        day = on or today()
        seen = sorted({(line.source, line.as_of) for line in self.lines})
        return [
            f"{self.stack}: price from {source} checked {as_of} is older than {STALE_DAYS} "
            f"days: check it and update its catalog row"
            for source, as_of in seen
            if is_stale(as_of, day)
        ]

    def as_dict(self) -> dict[str, Any]:
        """The estimate for `--json`."""
        return {
            "stack": self.stack,
            "cloud": self.cloud,
            "kind": self.kind,
            "standby_level": self.level,
            "monthly_usd": round(self.monthly, 2),
            "monthly_min_usd": round(self.monthly_min, 2),
            "monthly_max_usd": round(self.monthly_max, 2),
            "lines": [line.as_dict() for line in self.lines],
            "unpriced": [u.as_dict() for u in self.unpriced],
            "notes": list(self.notes),
        }
