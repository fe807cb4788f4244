"""Azure pricing: AKS (the tier's control-plane fee and system pool profiles, agent pools),
storage accounts and the Standard load balancer a LoadBalancer Service creates."""

from __future__ import annotations

from collections.abc import Iterator

from components.catalog.service_prices import service_price
from components.cost.profile import HOURS_PER_MONTH
from components.cost.resources import (
    Context,
    NodePool,
    Priced,
    Pricer,
    is_gpu_pool,
    load_balancer,
    node_line,
    num,
    storage,
)
from components.planning.runner import PlannedResource

COMPUTE_SERVICE = "Virtual Machines"
EDGE_NODE_NOTE = ""
LOAD_BALANCER: Pricer = load_balancer("standard")


def aks_cluster(ctx: Context, r: PlannedResource) -> Iterator[Priced]:
    """An AKS cluster: its tier's control-plane fee and its system pool profiles."""
    tier = str((r.inputs.get("sku") or {}).get("tier", "Free")).lower()
    price = service_price("azure", "control-plane", f"aks-{tier}", ctx.region)
    yield ctx.line(r, "control-plane", price, HOURS_PER_MONTH, f"AKS {tier}")
    for profile in r.inputs.get("agentPoolProfiles", []):
        count = num(profile.get("count"))
        low = num(profile.get("minCount", count))
        high = num(profile.get("maxCount", count))
        yield node_line(ctx, NodePool(r, profile["vmSize"], low, high, inference=False))


def aks_agent_pool(ctx: Context, r: PlannedResource) -> Iterator[Priced]:
    """An AKS agent pool: VM size, autoscaling bounds (or a fixed count), priority."""
    count = num(r.inputs.get("count"))
    scaling = r.inputs.get("enableAutoScaling")
    low = num(r.inputs.get("minCount")) if scaling else count
    high = num(r.inputs.get("maxCount")) if scaling else count
    yield node_line(
        ctx,
        NodePool(
            r,
            r.inputs["vmSize"],
            low,
            high,
            is_gpu_pool(r.inputs.get("nodeLabels", {})),
            spot=r.inputs.get("scaleSetPriority") == "Spot",
        ),
    )


def _azure_storage_scope(r: PlannedResource) -> str:
    sku = str((r.inputs.get("sku") or {}).get("name", "Standard_LRS"))
    return "blob-hot-zrs" if sku.endswith("ZRS") else "blob-hot-lrs"


PRICERS: dict[str, Pricer] = {
    "azure-native:containerservice:ManagedCluster": aks_cluster,
    "azure-native:containerservice:AgentPool": aks_agent_pool,
    "azure-native:storage:StorageAccount": storage(_azure_storage_scope),
}
