"""Thin readers over the catalog data files in `data/` (every row carries a source and a date).

The files are the truth; this module only parses, checks the provenance columns and answers
lookups. Resolution (cheapest type that meets a spec) lives in `components.catalog.resolve`.
"""

from __future__ import annotations

import csv
import datetime as dt
import os
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TypeVar

from components.errors import CatalogDataError, CatalogError

DATA = Path(__file__).parent / "data"
PROVENANCE = ("source", "as_of")
TODAY_VARIABLE = "EXITPLAN_TODAY"  # ISO date that every date-comparing rule reads when set


def today() -> dt.date:
    """Today's date for rules that compare with it: `EXITPLAN_TODAY` (ISO) when set."""
    value = os.environ.get(TODAY_VARIABLE, "").strip()
    if not value:
        return dt.date.today()
    try:
        return dt.date.fromisoformat(value)
    except ValueError as exc:
        raise CatalogError(
            f"{TODAY_VARIABLE}={value!r} is not an ISO date",
            fix=f"set it like {TODAY_VARIABLE}=2026-11-30, or unset it",
        ) from exc


@dataclass(frozen=True)
class Provenance:
    """Where a row's figures come from and when they were checked."""

    source: str
    as_of: dt.date


@dataclass(frozen=True)
class InstanceType:
    """One machine type in one region: its accelerators, size and on-demand price."""

    cloud: str
    instance_type: str
    accelerator: str
    gpu_model: str
    gpu_count: int
    gpu_memory_gib: int
    vcpus: int
    memory_gib: float
    region: str
    usd_per_hour: float
    provenance: Provenance

    @property
    def label(self) -> str:
        """`g4dn.xlarge` or `n1-standard-4 + 1x nvidia-tesla-t4` (GCP attaches GPUs)."""
        if self.accelerator:
            return f"{self.instance_type} + {self.gpu_count}x {self.accelerator}"
        return self.instance_type


@dataclass(frozen=True)
class Gpu:
    """An accelerator model and its memory."""

    gpu_model: str
    vendor: str
    architecture: str
    memory_gib: int
    provenance: Provenance


@dataclass(frozen=True)
class Region:
    """A cloud region and its availability zones."""

    cloud: str
    region: str
    display_name: str
    zones: tuple[str, ...]
    provenance: Provenance


@dataclass(frozen=True)
class TritonRelease:
    """A Triton server version, its NGC container image and what it supports."""

    triton_version: str
    ngc_release: str
    image: str
    azure_managed_identity: bool
    provenance: Provenance


@dataclass(frozen=True)
class SandboxTriton:
    """The Triton the sandbox runs: the server a pinned wheel embeds (it cannot run another)."""

    package: str
    package_version: str
    triton_version: str
    provenance: Provenance


@dataclass(frozen=True)
class Image:
    """An auxiliary container image (device plugin, model fetcher...)."""

    name: str
    version: str
    image: str
    provenance: Provenance


@dataclass(frozen=True)
class EdgeType:
    """A machine type an edge zone offers (GPU or CPU-only)."""

    cloud: str
    zone: str
    kind: str
    parent_region: str
    instance_type: str
    gpu_model: str
    gpu_count: int
    gpu_memory_gib: int
    vcpus: int
    memory_gib: float
    provenance: Provenance


@dataclass(frozen=True)
class RtoFigure:
    """One input of the achievable-RTO estimate, with its basis and source."""

    cloud: str
    figure: str
    scope: str
    value: float
    unit: str
    basis: str
    provenance: Provenance


Row = dict[str, str]
T = TypeVar("T")


def read_rows(relative: str) -> list[tuple[int, Row]]:
    """Rows of a catalog CSV with their line numbers; provenance columns checked on every row."""
    path = DATA / relative
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        rows = [(reader.line_num, row) for row in reader]
    for line, row in rows:
        _provenance(row, f"{path.name}:{line}")
    return rows


def _provenance(row: Row, where: str) -> Provenance:
    source = (row.get("source") or "").strip()
    if not source.startswith("https://"):
        raise CatalogDataError(f"{where}: every row needs an https source URL, got {source!r}")
    try:
        as_of = dt.date.fromisoformat((row.get("as_of") or "").strip())
    except ValueError as exc:
        raise CatalogDataError(f"{where}: as_of must be a YYYY-MM-DD date ({exc})") from exc
    return Provenance(source, as_of)


def _parse(relative: str, build: Callable[[Row, Provenance], T]) -> list[T]:
    parsed = []
    for line, row in read_rows(relative):
        where = f"{relative}:{line}"
        try:
            parsed.append(build(row, _provenance(row, where)))
        except (KeyError, ValueError) as exc:
            raise CatalogDataError(f"{where}: bad value ({exc})") from exc
    return parsed


@cache
def instance_types(cloud: str) -> tuple[InstanceType, ...]:
    """Every (type, region) row of a cloud's instance catalog."""
    if not (DATA / "instances" / f"{cloud}.csv").exists():
        raise CatalogError(
            f"the catalog has no instance types for cloud {cloud!r}",
            fix=f"add components/catalog/data/instances/{cloud}.csv",
        )
    return tuple(
        _parse(
            f"instances/{cloud}.csv",
            lambda r, p: InstanceType(
                cloud=cloud,
                instance_type=r["instance_type"],
                accelerator=r["accelerator"],
                gpu_model=r["gpu_model"],
                gpu_count=int(r["gpu_count"]),
                gpu_memory_gib=int(r["gpu_memory_gib"]),
                vcpus=int(r["vcpus"]),
                memory_gib=float(r["memory_gib"]),
                region=r["region"],
                usd_per_hour=float(r["usd_per_hour"]),
                provenance=p,
            ),
        )
    )


