"""Which planned resources cost money, and how much a month: one pricing function per Pulumi
type (`pricers()`), each reading the resource's planned inputs, so cost and plan agree.

This module is cloud-neutral: each registered cloud's pricers live in `components/cost/<cloud>/`
(its `PRICERS`, the name its compute is billed under, the load balancer a LoadBalancer Service
creates there), and the table is assembled from the registry. Node pools are read where each
cloud declares them; their node-hours follow the utilisation profile for inference pools; system
pools run at their minimum. Every other resource is priced from `service_prices.csv`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from functools import cache
from typing import Any, Protocol, cast

from components.catalog import InstanceType, instance_types
from components.catalog.pricing import MODELS, ON_DEMAND, Price, instance_price
from components.catalog.service_prices import service_price
from components.cost.lines import Line, Unpriced
from components.cost.profile import HOURS_PER_MONTH, Profile
from components.errors import CatalogError
from components.planning.runner import Plan, PlannedResource
from components.providers.registry import CLOUDS
from components.stack_config import Stack

MIB_PER_GB = 1024  # the clouds bill storage and transfer per GiB and call it GB
SPOT = "spot"
COMPUTE_SUBCATEGORY = "Virtual Machines"  # FOCUS ServiceSubcategory of node and instance lines


@dataclass
class Context:
    """What pricing one program's resources needs: whose lines they are, the cloud and region
    that bill them, the plan and the profile. An exitplan stack (`of_stack`) also gives the
    models its store keeps and the stacks its health checks watch; a Pulumi program that is not
    exitplan's (a preview or a state) has neither."""

    name: str  # the stack or program on every line
    cloud: str
    region: str  # an edge's parent region
    kind: str  # an exitplan stack's kind, or "program"
    plan: Plan
    profile: Profile
    stack: Stack | None = None

    @classmethod
    def of_stack(cls, stack: Stack, plan: Plan, profile: Profile) -> Context:
        """The context of one of exitplan's own stacks."""
        provider, region = str(stack.spec.provider), str(stack.spec.region)
        return cls(stack.name, provider, region, stack.kind, plan, profile, stack)

    @property
    def models_gb(self) -> float:
        """GB of the Triton repository's current model versions (what one copy moves); 0 for
        a program that is not exitplan's."""
        models = self.stack.spec.triton.models if self.stack else []
        return sum(m.size_mib for m in models) / MIB_PER_GB

    @property
    def stored_gb(self) -> float:
        """GB the model store keeps: each model's versions 1..N at its size (the repository
        keeps every version directory; the buckets are versioned); 0 for a program that is
        not exitplan's (its usage is not in its code)."""
        models = self.stack.spec.triton.models if self.stack else []
        return sum(m.size_mib * m.version for m in models) / MIB_PER_GB

    def line(
        self,
        r: PlannedResource,
        kind: str,
        price: Any,
        quantity: float,
        description: str,
        *,
        cloud: str = "",
        note: str = "",
    ) -> Line:
        """A line priced from a service price row."""
        return Line(
            stack=self.name,
            cloud=cloud or self.cloud,
            kind=kind,
            resource=r.name,
            resource_type=r.type,
            description=description,
            region=self.region,
            service_name=price.service_name,
            service_category=price.service_category,
            service_subcategory=price.service_subcategory,
            unit=price.unit,
            unit_price=price.usd,
            list_unit_price=price.usd,
            quantity=quantity,
            source=price.provenance.source,
            as_of=price.provenance.as_of,
            note="; ".join(part for part in (price.note, note) if part),
        )

    def unpriced(self, r: PlannedResource, reason: str) -> Unpriced:
        """An entry for a resource with no catalog price."""
        return Unpriced(self.name, r.name, r.type, reason)


Priced = Line | Unpriced
Pricer = Callable[[Context, PlannedResource], Iterator[Priced]]


class CloudPricing(Protocol):
    """What a cloud's pricing module (`components.cost.<cloud>`) gives the neutral code."""

    # Pulumi type token -> its pricer, for this cloud's resources.
    PRICERS: dict[str, Pricer]
    # The service name its compute (node-hours) is billed under.
    COMPUTE_SERVICE: str
    # A note on an edge stack's node lines ("" for none).
    EDGE_NODE_NOTE: str
    # What a Kubernetes Service of type LoadBalancer costs there.
    LOAD_BALANCER: Pricer


def cloud_pricing(cloud: str) -> CloudPricing:
    """The pricing module of a registered cloud."""
    if cloud not in CLOUDS:
        raise CatalogError(f"{cloud!r} is not a registered cloud: {', '.join(CLOUDS)}")
    return cast("CloudPricing", importlib.import_module(f"components.cost.{cloud}"))


