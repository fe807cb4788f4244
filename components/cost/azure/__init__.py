"""Azure pricing: AKS (the tier's control-plane fee and system pool profiles, agent pools),
virtual machines and scale sets, storage accounts, public IP addresses, NAT gateways, DNS
zones, load balancers and the Standard load balancer a LoadBalancer Service creates."""

from __future__ import annotations

from collections.abc import Iterator

from components.catalog.service_prices import service_price
from components.cost.profile import HOURS_PER_MONTH
from components.cost.resources import (
    Context,
    NodePool,
    Priced,
    Pricer,
    flat,
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


def virtual_machine(ctx: Context, r: PlannedResource) -> Iterator[Priced]:
    """One virtual machine, running all month: its size, Spot when its priority says so."""
    size = r.inputs["hardwareProfile"]["vmSize"]
    spot = r.inputs.get("priority") == "Spot"
    yield node_line(ctx, NodePool(r, size, 1, 1, False, spot, role="instance"))


def scale_set(ctx: Context, r: PlannedResource) -> Iterator[Priced]:
    """A virtual machine scale set: its SKU's size at its capacity."""
    sku = r.inputs["sku"]
    count = num(sku.get("capacity"))
    spot = (r.inputs.get("virtualMachineProfile") or {}).get("priority") == "Spot"
    yield node_line(ctx, NodePool(r, sku["name"], count, count, False, spot, role="scale set"))


def _azure_storage_scope(r: PlannedResource) -> str:
    sku = str((r.inputs.get("sku") or {}).get("name", "Standard_LRS"))
    return "blob-hot-zrs" if sku.endswith("ZRS") else "blob-hot-lrs"


PRICERS: dict[str, Pricer] = {
    "azure-native:containerservice:ManagedCluster": aks_cluster,
    "azure-native:containerservice:AgentPool": aks_agent_pool,
    "azure-native:storage:StorageAccount": storage(_azure_storage_scope),
    "azure-native:compute:VirtualMachine": virtual_machine,
    "azure-native:compute:VirtualMachineScaleSet": scale_set,
    "azure-native:network:LoadBalancer": LOAD_BALANCER,
    "azure-native:network:PublicIPAddress": flat(
        "public-ip", "ipv4", HOURS_PER_MONTH, "public IPv4 address"
    ),
    "azure-native:network:NatGateway": flat(
        "nat-gateway", "nat-gateway", HOURS_PER_MONTH, "NAT gateway"
    ),
    "azure-native:network:Zone": flat("dns-zone", "hosted-zone", 1, "DNS zone"),
    "azure-native:dns:Zone": flat("dns-zone", "hosted-zone", 1, "DNS zone"),
}