@cache
def gpus() -> dict[str, Gpu]:
    """GPU models by name."""
    rows = _parse(
        "gpus.csv",
        lambda r, p: Gpu(r["gpu_model"], r["vendor"], r["architecture"], int(r["memory_gib"]), p),
    )
    return {g.gpu_model: g for g in rows}


@cache
def regions() -> dict[tuple[str, str], Region]:
    """Regions by (cloud, region)."""
    rows = _parse(
        "regions.csv",
        lambda r, p: Region(
            r["cloud"], r["region"], r["display_name"], tuple(r["zones"].split()), p
        ),
    )
    return {(r.cloud, r.region): r for r in rows}


@cache
def gpu_zones() -> dict[tuple[str, str, str], tuple[str, ...]]:
    """Zones offering an accelerator, by (cloud, region, accelerator); GCP pins GPU pools."""
    rows = _parse(
        "gpu_zones.csv",
        lambda r, p: ((r["cloud"], r["region"], r["accelerator"]), tuple(r["zones"].split())),
    )
    return dict(rows)


@cache
def triton_releases() -> dict[str, TritonRelease]:
    """Triton releases by server version (`2.51.0`)."""
    rows = _parse(
        "triton_releases.csv",
        lambda r, p: TritonRelease(
            r["triton_version"],
            r["ngc_release"],
            r["image"],
            _bool(r["azure_managed_identity"]),
            p,
        ),
    )
    return {t.triton_version: t for t in rows}


@cache
def sandbox_triton() -> SandboxTriton:
    """The Triton version the sandbox verifies, and the wheel that embeds it."""
    rows = _parse(
        "sandbox_triton.csv",
        lambda r, p: SandboxTriton(r["package"], r["package_version"], r["triton_version"], p),
    )
    if len(rows) != 1:
        raise CatalogDataError(f"sandbox_triton.csv needs exactly one row, has {len(rows)}")
    return rows[0]


def default_triton_version() -> str:
    """The Triton a stack runs unless it pins another: the one the sandbox verifies."""
    return sandbox_triton().triton_version


@cache
def images() -> dict[str, Image]:
    """Auxiliary images by name."""
    rows = _parse("images.csv", lambda r, p: Image(r["name"], r["version"], r["image"], p))
    return {i.name: i for i in rows}


@cache
def edge_types() -> tuple[EdgeType, ...]:
    """Every (edge zone, machine type) row."""
    return tuple(
        _parse(
            "edge_zones.csv",
            lambda r, p: EdgeType(
                cloud=r["cloud"],
                zone=r["zone"],
                kind=r["kind"],
                parent_region=r["parent_region"],
                instance_type=r["instance_type"],
                gpu_model=r["gpu_model"],
                gpu_count=int(r["gpu_count"]),
                gpu_memory_gib=int(r["gpu_memory_gib"]),
                vcpus=int(r["vcpus"]),
                memory_gib=float(r["memory_gib"]),
                provenance=p,
            ),
        )
    )


@cache
def rto_figures() -> tuple[RtoFigure, ...]:
    """Every figure the RTO estimate is computed from."""
    return tuple(
        _parse(
            "rto_figures.csv",
            lambda r, p: RtoFigure(
                r["cloud"], r["figure"], r["scope"], float(r["value"]), r["unit"], r["basis"], p
            ),
        )
    )


def rto_figure(cloud: str, figure: str, subject: str = "") -> RtoFigure:
    """The figure for a cloud (or `all`) whose scope is the longest prefix of `subject`."""
    matches = [
        f
        for f in rto_figures()
        if f.figure == figure and f.cloud in (cloud, "all") and subject.startswith(f.scope)
    ]
    if not matches:
        raise CatalogDataError(f"rto_figures.csv has no {figure} row for {cloud} {subject!r}")
    return max(matches, key=lambda f: len(f.scope))


def _bool(value: str) -> bool:
    if value.strip().lower() not in ("true", "false"):
        raise ValueError(f"expected true or false, got {value!r}")
    return value.strip().lower() == "true"


def region(cloud: str, name: str, *, field: str = "region") -> Region:
    """A region of a cloud, or a `CatalogError` listing the regions the catalog knows."""
    found = regions().get((cloud, name))
    if found is None:
        known = sorted(r for c, r in regions() if c == cloud)
        raise CatalogError(
            f"region {name!r} is not in the {cloud} catalog",
            field=field,
            fix=f"use one of: {', '.join(known)}",
        )
    return found


def triton_release(version: str, *, field: str = "triton.version") -> TritonRelease:
    """The Triton release for a server version, or a `CatalogError` listing known versions."""
    found = triton_releases().get(version)
    if found is None:
        raise CatalogError(
            f"Triton {version} is not in the catalog",
            field=field,
            fix=f"use one of: {', '.join(triton_releases())}",
        )
    return found


def image(name: str) -> Image:
    """An auxiliary image by name (a missing one is a defect in the shipped data)."""
    try:
        return images()[name]
    except KeyError:
        raise CatalogDataError(f"images.csv has no row for {name!r}") from None