@dataclass(frozen=True)
class NodePool:
    """A planned node pool: machine type, size bounds, role and capacity type."""

    resource: PlannedResource
    instance_type: str
    low: int
    high: int
    inference: bool
    spot: bool = False
    vcpus: int | None = None  # flexible shapes: the vCPUs asked for
    role: str = ""  # what the lines call it; default "inference" or "system"


def node_line(ctx: Context, pool: NodePool) -> Priced:
    """The monthly cost of a node pool under its planned capacity type, at the profile, at
    min and at max, and under every pricing model the catalog offers for its type."""
    planned = SPOT if pool.spot else ON_DEMAND
    try:
        rates = _rates(ctx.cloud, pool.instance_type, ctx.region, pool.vcpus)
        price = rates[planned]
    except (CatalogError, KeyError) as exc:
        return ctx.unpriced(pool.resource, f"{pool.instance_type} in {ctx.region}: {exc}")
    assert isinstance(price, Price)
    low, high = pool.low, pool.high
    if pool.inference:
        hours, peak = ctx.profile.node_hours(low, high), ctx.profile.peak(low, high)
    else:
        hours, peak = float(low * HOURS_PER_MONTH), low
    models: dict[str, float | None] = {}
    for model, rate in rates.items():
        if rate is None:
            models[model] = None
        elif rate.term_hours:  # a commitment bills every hour for the peak count
            models[model] = rate.usd_per_hour * peak * HOURS_PER_MONTH
        else:
            models[model] = rate.usd_per_hour * hours
    role = pool.role or ("inference" if pool.inference else "system")
    pricing = cloud_pricing(ctx.cloud)
    notes = [price.note]
    if ctx.kind == "edge":
        notes.append(pricing.EDGE_NODE_NOTE)
    clamped = ctx.profile.clamped(low, high) if pool.inference else []
    if clamped:
        notes.append(f"profile held inside {low}..{high} nodes at hours {clamped}")
    on_demand = rates[ON_DEMAND]
    assert on_demand is not None
    return Line(
        stack=ctx.name,
        cloud=ctx.cloud,
        kind="node",
        resource=pool.resource.name,
        resource_type=pool.resource.type,
        description=f"{role} {pool.instance_type}",
        region=ctx.region,
        service_name=pricing.COMPUTE_SERVICE,
        service_category="Compute",
        service_subcategory=COMPUTE_SUBCATEGORY,
        unit="Hours",
        unit_price=price.usd_per_hour,
        list_unit_price=on_demand.usd_per_hour,
        quantity=hours,
        source=price.source,
        as_of=price.as_of,
        note="; ".join(n for n in notes if n),
        pricing_model=planned,
        quantity_min=float(low * HOURS_PER_MONTH),
        quantity_max=float(high * HOURS_PER_MONTH),
        nodes=(low, high),
        models=models,
    )


def _rates(
    cloud: str, instance_type: str, region: str, vcpus: int | None
) -> dict[str, Price | None]:
    """The hourly price under each model (None where the cloud offers none for the type); a
    flexible shape is priced at the catalog row of its size, models keeping their ratio."""
    base = instance_price(cloud, instance_type, region, ON_DEMAND)
    size = _flex_row(cloud, instance_type, region, vcpus) if vcpus else None
    rates: dict[str, Price | None] = {}
    for model in MODELS:
        try:
            price = instance_price(cloud, instance_type, region, model)
        except CatalogError:
            rates[model] = None
            continue
        if size is not None:
            ratio = price.usd_per_hour / base.usd_per_hour
            price = Price(
                size.usd_per_hour * ratio,
                price.source,
                price.as_of,
                price.note,
                price.model,
                price.basis,
            )
        rates[model] = price
    return rates


def _flex_row(cloud: str, instance_type: str, region: str, vcpus: int) -> InstanceType:
    for row in instance_types(cloud):
        if (row.instance_type, row.region, row.vcpus) == (instance_type, region, vcpus):
            return row
    raise CatalogError(f"{instance_type} with {vcpus} vCPUs has no price in {region}")


def num(value: Any) -> int:
    """A planned count (a number, a numeric string or nothing) as an int."""
    return int(float(value or 0))


def is_gpu_pool(labels: dict[str, Any]) -> bool:
    """Whether a pool's node labels make it an inference (GPU) pool, not the system pool."""
    return str(labels.get("exitplan.io/pool", "")) != "system"


# --- control planes -------------------------------------------------------------------------


