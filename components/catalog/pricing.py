"""Pricing models of the instance catalog: what one instance costs an hour on demand, on spot,
and under a 1- or 3-year commitment (`data/pricing_models.csv`; on-demand rates come from
`data/instances/<cloud>.csv`).

Models and what they mean per cloud:

- `on-demand`: the list price of the instance catalog.
- `spot`: AWS Spot, Azure Spot, GCP Spot VMs, OCI preemptible instances. Interruptible; the
  price's `note` says how much warning the cloud gives.
- `reserved-1y`, `reserved-3y`: a commitment to one instance type (or resource amounts) in a
  region, billed every hour of the term whether used or not: AWS Standard Reserved Instances
  (no upfront), Azure Reserved VM Instances, GCP resource-based committed use discounts. OCI
  sells no per-VM reservation (its commitments are negotiated Universal Credits), so it has
  no such rows.
- `savings-plan-1y`, `savings-plan-3y`: a $/h spend commitment that follows the workload across
  families and regions: AWS Compute Savings Plans, the Azure savings plan for compute, GCP
  flexible (spend-based) committed use discounts.

A row is either a `published` rate for one instance type in one region or a discount off the
on-demand rate for a scope (`p4d.24xlarge`, a family `g5.*`, or `*`); the most specific row
wins. A discount that is not a published figure for that scope says `estimate` in its basis,
and every price carries that basis, its source and its date.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import cache

from components.catalog import DATA, InstanceType, Provenance, _parse, instance_types
from components.errors import CatalogError

ON_DEMAND = "on-demand"
MODELS = ("on-demand", "spot", "reserved-1y", "reserved-3y")  # what every stack line prices
SAVINGS_PLANS = ("savings-plan-1y", "savings-plan-3y")
ALL_MODELS = MODELS + SAVINGS_PLANS
HOURS_PER_YEAR = 8760
TERM_YEARS = {"reserved-1y": 1, "reserved-3y": 3, "savings-plan-1y": 1, "savings-plan-3y": 3}


@dataclass(frozen=True)
class Price:
    """What one instance costs an hour under one pricing model, and where that comes from."""

    usd_per_hour: float
    source: str
    as_of: dt.date
    note: str
    model: str = ON_DEMAND
    basis: str = "published"  # published | estimate

    @property
    def term_hours(self) -> int:
        """Hours a commitment bills, used or not (0 for on-demand and spot)."""
        return TERM_YEARS.get(self.model, 0) * HOURS_PER_YEAR


@dataclass(frozen=True)
class PricingRow:
    """One row of `pricing_models.csv`: a rate or a discount for a scope of instance types."""

    cloud: str
    scope: str
    region: str
    model: str
    usd_per_hour: float | None
    discount_pct: float | None
    basis: str
    note: str
    provenance: Provenance

    def matches(self, instance_type: str, region: str) -> bool:
        """Whether the row covers this type in this region."""
        scope_ok = self.scope in ("*", instance_type) or (
            self.scope.endswith("*") and instance_type.startswith(self.scope[:-1])
        )
        return scope_ok and self.region in ("*", region)

    @property
    def specificity(self) -> tuple[int, int]:
        """Exact type beats a family beats `*`; an exact region beats `*`."""
        scope = 2 if "*" not in self.scope else 1 if self.scope != "*" else 0
        return scope, int(self.region != "*")


def _optional(value: str) -> float | None:
    return float(value) if value.strip() else None


def _row(r: dict[str, str], p: Provenance) -> PricingRow:
    row = PricingRow(
        cloud=r["cloud"],
        scope=r["scope"],
        region=r["region"],
        model=r["model"],
        usd_per_hour=_optional(r["usd_per_hour"]),
        discount_pct=_optional(r["discount_pct"]),
        basis=r["basis"],
        note=r["note"],
        provenance=p,
    )
    if row.model not in ALL_MODELS[1:]:
        raise ValueError(f"model {row.model!r} is not one of {', '.join(ALL_MODELS[1:])}")
    if (row.usd_per_hour is None) == (row.discount_pct is None):
        raise ValueError("give exactly one of usd_per_hour and discount_pct")
    if row.basis not in ("published", "estimate"):
        raise ValueError(f"basis must be published or estimate, got {row.basis!r}")
    if row.usd_per_hour is not None and "*" in row.scope + row.region:
        raise ValueError("a published $/h rate needs one instance type in one region")
    return row


@cache
def pricing_rows() -> tuple[PricingRow, ...]:
    """Every row of the pricing-model catalog."""
    return tuple(_parse("pricing_models.csv", _row))


def clouds() -> list[str]:
    """The clouds the instance catalog prices."""
    return sorted(p.stem for p in (DATA / "instances").glob("*.csv"))


def models(cloud: str) -> list[str]:
    """The pricing models a cloud offers in the catalog, in `ALL_MODELS` order."""
    offered = {r.model for r in pricing_rows() if r.cloud == cloud}
    return [m for m in ALL_MODELS if m == ON_DEMAND or m in offered]


def instance(cloud: str, instance_type: str, region: str) -> InstanceType:
    """The catalog row of a type in a region, or a `CatalogError` naming the argument that is
    wrong (cloud, instance type or region) and listing the valid values."""
    if cloud not in clouds():
        raise CatalogError(
            f"cloud {cloud!r} is not in the catalog",
            field="cloud",
            fix=f"use one of: {', '.join(clouds())}",
        )
    rows = [t for t in instance_types(cloud) if t.instance_type == instance_type]
    if not rows:
        known = sorted({t.instance_type for t in instance_types(cloud)})
        raise CatalogError(
            f"instance type {instance_type!r} is not in the {cloud} catalog",
            field="instance",
            fix=f"use one of: {', '.join(known)}",
        )
    for row in rows:
        if row.region == region:
            return row
    raise CatalogError(
        f"{instance_type} has no {cloud} price in region {region!r}",
        field="region",
        fix=f"use one of: {', '.join(sorted({t.region for t in rows}))}",
    )


def instance_price(cloud: str, instance_type: str, region: str, model: str) -> Price:
    """What one `instance_type` in `region` costs an hour under `model` (see the module's
    docstring), or a `CatalogError` naming the bad argument and listing valid values."""
    base = instance(cloud, instance_type, region)
    if model == ON_DEMAND:
        return Price(
            base.usd_per_hour,
            base.provenance.source,
            base.provenance.as_of,
            "list price, billed per second or hour while running",
        )
    if model not in models(cloud):
        raise CatalogError(
            f"pricing model {model!r} is not offered for {cloud} in the catalog",
            field="model",
            fix=f"use one of: {', '.join(models(cloud))}",
        )
    rows = [
        r
        for r in pricing_rows()
        if r.cloud == cloud and r.model == model and r.matches(instance_type, region)
    ]
    if not rows:
        raise CatalogError(
            f"pricing model {model!r} has no {cloud} row covering {instance_type} in {region}",
            field="model",
            fix="add a row to components/catalog/data/pricing_models.csv, or use on-demand",
        )
    row = max(rows, key=lambda r: r.specificity)
    rate = row.usd_per_hour
    if rate is None:
        rate = base.usd_per_hour * (1 - (row.discount_pct or 0.0) / 100)
    return Price(rate, row.provenance.source, row.provenance.as_of, row.note, model, row.basis)
