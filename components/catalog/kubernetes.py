"""Kubernetes support calendars of the managed services (`data/kubernetes_support.csv`): when
each minor version leaves standard support on EKS, AKS, GKE and OKE.

A stack's `kubernetes_version` must be inside standard support today (`catalog.today()`, which
reads EXITPLAN_TODAY): `check_support` refuses a minor past its end, or one the calendar does
not know, and warns within `WARN_DAYS` of the end. `exitplan plan`, the stack program and the
policy pack all read this one calendar.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import cache

from components.catalog import Provenance, _parse, today
from components.errors import CatalogError

FIELD = "kubernetes_version"  # the spec field every error and warning names
WARN_DAYS = 90  # warn this many days before a minor leaves standard support


@dataclass(frozen=True)
class KubernetesSupport:
    """One minor version on one managed service: released, end of standard and extended
    support (None where the service has no extended support), and how the dates are known."""

    provider: str
    minor: str
    released: dt.date
    end_of_standard: dt.date
    end_of_extended: dt.date | None
    basis: str
    provenance: Provenance

    @property
    def source(self) -> str:
        """Where the dates come from (a provider page, or a copy of it named in `basis`)."""
        return self.provenance.source

    def days_left(self, on: dt.date) -> int:
        """Days from `on` to the last day of standard support (negative once it has ended)."""
        return (self.end_of_standard - on).days


def _optional_date(value: str) -> dt.date | None:
    return dt.date.fromisoformat(value) if value.strip() else None


@cache
def calendar() -> dict[tuple[str, str], KubernetesSupport]:
    """Every row of the calendar, by (provider, minor)."""
    rows = _parse(
        "kubernetes_support.csv",
        lambda r, p: KubernetesSupport(
            provider=r["provider"],
            minor=r["minor"],
            released=dt.date.fromisoformat(r["released"]),
            end_of_standard=dt.date.fromisoformat(r["end_of_standard_support"]),
            end_of_extended=_optional_date(r["end_of_extended_support"]),
            basis=r["basis"],
            provenance=p,
        ),
    )
    return {(s.provider, s.minor): s for s in rows}


def _order(minor: str) -> tuple[int, ...]:
    return tuple(int(part) for part in minor.split("."))


def supported_minors(provider: str, on: dt.date | None = None) -> list[str]:
    """The minors of a provider inside standard support on `on` (default: today), oldest first."""
    day = on or today()
    inside = [
        s.minor
        for (name, _), s in calendar().items()
        if name == provider and s.released <= day <= s.end_of_standard
    ]
    return sorted(inside, key=_order)


def support(provider: str, minor: str) -> KubernetesSupport:
    """The calendar row of a minor on a provider, or a `CatalogError` naming `kubernetes_version`
    and the minors supported today."""
    found = calendar().get((provider, minor))
    if found is None:
        raise CatalogError(
            f"Kubernetes {minor} is not in the {provider} support calendar",
            field=FIELD,
            fix=upgrade_fix(provider),
        )
    return found


def check_support(provider: str, minor: str, on: dt.date | None = None) -> str | None:
    """Refuse (`CatalogError` on `kubernetes_version`) a minor unknown to the calendar, not yet
    released or past its end of standard support on `on` (default: today); return a warning
    within `WARN_DAYS` of that end (`upgrade_fix` says what to move to); None when it is well
    inside standard support."""
    day = on or today()
    row = support(provider, minor)
    if day < row.released:
        raise CatalogError(
            f"Kubernetes {minor} is not released on {provider} until {row.released} ({row.source})",
            field=FIELD,
            fix=upgrade_fix(provider, day),
        )
    left = row.days_left(day)
    if left < 0:
        extended = f"; extended support (extra cost) ends {row.end_of_extended}"
        raise CatalogError(
            f"Kubernetes {minor} left standard support on {provider} on {row.end_of_standard}"
            f"{extended if row.end_of_extended else ''} ({row.source})",
            field=FIELD,
            fix=upgrade_fix(provider, day),
        )
    if left <= WARN_DAYS:
        return (
            f"Kubernetes {minor} leaves standard support on {provider} on {row.end_of_standard} "
            f"(in {left} days; {row.source})"
        )
    return None


def upgrade_fix(provider: str, on: dt.date | None = None) -> str:
    """What to set `kubernetes_version` to: the minors in standard support on `on` and their
    end dates."""
    day = on or today()
    rows = [calendar()[(provider, m)] for m in supported_minors(provider, day)]
    listed = ", ".join(f"{r.minor} (until {r.end_of_standard})" for r in rows)
    return f"use a minor in standard support on {provider} on {day}: {listed or 'none known'}"
