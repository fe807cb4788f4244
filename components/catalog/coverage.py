"""Catalog coverage: per cloud, the regions and instance families the catalog prices, and
where a family's size ladder is incomplete (`exitplan catalog coverage`).

A family's ladder (data/instance_families.csv) is every size the provider sells that a node
pool here could use, each as `type:vcpus` (a flexible shape repeats its name at several
sizes). A family covers a region when the instance catalog prices every rung there. A
`linear` family's price list is a linear function of its vCPUs (with their memory) and GPUs
within a region, so sizes not read are priced from those that were (a test checks the rows
agree); a `listed` family's prices are each read.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from components import catalog
from components.catalog import Provenance, _parse
from components.catalog.pricing import clouds
from components.errors import CatalogDataError

Rung = tuple[str, int]  # (instance type, vCPUs)


@dataclass(frozen=True)
class InstanceFamily:
    """One family's size ladder in one cloud, and what its ladder leaves out."""

    cloud: str
    family: str
    ladder: tuple[Rung, ...]
    pricing: str  # "linear" or "listed" (module docstring)
    note: str
    provenance: Provenance


@dataclass(frozen=True)
class FamilyCoverage:
    """One family in one region: the rungs the catalog prices there and those it lacks."""

    family: str
    region: str
    priced: tuple[str, ...]
    missing: tuple[str, ...]

    @property
    def complete(self) -> bool:
        """Whether every rung of the ladder is priced in this region."""
        return not self.missing


@dataclass(frozen=True)
class CloudCoverage:
    """A cloud's regions, its families per region, and any priced type of no known family."""

    cloud: str
    regions: tuple[str, ...]
    families: tuple[FamilyCoverage, ...]
    unladdered: tuple[str, ...]

    def as_dict(self) -> dict[str, object]:
        """The `catalog coverage --json` shape of one cloud."""
        return {
            "cloud": self.cloud,
            "regions": list(self.regions),
            "families": [
                {
                    "family": f.family,
                    "region": f.region,
                    "complete": f.complete,
                    "priced": list(f.priced),
                    "missing": list(f.missing),
                }
                for f in self.families
            ],
            "unladdered": list(self.unladdered),
        }


@cache
def instance_families() -> tuple[InstanceFamily, ...]:
    """Every family's ladder (data/instance_families.csv)."""

    def build(row: dict[str, str], provenance: Provenance) -> InstanceFamily:
        rungs = []
        for rung in row["ladder"].split():
            name, _, vcpus = rung.rpartition(":")
            rungs.append((name, int(vcpus)))
        if row["pricing"] not in ("linear", "listed"):
            raise ValueError(f"pricing {row['pricing']!r} is neither linear nor listed")
        return InstanceFamily(
            row["cloud"], row["family"], tuple(rungs), row["pricing"], row["note"], provenance
        )

    return tuple(_parse("instance_families.csv", build))


def _label(rung: Rung, flexible: bool) -> str:
    return f"{rung[0]} ({rung[1]} vCPU)" if flexible else rung[0]


def cloud_coverage(cloud: str) -> CloudCoverage:
    """The cloud's coverage: per family, each region where the catalog prices any of its sizes,
    with the sizes priced and missing there."""
    rows = catalog.instance_types(cloud)
    families = [f for f in instance_families() if f.cloud == cloud]
    family_of: dict[Rung, InstanceFamily] = {}
    for family in families:
        for rung in family.ladder:
            if rung in family_of:
                raise CatalogDataError(
                    f"instance_families.csv: {rung[0]} ({rung[1]} vCPU) is in {cloud} families "
                    f"{family_of[rung].family} and {family.family}"
                )
            family_of[rung] = family
    covered = []
    for family in families:
        flexible = len({name for name, _ in family.ladder}) < len(family.ladder)
        in_family = [t for t in rows if (t.instance_type, t.vcpus) in family.ladder]
        for region in dict.fromkeys(t.region for t in in_family):
            priced = {(t.instance_type, t.vcpus) for t in in_family if t.region == region}
            covered.append(
                FamilyCoverage(
                    family=family.family,
                    region=region,
                    priced=tuple(_label(r, flexible) for r in family.ladder if r in priced),
                    missing=tuple(_label(r, flexible) for r in family.ladder if r not in priced),
                )
            )
    unladdered = sorted(
        {
            f"{t.instance_type} ({t.vcpus} vCPU)"
            for t in rows
            if (t.instance_type, t.vcpus) not in family_of
        }
    )
    return CloudCoverage(
        cloud=cloud,
        regions=tuple(dict.fromkeys(t.region for t in rows)),
        families=tuple(covered),
        unladdered=tuple(unladdered),
    )


def coverage() -> tuple[CloudCoverage, ...]:
    """Every cloud the instance catalog prices, with its coverage."""
    return tuple(cloud_coverage(cloud) for cloud in clouds())