def control_plane(scope: Callable[[PlannedResource], str], label: str) -> Pricer:
    """A pricer for a cluster's control-plane fee, by the scope its inputs select."""

    def price(ctx: Context, r: PlannedResource) -> Iterator[Priced]:
        kind = scope(r)
        rate = service_price(ctx.cloud, "control-plane", kind, ctx.region)
        yield ctx.line(r, "control-plane", rate, HOURS_PER_MONTH, f"{label} {kind}")

    price.__doc__ = f"The {label}'s control-plane fee."
    return price


# --- load balancers -----------------------------------------------------------------------------


def service(ctx: Context, r: PlannedResource) -> Iterator[Priced]:
    """A Kubernetes Service of type LoadBalancer: the load balancer its cloud creates."""
    if r.inputs.get("spec", {}).get("type") != "LoadBalancer":
        return
    yield from cloud_pricing(ctx.cloud).LOAD_BALANCER(ctx, r)


def load_balancer(scope: str) -> Pricer:
    """A pricer for the load balancer of a Service, billed by the hour at its `scope`'s rate."""

    def price(ctx: Context, r: PlannedResource) -> Iterator[Priced]:
        rate = service_price(ctx.cloud, "load-balancer", scope, ctx.region)
        yield ctx.line(r, "load-balancer", rate, HOURS_PER_MONTH, f"LB {rate.scope}")

    price.__doc__ = f"A Service's {scope} load balancer, by the hour."
    return price


# --- storage, keys, network -------------------------------------------------------------------


def storage(scope: Callable[[PlannedResource], str]) -> Pricer:
    """A pricer for a model store: the GB the repository keeps, a month."""

    def price(ctx: Context, r: PlannedResource) -> Iterator[Priced]:
        rate = service_price(ctx.cloud, "storage", scope(r), ctx.region)
        note = (
            "models' size_mib x versions kept"
            if ctx.stack
            else "usage is not in the program: 0 GB priced, the rate is per GB-month"
        )
        yield ctx.line(r, "storage", rate, ctx.stored_gb, f"store {rate.scope}", note=note)

    price.__doc__ = "A model store's GB-months."
    return price


def flat(item: str, scope: str, quantity: float, label: str) -> Pricer:
    """A pricer for a resource billed a fixed quantity a month (an hour-priced gateway, an
    address, a key)."""

    def price(ctx: Context, r: PlannedResource) -> Iterator[Priced]:
        yield ctx.line(r, item, service_price(ctx.cloud, item, scope, ctx.region), quantity, label)

    price.__doc__ = f"A {label}: {quantity:g} units a month."
    return price


def with_price(line: Line, unit_price: float) -> Line:
    """A line at another unit price (a base price plus features)."""
    return replace(line, unit_price=unit_price, list_unit_price=unit_price)


def checked_cloud(ctx: Context, r: PlannedResource) -> str:
    """The cloud of the stack a health check watches (its name ends with the stack's), ""
    for a calculated check, "other" for an endpoint outside the stacks (every endpoint of a
    program that is not exitplan's: the dearer rate, as its target is not known)."""
    if r.inputs.get("type") == "CALCULATED":
        return ""
    stack = ctx.stack
    if stack is None or stack.traffic is None:
        return "other"
    for name in stack.traffic.stacks:
        if r.name.endswith(f"-health-{name}"):
            return str(stack.project.stack(name).spec.provider)
    return "other"


# --- the table --------------------------------------------------------------------------------


@cache
def pricers() -> dict[str, Pricer]:
    """Every pricer by Pulumi type: each registered cloud's `PRICERS`, and the Kubernetes
    Service, whose load balancer its cloud prices. (Assembled on first use: the cloud modules
    import this one.)"""
    table: dict[str, Pricer] = {}
    for cloud in CLOUDS:
        table.update(cloud_pricing(cloud).PRICERS)
    table["kubernetes:core/v1:Service"] = service
    return table


def price_resources(ctx: Context) -> tuple[list[Line], list[Unpriced]]:
    """Every priced line of the plan, and the resources that cost money but have no price."""
    lines: list[Line] = []
    unpriced: list[Unpriced] = []
    for r in ctx.plan.resources:
        for item in pricers().get(r.type, _free)(ctx, r):
            if isinstance(item, Line):
                lines.append(item)
            else:
                unpriced.append(item)
    return lines, unpriced


def _free(ctx: Context, r: PlannedResource) -> Iterator[Priced]:
    """Resources with no charge of their own (IAM, networks, Kubernetes objects...)."""
    return iter(())
