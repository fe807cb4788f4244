"""Pinned Helm charts (`data/helm_charts.csv`): the repository, chart and version a stack
installs, each row with its source and date. Charts cannot be fetched offline, so a release
is declared with these pins and its values, and tests check the declaration."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from components.catalog import CatalogDataError, Provenance, _parse


@dataclass(frozen=True)
class HelmChart:
    """One chart pinned to a version (the app version it ships, for the record)."""

    name: str
    repository: str
    chart: str
    version: str
    app_version: str
    provenance: Provenance


@cache
def helm_charts() -> dict[str, HelmChart]:
    """Every pinned chart by name."""
    charts = _parse(
        "helm_charts.csv",
        lambda row, provenance: HelmChart(
            name=row["name"],
            repository=row["repository"],
            chart=row["chart"],
            version=row["version"],
            app_version=row["app_version"],
            provenance=provenance,
        ),
    )
    return {chart.name: chart for chart in charts}


def helm_chart(name: str) -> HelmChart:
    """A pinned chart by name (a missing one is a defect in the shipped data)."""
    try:
        return helm_charts()[name]
    except KeyError:
        raise CatalogDataError(f"helm_charts.csv has no row for {name!r}") from None
