"""Which planned resources cost money, and how much a month: one pricing function per Pulumi
type (`PRICERS`), each reading the resource's planned inputs, so cost and plan agree.

Node pools are read where each cloud declares them: EKS node groups and self-managed
Auto Scaling groups (their launch template's type), AKS system profiles and agent pools, GKE
node pools, OKE node pools (the cluster autoscaler add-on's `min:max:pool` bounds). Their
node-hours follow the utilisation profile for inference pools; system pools run at their
minimum. Every other resource is priced from `service_prices.csv`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import Any

from components.catalog import InstanceType, instance_types
from components.catalog.pricing import MODELS, ON_DEMAND, Price, instance_price
from components.catalog.service_prices import service_price
from components.cost.lines import Line, Unpriced
from components.cost.profile import HOURS_PER_MONTH, Profile
from components.errors import CatalogError
from components.planning.runner import Plan, PlannedResource
from components.stack_config import Stack

MIB_PER_GB = 1024  # the clouds bill storage and transfer per GiB and call it GB
SPOT = "spot"


@dataclass
class Context:
    """What pricing one stack's resources needs: the stack, its plan and the profile."""

    stack: Stack
    plan: Plan
    profile: Profile

    @property
    def cloud(self) -> str:
        """The stack's cloud."""
        return str(self.stack.spec.provider)

    @property
    def region(self) -> str:
        """The stack's region (an edge's parent region)."""
        return str(self.stack.spec.region)

    @property
    def models_gb(self) -> float:
        """GB of the Triton repository's current model versions (what one copy moves)."""
        return sum(m.size_mib for m in self.stack.spec.triton.models) / MIB_PER_GB

    @property
    def stored_gb(self) -> float:
        """GB the model store keeps: each model's versions 1..N at its size (the repository
        keeps every version directory; the buckets are versioned)."""
        return sum(m.size_mib * m.version for m in self.stack.spec.triton.models) / MIB_PER_GB

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
            stack=self.stack.name,
            cloud=cloud or self.cloud,
            kind=kind,
            resource=r.name,
            resource_type=r.type,
            description=description,
            region=self.region,
            service_name=price.service_name,
            service_category=price.service_category,
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
        return Unpriced(self.stack.name, r.name, r.type, reason)


