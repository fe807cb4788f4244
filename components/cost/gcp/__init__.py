"""Google Cloud pricing: GKE (control plane, node pools), Distributed Cloud connected node pools
(unpriced: a subscription), Compute Engine instances, Cloud Storage, Storage Transfer Service
jobs, KMS keys, static external addresses, Cloud NAT, Cloud DNS zones, forwarding rules and the
forwarding rule a LoadBalancer Service creates."""

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
    flat,
    is_gpu_pool,
    load_balancer,
    node_line,
    num,
    storage,
)
from components.planning.runner import PlannedResource

COMPUTE_SERVICE = "Compute Engine"
EDGE_NODE_NOTE = ""
GDC_PRICING = "https://cloud.google.com/distributed-cloud/edge/latest/docs/pricing"
_FORWARDING_RULE = load_balancer("forwarding-rule")
_EXTERNAL_ADDRESS = flat("public-ip", "ipv4", HOURS_PER_MONTH, "external IPv4 address")


def gke_node_pool(ctx: Context, r: PlannedResource) -> Iterator[Priced]:
    """A GKE node pool: machine type, total autoscaling bounds (per-zone bounds times zones),
    spot."""
    config = r.inputs.get("nodeConfig", {})
    scaling = r.inputs.get("autoscaling") or {}
    zones = max(len(r.inputs.get("nodeLocations") or []), 1)
    if "totalMinNodeCount" in scaling:
        low, high = num(scaling["totalMinNodeCount"]), num(scaling["totalMaxNodeCount"])
    elif scaling:
        low = num(scaling.get("minNodeCount")) * zones
        high = num(scaling.get("maxNodeCount")) * zones
    else:
        low = high = num(r.inputs.get("nodeCount", r.inputs.get("initialNodeCount")))
    pool = NodePool(
        r,
        config["machineType"],
        low,
        high,
        is_gpu_pool(config.get("labels", {})),
        spot=bool(config.get("spot")),
    )
    yield node_line(ctx, pool)


def compute_instance(ctx: Context, r: PlannedResource) -> Iterator[Priced]:
    """One Compute Engine instance, running all month: its machine type (the catalog's row for
    it carries its GPU), a Spot VM when its scheduling says so."""
    scheduling = r.inputs.get("scheduling") or {}
    spot = scheduling.get("provisioningModel") == "SPOT" or bool(scheduling.get("preemptible"))
    pool = NodePool(r, r.inputs["machineType"], 1, 1, False, spot, role="instance")
    yield node_line(ctx, pool)


def address(ctx: Context, r: PlannedResource) -> Iterator[Priced]:
    """A reserved external IPv4 address by the hour (an internal one costs nothing)."""
    if r.inputs.get("addressType") == "INTERNAL":
        return
    yield from _EXTERNAL_ADDRESS(ctx, r)


def edge_node_pool(ctx: Context, r: PlannedResource) -> Iterator[Priced]:
    """Google Distributed Cloud connected nodes: hardware under a subscription contract."""
    reason = f"Distributed Cloud connected racks are priced by subscription ({GDC_PRICING})"
    yield ctx.unpriced(r, reason)


def service_load_balancer(ctx: Context, r: PlannedResource) -> Iterator[Priced]:
    """A LoadBalancer Service's forwarding rule; on a Distributed Cloud edge its address comes
    from the rack's own pool, part of the subscription."""
    if ctx.kind == "edge":
        yield ctx.unpriced(
            r,
            "the address comes from the rack's own pool (load_balancer_pools), "
            "part of the Distributed Cloud subscription",
        )
        return
    yield from _FORWARDING_RULE(ctx, r)


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


LOAD_BALANCER: Pricer = service_load_balancer
PRICERS: dict[str, Pricer] = {
    "gcp:container/cluster:Cluster": control_plane(lambda r: "gke", "GKE"),
    "gcp:container/nodePool:NodePool": gke_node_pool,
    "gcp:edgecontainer/nodePool:NodePool": edge_node_pool,
    "gcp:storage/bucket:Bucket": storage(lambda r: "standard"),
    "gcp:storage/transferJob:TransferJob": transfer_job,
    "gcp:kms/cryptoKey:CryptoKey": flat("kms-key", "software", 1, "KMS key version"),
    "gcp:compute/instance:Instance": compute_instance,
    "gcp:compute/address:Address": address,
    "gcp:compute/globalAddress:GlobalAddress": address,
    "gcp:compute/forwardingRule:ForwardingRule": _FORWARDING_RULE,
    "gcp:compute/globalForwardingRule:GlobalForwardingRule": _FORWARDING_RULE,
    "gcp:compute/routerNat:RouterNat": flat(
        "nat-gateway", "cloud-nat", HOURS_PER_MONTH, "Cloud NAT gateway"
    ),
    "gcp:dns/managedZone:ManagedZone": flat("dns-zone", "hosted-zone", 1, "managed zone"),
}
