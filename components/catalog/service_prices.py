"""Prices of the cloud services a stack plans besides its nodes (`data/service_prices.csv`):
control planes, load balancers, object storage, DNS health checks, egress, NAT gateways,
public addresses and keys. One row is one price of one item (`control-plane`, `egress`, ...)
in one scope (`eks-standard`, `internet`, ...), per FOCUS pricing unit, with the service it
bills under (FOCUS ServiceName, ServiceCategory and ServiceSubcategory: one category and one
subcategory per service name), its source and date. Instance prices live in
`components.catalog.pricing`."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import cache

from components.catalog import Provenance, _parse
from components.errors import CatalogDataError

STALE_DAYS = 180  # a price older than this (vs `components.catalog.today()`) is flagged


@dataclass(frozen=True)
class ServicePrice:
    """What one unit of a service item costs, and where that figure comes from."""

    cloud: str
    item: str
    scope: str
    region: str
    unit: str
    usd: float
    service_name: str
    service_category: str
    service_subcategory: str  # FOCUS ServiceSubcategory: one of its allowed values
    note: str
    provenance: Provenance


@cache
def service_prices() -> tuple[ServicePrice, ...]:
    """Every row of the service price catalog."""
    return tuple(
        _parse(
            "service_prices.csv",
            lambda r, p: ServicePrice(
                r["cloud"],
                r["item"],
                r["scope"],
                r["region"],
                r["unit"],
                _non_negative(r["usd"]),
                r["service_name"],
                r["service_category"],
                r["service_subcategory"],
                r["note"],
                p,
            ),
        )
    )


def _non_negative(value: str) -> float:
    number = float(value)
    if number < 0:
        raise ValueError(f"usd must not be negative, got {value}")
    return number


def service_price(cloud: str, item: str, scope: str, region: str = "*") -> ServicePrice:
    """The price of `item`/`scope` on `cloud`, the row for `region` before a `*` row; a missing
    one is a defect in the shipped data (every priced resource kind has its rows)."""
    rows = [
        p
        for p in service_prices()
        if (p.cloud, p.item, p.scope) == (cloud, item, scope) and p.region in (region, "*")
    ]
    if not rows:
        raise CatalogDataError(f"service_prices.csv has no {cloud} {item} row for {scope!r}")
    return max(rows, key=lambda p: p.region != "*")


def is_stale(as_of: dt.date, today: dt.date) -> bool:
    """Whether a price checked on `as_of` is older than `STALE_DAYS` on `today`."""
    return (today - as_of).days > STALE_DAYS