Priced = Line | Unpriced
Pricer = Callable[[Context, PlannedResource], Iterator[Priced]]


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
    role = "inference" if pool.inference else "system"
    notes = [price.note]
    if ctx.stack.kind == "edge" and ctx.cloud == "aws":
        notes.append("priced at the parent region's rate: Wavelength Zone rates differ")
    clamped = ctx.profile.clamped(low, high) if pool.inference else []
    if clamped:
        notes.append(f"profile held inside {low}..{high} nodes at hours {clamped}")
    on_demand = rates[ON_DEMAND]
    assert on_demand is not None
    return Line(
        stack=ctx.stack.name,
        cloud=ctx.cloud,
        kind="node",
        resource=pool.resource.name,
        resource_type=pool.resource.type,
        description=f"{role} {pool.instance_type}",
        region=ctx.region,
        service_name=_COMPUTE[ctx.cloud],
        service_category="Compute",
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


_COMPUTE = {
    "aws": "Amazon Elastic Compute Cloud",
    "azure": "Virtual Machines",
    "gcp": "Compute Engine",
    "oci": "OCI Compute",
}


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


def _num(value: Any) -> int:
    return int(float(value or 0))


def _is_gpu_pool(labels: dict[str, Any]) -> bool:
    return str(labels.get("exitplan.io/pool", "")) != "system"


# --- nodes, per cloud ---------------------------------------------------------------------------


def eks_node_group(ctx: Context, r: PlannedResource) -> Iterator[Priced]:
    """An EKS managed node group: its first instance type, scaling bounds, capacity type."""
    scaling = r.inputs.get("scalingConfig", {})
    yield node_line(
        ctx,
        NodePool(
            r,
            r.inputs["instanceTypes"][0],
            _num(scaling.get("minSize")),
            _num(scaling.get("maxSize")),
            _is_gpu_pool(r.inputs.get("labels", {})),
            spot=r.inputs.get("capacityType") == "SPOT",
        ),
    )


def auto_scaling_group(ctx: Context, r: PlannedResource) -> Iterator[Priced]:
    """Self-managed nodes (a Wavelength edge): the type of the launch template it uses."""
    templates = [
        t
        for t in ctx.plan.of_type("aws:ec2/launchTemplate:LaunchTemplate")
        if t.name in r.dependencies
    ]
    if not templates:
        yield ctx.unpriced(r, "no launch template planned for the group: its type is unknown")
        return
    kind = templates[0].inputs["instanceType"]
    pool = NodePool(r, kind, _num(r.inputs.get("minSize")), _num(r.inputs.get("maxSize")), True)
    yield node_line(ctx, pool)


def aks_cluster(ctx: Context, r: PlannedResource) -> Iterator[Priced]:
    """An AKS cluster: its tier's control-plane fee and its system pool profiles."""
    tier = str((r.inputs.get("sku") or {}).get("tier", "Free")).lower()
    price = service_price("azure", "control-plane", f"aks-{tier}", ctx.region)
    yield ctx.line(r, "control-plane", price, HOURS_PER_MONTH, f"AKS {tier}")
    for profile in r.inputs.get("agentPoolProfiles", []):
        count = _num(profile.get("count"))
        low = _num(profile.get("minCount", count))
        high = _num(profile.get("maxCount", count))
        yield node_line(ctx, NodePool(r, profile["vmSize"], low, high, inference=False))


def aks_agent_pool(ctx: Context, r: PlannedResource) -> Iterator[Priced]:
    """An AKS agent pool: VM size, autoscaling bounds (or a fixed count), priority."""
    count = _num(r.inputs.get("count"))
    scaling = r.inputs.get("enableAutoScaling")
    low = _num(r.inputs.get("minCount")) if scaling else count
    high = _num(r.inputs.get("maxCount")) if scaling else count
    yield node_line(
        ctx,
        NodePool(
            r,
            r.inputs["vmSize"],
            low,
            high,
            _is_gpu_pool(r.inputs.get("nodeLabels", {})),
            spot=r.inputs.get("scaleSetPriority") == "Spot",
        ),
    )


def gke_node_pool(ctx: Context, r: PlannedResource) -> Iterator[Priced]:
    """A GKE node pool: machine type, total autoscaling bounds (per-zone bounds times zones),
    spot."""
    config = r.inputs.get("nodeConfig", {})
    scaling = r.inputs.get("autoscaling") or {}
    zones = max(len(r.inputs.get("nodeLocations") or []), 1)
    if "totalMinNodeCount" in scaling:
        low, high = _num(scaling["totalMinNodeCount"]), _num(scaling["totalMaxNodeCount"])
    elif scaling:
        low = _num(scaling.get("minNodeCount")) * zones
        high = _num(scaling.get("maxNodeCount")) * zones
    else:
        low = high = _num(r.inputs.get("nodeCount", r.inputs.get("initialNodeCount")))
    pool = NodePool(
        r,
        config["machineType"],
        low,
        high,
        _is_gpu_pool(config.get("labels", {})),
        spot=bool(config.get("spot")),
    )
    yield node_line(ctx, pool)


def oke_node_pool(ctx: Context, r: PlannedResource) -> Iterator[Priced]:
    """An OKE node pool: shape (a flexible one's OCPUs, 2 vCPUs each), size, and the bounds
    the cluster autoscaler add-on gives it (`min:max:<pool id>`)."""
    size = _num(r.inputs.get("nodeConfigDetails", {}).get("size"))
    low, high = _autoscaler_bounds(ctx, r) or (size, size)
    labels = {x["key"]: x["value"] for x in r.inputs.get("initialNodeLabels", [])}
    ocpus = (r.inputs.get("nodeShapeConfig") or {}).get("ocpus")
    pool = NodePool(
        r,
        r.inputs["nodeShape"],
        low,
        high,
        _is_gpu_pool(labels),
        vcpus=2 * _num(ocpus) if ocpus else None,
    )
    yield node_line(ctx, pool)


def _autoscaler_bounds(ctx: Context, pool: PlannedResource) -> tuple[int, int] | None:
    for r in ctx.plan.of_type("oci:ContainerEngine/addon:Addon"):
        for item in r.inputs.get("configurations", []):
            low, _, rest = str(item.get("value", "")).partition(":")
            high, _, target = rest.partition(":")
            if item.get("key") == "nodes" and target == f"{pool.name}-id":
                return int(low), int(high)
    return None


GDC_PRICING = "https://cloud.google.com/distributed-cloud/edge/latest/docs/pricing"


def edge_node_pool(ctx: Context, r: PlannedResource) -> Iterator[Priced]:
    """Google Distributed Cloud connected nodes: hardware under a subscription contract."""
    reason = f"Distributed Cloud connected racks are priced by subscription ({GDC_PRICING})"
    yield ctx.unpriced(r, reason)


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

_LB_SCOPE = {"aws": "nlb", "azure": "standard", "gcp": "forwarding-rule", "oci": "flexible"}
_OCI_MIN_MBPS = "service.beta.kubernetes.io/oci-load-balancer-shape-flex-min"


def service(ctx: Context, r: PlannedResource) -> Iterator[Priced]:
    """A Kubernetes Service of type LoadBalancer: the load balancer its cloud creates."""
    if r.inputs.get("spec", {}).get("type") != "LoadBalancer":
        return
    if ctx.stack.kind == "edge" and ctx.cloud == "gcp":
        yield ctx.unpriced(
            r,
            "the address comes from the rack's own pool (load_balancer_pools), "
            "part of the Distributed Cloud subscription",
        )
        return
    rate = service_price(ctx.cloud, "load-balancer", _LB_SCOPE[ctx.cloud], ctx.region)
    yield ctx.line(r, "load-balancer", rate, HOURS_PER_MONTH, f"LB {rate.scope}")
    if ctx.cloud == "oci":
        mbps = float(r.inputs.get("metadata", {}).get("annotations", {}).get(_OCI_MIN_MBPS, 10))
        bandwidth = service_price("oci", "load-balancer", "flexible-mbps", ctx.region)
        yield ctx.line(
            r,
            "load-balancer",
            bandwidth,
            mbps * HOURS_PER_MONTH,
            f"LB bandwidth {mbps:g} Mbps",
        )


# --- storage, keys, network -------------------------------------------------------------------


def storage(scope: Callable[[PlannedResource], str]) -> Pricer:
    """A pricer for a model store: the GB the repository keeps, a month."""

    def price(ctx: Context, r: PlannedResource) -> Iterator[Priced]:
        rate = service_price(ctx.cloud, "storage", scope(r), ctx.region)
        note = "models' size_mib x versions kept"
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


def health_check(ctx: Context, r: PlannedResource) -> Iterator[Priced]:
    """A Route 53 health check: basic (AWS or other endpoint) plus each optional feature."""
    target = _checked_cloud(ctx, r)
    where = "aws-endpoint" if target in ("aws", "") else "non-aws-endpoint"
    base = service_price("aws", "dns-health-check", where)
    feature = service_price("aws", "dns-health-check", f"feature-{where}")
    kind = str(r.inputs.get("type", ""))
    features = [
        name
        for name, on in (
            ("fast interval", _num(r.inputs.get("requestInterval")) == 10),
            ("HTTPS", kind.startswith("HTTPS")),
            ("string matching", kind.endswith("STR_MATCH")),
            ("latency", bool(r.inputs.get("measureLatency"))),
        )
        if on
    ]
    line = ctx.line(
        r,
        "dns-health-check",
        base,
        1,
        f"health check ({target or 'calculated'})",
        note=f"features: {', '.join(features) or 'none'}",
    )
    yield _with_price(line, base.usd + feature.usd * len(features))


def _with_price(line: Line, unit_price: float) -> Line:
    return replace(line, unit_price=unit_price, list_unit_price=unit_price)


def _checked_cloud(ctx: Context, r: PlannedResource) -> str:
    """The cloud of the stack a health check watches (its name ends with the stack's), ""
    for a calculated check (billed as an AWS-endpoint check)."""
    if r.inputs.get("type") == "CALCULATED":
        return ""
    traffic = ctx.stack.traffic
    for name in traffic.stacks if traffic else ():
        if r.name.endswith(f"-health-{name}"):
            return str(ctx.stack.project.stack(name).spec.provider)
    return "other"


def transfer_job(ctx: Context, r: PlannedResource) -> Iterator[Priced]:
    """Storage Transfer Service copying the primary's store on a schedule: the source cloud's
    internet egress for one copy of the models per run (an upper bound: unchanged objects are
    skipped, so a month without a new version moves almost nothing)."""
    spec = r.inputs.get("transferSpec", {})
    source = (
        "aws"
        if "awsS3DataSource" in spec
        else "azure"
        if "azureBlobStorageDataSource" in spec
        else ""
    )
    if not source:
        return
    interval = float(str(r.inputs.get("schedule", {}).get("repeatInterval", "86400s")).rstrip("s"))
    runs = HOURS_PER_MONTH * 3600 / interval
    gb = ctx.models_gb * runs
    route = f"{'S3' if source == 'aws' else 'Blob'}->GCS"
    egress = service_price(source, "egress", "internet")
    note = f"{runs:g} runs a month x {ctx.models_gb:.3f} GB of models: an upper bound"
    yield ctx.line(r, "egress", egress, gb, f"egress {route}", cloud=source, note=note)
    service_fee = service_price("gcp", "egress", "transfer-service")
    yield ctx.line(r, "egress", service_fee, gb, f"transfer {route}")


def _azure_storage_scope(r: PlannedResource) -> str:
    sku = str((r.inputs.get("sku") or {}).get("name", "Standard_LRS"))
    return "blob-hot-zrs" if sku.endswith("ZRS") else "blob-hot-lrs"


PRICERS: dict[str, Pricer] = {
    "aws:eks/cluster:Cluster": control_plane(lambda r: "eks-standard", "EKS"),
    "aws:eks/nodeGroup:NodeGroup": eks_node_group,
    "aws:autoscaling/group:Group": auto_scaling_group,
    "aws:s3/bucket:Bucket": storage(lambda r: "s3-standard"),
    "aws:route53/healthCheck:HealthCheck": health_check,
    "aws:ec2/natGateway:NatGateway": flat(
        "nat-gateway", "nat-gateway", HOURS_PER_MONTH, "NAT gateway"
    ),
    "aws:ec2/eip:Eip": flat("public-ip", "ipv4", HOURS_PER_MONTH, "public IPv4 address"),
    "aws:kms/key:Key": flat("kms-key", "customer-managed", 1, "KMS key"),
    "azure-native:containerservice:ManagedCluster": aks_cluster,
    "azure-native:containerservice:AgentPool": aks_agent_pool,
    "azure-native:storage:StorageAccount": storage(_azure_storage_scope),
    "gcp:container/cluster:Cluster": control_plane(lambda r: "gke", "GKE"),
    "gcp:container/nodePool:NodePool": gke_node_pool,
    "gcp:edgecontainer/nodePool:NodePool": edge_node_pool,
    "gcp:storage/bucket:Bucket": storage(lambda r: "standard"),
    "gcp:storage/transferJob:TransferJob": transfer_job,
    "gcp:kms/cryptoKey:CryptoKey": flat("kms-key", "software", 1, "KMS key version"),
    "oci:ContainerEngine/cluster:Cluster": control_plane(
        lambda r: "oke-enhanced" if r.inputs.get("type") == "ENHANCED_CLUSTER" else "oke-basic",
        "OKE",
    ),
    "oci:ContainerEngine/nodePool:NodePool": oke_node_pool,
    "oci:ObjectStorage/bucket:Bucket": storage(lambda r: "standard"),
    "kubernetes:core/v1:Service": service,
}


def price_resources(ctx: Context) -> tuple[list[Line], list[Unpriced]]:
    """Every priced line of the plan, and the resources that cost money but have no price."""
    lines: list[Line] = []
    unpriced: list[Unpriced] = []
    for r in ctx.plan.resources:
        for item in PRICERS.get(r.type, _free)(ctx, r):
            if isinstance(item, Line):
                lines.append(item)
            else:
                unpriced.append(item)
    return lines, unpriced


def _free(ctx: Context, r: PlannedResource) -> Iterator[Priced]:
    """Resources with no charge of their own (IAM, networks, Kubernetes objects...)."""
    return iter(())
