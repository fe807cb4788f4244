"""`exitplan cost compare`: one job (an instance type for N hours) priced under every pricing
model its cloud offers, with savings against on-demand, the break-even utilisation of each
commitment and a recommendation with its reasons.

A commitment (reserved or savings plan) bills every hour of its term whether the job runs or
not, so the job costs `rate x term hours` per instance (per started term when the job runs
longer than one). Its break-even utilisation is the share of the term the instance must run
for the commitment to cost less than on-demand: `rate / on-demand rate`. Spot bills only the
hours run but can be interrupted, so it is recommended only for a job that can checkpoint
and resume (`interruptible`).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from components.catalog import instance_types
from components.catalog.pricing import (
    ALL_MODELS,
    ON_DEMAND,
    Price,
    clouds,
    instance,
    instance_price,
    models,
)
from components.errors import CatalogError, InputError

SPOT = "spot"


@dataclass(frozen=True)
class Job:
    """What to price: `gpus` GPUs (default: one instance's worth) for `hours` hours."""

    instance_type: str
    hours: float
    gpus: int | None = None
    cloud: str | None = None
    region: str | None = None
    interruptible: bool = False


@dataclass(frozen=True)
class Option:
    """The job under one pricing model."""

    model: str
    usd_per_hour: float
    job_cost: float
    savings_pct: float  # against on-demand; negative when it costs more
    term_hours: int
    terms: int
    break_even_utilisation: float | None  # commitments only: share of the term to beat on-demand
    break_even_hours: float | None
    basis: str
    note: str
    source: str
    as_of: str


@dataclass(frozen=True)
class Comparison:
    """Every option for the job, and the one recommended with its reasons."""

    cloud: str
    region: str
    instance_type: str
    gpu_model: str
    gpus_per_instance: int
    instances: int
    hours: float
    interruptible: bool
    options: list[Option]
    recommended: str
    reasons: list[str]

    def option(self, model: str) -> Option:
        """The option priced under `model`."""
        return next(o for o in self.options if o.model == model)

    def as_dict(self) -> dict[str, Any]:
        """The comparison as plain data (the `--json` output)."""
        return asdict(self)


def cloud_of(instance_type: str) -> str:
    """The cloud whose catalog lists `instance_type` (type names do not collide across clouds)."""
    for cloud in clouds():
        if any(t.instance_type == instance_type for t in instance_types(cloud)):
            return cloud
    every = sorted({t.instance_type for c in clouds() for t in instance_types(c) if t.gpu_count})
    raise CatalogError(
        f"instance type {instance_type!r} is in no cloud's catalog",
        field="--instance",
        fix=f"use one of: {', '.join(every)}",
    )


def _validate(job: Job) -> None:
    if not math.isfinite(job.hours) or job.hours <= 0:
        raise InputError(
            f"hours must be a positive number, got {job.hours:g}",
            field="--hours",
            fix="give the job's running time in hours, e.g. --hours 100",
        )
    if job.gpus is not None and job.gpus <= 0:
        raise InputError(
            f"gpus must be a positive whole number, got {job.gpus}",
            field="--gpus",
            fix="give how many GPUs the job needs, e.g. --gpus 8",
        )


def compare(job: Job) -> Comparison:
    """Price `job` under every model its cloud offers and recommend one (see module docstring).
    Bad input raises an `InputError` naming the option (`--instance`, `--cloud`, `--region`,
    `--hours`, `--gpus`) and listing valid values."""
    _validate(job)
    cloud = job.cloud or cloud_of(job.instance_type)
    try:
        region = job.region or _first_region(cloud, job.instance_type)
        base = instance(cloud, job.instance_type, region)
    except CatalogError as exc:
        raise CatalogError(exc.problem, field=f"--{exc.field}", fix=exc.fix) from None
    per_instance = max(base.gpu_count, 1)
    instances = math.ceil(job.gpus / per_instance) if job.gpus else 1
    prices = {m: instance_price(cloud, job.instance_type, region, m) for m in models(cloud)}
    on_demand = prices[ON_DEMAND].usd_per_hour * job.hours * instances
    options = [
        _option(p, prices[ON_DEMAND], job.hours, instances, on_demand) for p in prices.values()
    ]
    options.sort(key=lambda o: ALL_MODELS.index(o.model))
    recommended, reasons = _recommend(options, job)
    return Comparison(
        cloud=cloud,
        region=region,
        instance_type=job.instance_type,
        gpu_model=base.gpu_model,
        gpus_per_instance=base.gpu_count,
        instances=instances,
        hours=job.hours,
        interruptible=job.interruptible,
        options=options,
        recommended=recommended,
        reasons=reasons,
    )


def _first_region(cloud: str, instance_type: str) -> str:
    """The first catalog region of the type; "" when the cloud or type is unknown, so that
    `instance` names the bad one."""
    if cloud in clouds():
        for row in instance_types(cloud):
            if row.instance_type == instance_type:
                return row.region
    return ""


def _option(price: Price, on_demand: Price, hours: float, instances: int, od_cost: float) -> Option:
    term = price.term_hours
    terms = math.ceil(hours / term) if term else 0
    billed_hours = terms * term if term else hours
    cost = price.usd_per_hour * billed_hours * instances
    ratio = price.usd_per_hour / on_demand.usd_per_hour
    return Option(
        model=price.model,
        usd_per_hour=price.usd_per_hour,
        job_cost=cost,
        savings_pct=(1 - cost / od_cost) * 100,
        term_hours=term,
        terms=terms,
        break_even_utilisation=ratio if term else None,
        break_even_hours=ratio * term if term else None,
        basis=price.basis,
        note=price.note,
        source=price.source,
        as_of=price.as_of.isoformat(),
    )


def _recommend(options: list[Option], job: Job) -> tuple[str, list[str]]:
    """The cheapest option the job may use (spot only when interruptible), with the reasons."""
    eligible = [o for o in options if o.model != SPOT or job.interruptible]
    best = min(eligible, key=lambda o: o.job_cost)
    od = next(o for o in options if o.model == ON_DEMAND)
    reasons = [
        f"{best.model} is the cheapest option this job can use: ${best.job_cost:,.2f}"
        + (f" ({best.savings_pct:.1f}% less than on-demand)" if best.model != ON_DEMAND else "")
    ]
    for o in options:
        if o.break_even_utilisation is None:
            continue
        share = job.hours / (o.term_hours * o.terms)
        verdict = "beats" if o.job_cost < od.job_cost else "does not beat"
        reasons.append(
            f"{o.model} bills all {o.term_hours * o.terms:,} hours of its term"
            f"{'s' if o.terms > 1 else ''} (${o.job_cost:,.2f}); it beats on-demand only from "
            f"{o.break_even_utilisation:.1%} of the term ({o.break_even_hours:,.0f} h), and this "
            f"job uses {share:.1%}, so it {verdict} on-demand"
        )
    spot = next((o for o in options if o.model == SPOT), None)
    if spot is not None:
        if job.interruptible:
            reasons.append(f"spot is allowed (the job can checkpoint and resume): {spot.note}")
        else:
            reasons.append(
                f"spot would cost ${spot.job_cost:,.2f} ({spot.savings_pct:.1f}% less than "
                f"on-demand) but can be interrupted ({spot.note}); pass --interruptible if the "
                "job checkpoints and resumes"
            )
    if best.basis == "estimate":
        reasons.append(f"{best.model}'s rate is an estimate, not a published rate: {best.note}")
    if od.job_cost and best.model == ON_DEMAND:
        reasons.append("on-demand commits to nothing: stop the instance and billing stops")
    return best.model, reasons
