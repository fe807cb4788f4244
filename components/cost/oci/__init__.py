"""Oracle Cloud pricing: OKE (the cluster type's control-plane fee, node pools with the bounds
the cluster autoscaler add-on gives them), compute instances, Object Storage, flexible load
balancers and the one a LoadBalancer Service creates (its hours and its minimum bandwidth)."""

from __future__ import annotations

from collections.abc import Iterator

from components.catalog.service_prices import service_price
from components.cost.profile import HOURS_PER_MONTH
from components.cost.resources import (
    Context,
    NodePool,
    Priced,
    Pricer,
    control_plane,
    is_gpu_pool,
    load_balancer,
    node_line,
    num,
    storage,
)
from components.planning.runner import PlannedResource

COMPUTE_SERVICE = "OCI Compute"
EDGE_NODE_NOTE = ""
_OCI_MIN_MBPS = "service.beta.kubernetes.io/oci-load-balancer-shape-flex-min"
_FLEXIBLE = load_balancer("flexible")


def oke_node_pool(ctx: Context, r: PlannedResource) -> Iterator[Priced]:
    """An OKE node pool: shape (a flexible one's OCPUs, 2 vCPUs each), size, and the bounds
    the cluster autoscaler add-on gives it (`min:max:<pool id>`)."""
    size = num(r.inputs.get("nodeConfigDetails", {}).get("size"))
    low, high = _autoscaler_bounds(ctx, r) or (size, size)
    labels = {x["key"]: x["value"] for x in r.inputs.get("initialNodeLabels", [])}
    ocpus = (r.inputs.get("nodeShapeConfig") or {}).get("ocpus")
    pool = NodePool(
        r,
        r.inputs["nodeShape"],
        low,
        high,
        is_gpu_pool(labels),
        vcpus=2 * num(ocpus) if ocpus else None,
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


def compute_instance(ctx: Context, r: PlannedResource) -> Iterator[Priced]:
    """One compute instance, running all month: its shape (a flexible one's OCPUs, 2 vCPUs
    each), preemptible when its options say so."""
    ocpus = (r.inputs.get("shapeConfig") or {}).get("ocpus")
    spot = bool(r.inputs.get("preemptibleInstanceConfig"))
    vcpus = 2 * num(ocpus) if ocpus else None
    yield node_line(
        ctx, NodePool(r, r.inputs["shape"], 1, 1, False, spot, vcpus=vcpus, role="instance")
    )


def service_load_balancer(ctx: Context, r: PlannedResource) -> Iterator[Priced]:
    """A LoadBalancer Service's flexible load balancer: its hours and its minimum bandwidth
    (the Service's shape-flex-min annotation, 10 Mbps unless set)."""
    mbps = float(r.inputs.get("metadata", {}).get("annotations", {}).get(_OCI_MIN_MBPS, 10))
    yield from _flexible(ctx, r, mbps)


def flexible_load_balancer(ctx: Context, r: PlannedResource) -> Iterator[Priced]:
    """A flexible load balancer: its hours and its minimum bandwidth (its shape details)."""
    details = r.inputs.get("shapeDetails") or {}
    yield from _flexible(ctx, r, float(details.get("minimumBandwidthInMbps", 10)))


def _flexible(ctx: Context, r: PlannedResource, mbps: float) -> Iterator[Priced]:
    yield from _FLEXIBLE(ctx, r)
    bandwidth = service_price("oci", "load-balancer", "flexible-mbps", ctx.region)
    yield ctx.line(
        r,
        "load-balancer",
        bandwidth,
        mbps * HOURS_PER_MONTH,
        f"LB bandwidth {mbps:g} Mbps",
    )


LOAD_BALANCER: Pricer = service_load_balancer
PRICERS: dict[str, Pricer] = {
    "oci:ContainerEngine/cluster:Cluster": control_plane(
        lambda r: "oke-enhanced" if r.inputs.get("type") == "ENHANCED_CLUSTER" else "oke-basic",
        "OKE",
    ),
    "oci:ContainerEngine/nodePool:NodePool": oke_node_pool,
    "oci:ObjectStorage/bucket:Bucket": storage(lambda r: "standard"),
    "oci:Core/instance:Instance": compute_instance,
    "oci:LoadBalancer/loadBalancer:LoadBalancer": flexible_load_balancer,
}
