"""Dollars per million inferences and the Pareto front over (cost per 1M, p99 latency).

A measurement says how many inferences a second one instance type (or one GPU of a model,
`per=gpu`) serves for one ML model, at what p99, and where the figure comes from. A GPU
measurement without an instance type applies to every catalog instance type carrying that GPU,
on every cloud (throughput scaled by the type's GPU count: an assumption the row's `scaling`
says). Cost per 1M = the instance's $/h / (inferences a second x 3600) x 1e6, at the type's
cheapest catalog region under the chosen pricing model.

Figures measured on the sandbox (CPU Tritons on one host) are kept apart: shown with their
label, never priced against cloud GPUs nor put on a front with them.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from components.catalog import instance_types
from components.catalog.pricing import ON_DEMAND, clouds, instance_price, models
from components.errors import CatalogError, InputError

COLUMNS = ("instance_type", "gpu_model", "model", "throughput_per_s", "p99_ms", "per", "basis")
BASES = ("published", "measured", "estimate")
SANDBOX = "sandbox-cpu"  # the label of figures measured on the local sandbox


@dataclass(frozen=True)
class Measurement:
    """One throughput/latency figure for an ML model on an instance type or a GPU model."""

    model: str
    throughput_per_s: float
    p99_ms: float
    basis: str  # published | measured | estimate | sandbox-cpu
    source: str
    as_of: str
    instance_type: str = ""
    gpu_model: str = ""
    per: str = "instance"  # instance | gpu
    where: str = ""  # file:line or journal path


@dataclass(frozen=True)
class Point:
    """One (instance type, ML model) option: its cost per 1M inferences and its p99."""

    model: str
    cloud: str
    instance_type: str
    region: str
    gpu_model: str
    gpus: int
    throughput_per_s: float
    p99_ms: float
    usd_per_hour: float | None
    usd_per_million: float | None
    basis: str
    scaling: str
    source: str
    pricing: str

    @property
    def key(self) -> str:
        """How the option is named in the report."""
        return f"{self.instance_type} ({self.cloud})" if self.cloud else self.instance_type


@dataclass
class Front:
    """Per ML model: the ranked options, the Pareto front and who dominates each other option."""

    points: list[Point]
    front: dict[str, list[str]] = field(default_factory=dict)  # model -> keys on the front
    dominated: dict[str, dict[str, str]] = field(default_factory=dict)  # model -> key -> by
    sandbox: list[Point] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """Plain data for `--json`."""
        return {
            "points": [asdict(p) | {"key": p.key} for p in self.points],
            "front": self.front,
            "dominated": self.dominated,
            "sandbox": [asdict(p) | {"key": p.key} for p in self.sandbox],
        }


def _number(value: str, column: str, where: str) -> float:
    try:
        number = float(value)
    except ValueError:
        number = math.nan
    if not math.isfinite(number) or number <= 0:
        raise InputError(
            f"{column} must be a positive number, got {value!r}",
            file=where,
            field=column,
            fix="give inferences a second and p99 in milliseconds as numbers above 0",
        )
    return number


def read_measurements(path: Path) -> list[Measurement]:
    """The rows of a measurements CSV (columns `COLUMNS` + source, as_of), each checked: a bad
    row is an `InputError` naming file:line and the column."""
    try:
        handle = path.open(newline="", encoding="utf-8")
    except OSError as exc:
        raise InputError(
            f"cannot read {path}: {exc.strerror}",
            field="--measurements",
            fix="pass a CSV of measurements, e.g. examples/measurements.csv",
        ) from None
    with handle:
        reader = csv.DictReader(handle)
        missing = [c for c in (*COLUMNS, "source", "as_of") if c not in (reader.fieldnames or [])]
        if missing:
            raise InputError(
                f"missing columns: {', '.join(missing)}",
                file=str(path),
                fix=f"the header is {','.join((*COLUMNS, 'source', 'as_of'))}",
            )
        rows = [(reader.line_num, row) for row in reader]
    out = []
    for line, r in rows:
        where = f"{path}:{line}"
        if r["basis"] not in BASES:
            raise InputError(
                f"basis {r['basis']!r} is not one of {', '.join(BASES)}",
                file=where,
                field="basis",
                fix=f"use one of: {', '.join(BASES)}",
            )
        if r["per"] not in ("instance", "gpu") or not (r["instance_type"] or r["gpu_model"]):
            raise InputError(
                "a row names an instance_type, or a gpu_model with per=gpu",
                file=where,
                field="per",
                fix="per is instance or gpu",
            )
        if not r["instance_type"] and r["per"] != "gpu":
            raise InputError(
                "a row with only a gpu_model must be per=gpu",
                file=where,
                field="per",
                fix="set per to gpu, or name the instance_type",
            )
        if not r["source"].startswith("https://"):
            raise InputError(
                f"source must be an https URL, got {r['source']!r}",
                file=where,
                field="source",
                fix="say where the figure comes from",
            )
        try:
            dt.date.fromisoformat(r["as_of"])
        except ValueError:
            raise InputError(
                f"as_of must be a YYYY-MM-DD date, got {r['as_of']!r}",
                file=where,
                field="as_of",
                fix="give the date the figure was taken",
            ) from None
        out.append(
            Measurement(
                model=r["model"],
                throughput_per_s=_number(r["throughput_per_s"], "throughput_per_s", where),
                p99_ms=_number(r["p99_ms"], "p99_ms", where),
                basis=r["basis"],
                source=r["source"],
                as_of=r["as_of"],
                instance_type=r["instance_type"],
                gpu_model=r["gpu_model"],
                per=r["per"],
                where=where,
            )
        )
    return out


def _targets(m: Measurement) -> list[tuple[str, str, int, str]]:
    """(cloud, instance type, GPUs, GPU model) the measurement applies to."""
    found = []
    for cloud in clouds():
        names = {t.instance_type: t for t in instance_types(cloud)}
        if m.instance_type:
            if m.instance_type in names:
                t = names[m.instance_type]
                found.append((cloud, t.instance_type, t.gpu_count, t.gpu_model))
        else:
            found += [
                (cloud, t.instance_type, t.gpu_count, t.gpu_model)
                for t in names.values()
                if t.gpu_model == m.gpu_model and t.gpu_count
            ]
    if not found:
        what = m.instance_type or m.gpu_model
        raise CatalogError(
            f"{what!r} matches no instance type in the catalog",
            file=m.where,
            field="instance_type" if m.instance_type else "gpu_model",
            fix="use a catalog instance type (exitplan cost compare lists them) or GPU model "
            "(T4, A10G, A10, L4, A100-40GB, A100-80GB, H100, H100-NVL)",
        )
    return found


def price_points(measurements: list[Measurement], pricing: str = ON_DEMAND) -> list[Point]:
    """Every (instance type, ML model) option priced at its cheapest catalog region under
    `pricing` (clouds that do not offer that pricing model are left out)."""
    points = []
    for m in measurements:
        for cloud, itype, gpus, gpu_model in _targets(m):
            if pricing not in models(cloud):
                continue  # e.g. OCI sells no per-VM reservation
            regions = [t.region for t in instance_types(cloud) if t.instance_type == itype]
            price = min(
                (instance_price(cloud, itype, r, pricing) for r in regions),
                key=lambda p: p.usd_per_hour,
            )
            region = next(r for r in regions if instance_price(cloud, itype, r, pricing) == price)
            rate, source = price.usd_per_hour, price.source
            scale = gpus if m.per == "gpu" else 1
            throughput = m.throughput_per_s * scale
            points.append(
                Point(
                    model=m.model,
                    cloud=cloud,
                    instance_type=itype,
                    region=region,
                    gpu_model=gpu_model,
                    gpus=gpus,
                    throughput_per_s=throughput,
                    p99_ms=m.p99_ms,
                    usd_per_hour=rate,
                    usd_per_million=rate / (throughput * 3600) * 1e6,
                    basis=m.basis,
                    scaling=f"per GPU x {gpus} (assumed linear)"
                    if m.per == "gpu"
                    else "whole instance",
                    source=f"{m.source} ({m.as_of}); price: {source}",
                    pricing=pricing,
                )
            )
    return points


def dominates(a: Point, b: Point) -> bool:
    """`a` is no worse than `b` on cost and p99, and better on one."""
    assert a.usd_per_million is not None and b.usd_per_million is not None
    no_worse = a.usd_per_million <= b.usd_per_million and a.p99_ms <= b.p99_ms
    return no_worse and (a.usd_per_million < b.usd_per_million or a.p99_ms < b.p99_ms)


def pareto(points: list[Point], sandbox: list[Point] | None = None) -> Front:
    """The front per ML model over (cost per 1M, p99): the options no other option of the same
    model dominates; every other option named with one that dominates it (the cheapest)."""
    ranked = sorted(points, key=lambda p: (p.model, p.usd_per_million or 0.0, p.p99_ms))
    result = Front(ranked, sandbox=sandbox or [])
    for model in sorted({p.model for p in ranked}):
        group = [p for p in ranked if p.model == model]
        result.front[model] = []
        result.dominated[model] = {}
        for p in group:
            by = [q for q in group if dominates(q, p)]
            if by:
                result.dominated[model][p.key] = by[0].key
            else:
                result.front[model].append(p.key)
    return result


def sandbox_points(journals: list[Path]) -> list[Point]:
    """Sandbox figures from drill journals: each stack's served rate and p99 over the phases it
    served alone, labelled `sandbox-cpu` (never priced: the sandbox runs on this host)."""
    points = []
    for path in journals:
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        ex = data.get("exitplan") or {}
        if ex.get("target") != "sandbox":
            continue
        for stack in {ex.get("from"), ex.get("to")} - {None}:
            alone = [
                p
                for p in ex.get("phases") or []
                if float((p.get("share") or {}).get(stack, 0) or 0) >= 0.99 and p.get("sent")
            ]
            seconds = sum(float(p.get("end_s", 0)) - float(p.get("start_s", 0)) for p in alone)
            if not alone or seconds <= 0:
                continue
            sent = sum(int(p.get("sent") or 0) for p in alone)
            p99 = max(float(p.get("p99_ms") or 0) for p in alone)
            points.append(
                Point(
                    model=str(ex.get("model") or "sandbox model"),
                    cloud="",
                    instance_type=f"sandbox:{stack}",
                    region="",
                    gpu_model="",
                    gpus=0,
                    throughput_per_s=sent / seconds,
                    p99_ms=p99,
                    usd_per_hour=None,
                    usd_per_million=None,
                    basis=SANDBOX,
                    scaling="offered load on the sandbox (CPU), not a capacity",
                    source=str(path),
                    pricing="",
                )
            )
    return points
