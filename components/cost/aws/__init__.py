"""AWS pricing: EKS (control plane, managed node groups, self-managed Auto Scaling groups on a
Wavelength edge), EC2 instances, S3, Route 53 hosted zones and health checks, NAT gateways,
public IPv4 addresses, KMS keys, Elastic Load Balancing and the NLB a LoadBalancer Service
creates."""

from __future__ import annotations

from collections.abc import Iterator

from components.catalog.service_prices import service_price
from components.cost.profile import HOURS_PER_MONTH
from components.cost.resources import (
    Context,
    NodePool,
    Priced,
    Pricer,
    checked_cloud,
    control_plane,
    flat,
    is_gpu_pool,
    load_balancer,
    node_line,
    num,
    storage,
    with_price,
)
from components.planning.runner import PlannedResource

COMPUTE_SERVICE = "Amazon Elastic Compute Cloud"
EDGE_NODE_NOTE = "priced at the parent region's rate: Wavelength Zone rates differ"
LOAD_BALANCER: Pricer = load_balancer("nlb")


def eks_node_group(ctx: Context, r: PlannedResource) -> Iterator[Priced]:
    """An EKS managed node group: its first instance type, scaling bounds, capacity type."""
    scaling = r.inputs.get("scalingConfig", {})
    yield node_line(
        ctx,
        NodePool(
            r,
            r.inputs["instanceTypes"][0],
            num(scaling.get("minSize")),
            num(scaling.get("maxSize")),
            is_gpu_pool(r.inputs.get("labels", {})),
            spot=r.inputs.get("capacityType") == "SPOT",
        ),
    )


def ec2_instance(ctx: Context, r: PlannedResource) -> Iterator[Priced]:
    """One EC2 instance, running all month: its type, spot when its market options say so."""
    market = (r.inputs.get("instanceMarketOptions") or {}).get("marketType")
    pool = NodePool(r, r.inputs["instanceType"], 1, 1, False, market == "spot", role="instance")
    yield node_line(ctx, pool)


def elastic_load_balancer(ctx: Context, r: PlannedResource) -> Iterator[Priced]:
    """An Elastic Load Balancing load balancer by its type (application unless set), by the
    hour."""
    kind = {"network": "nlb", "gateway": "gwlb"}.get(str(r.inputs.get("loadBalancerType")), "alb")
    yield from load_balancer(kind)(ctx, r)


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
    pool = NodePool(r, kind, num(r.inputs.get("minSize")), num(r.inputs.get("maxSize")), True)
    yield node_line(ctx, pool)


def health_check(ctx: Context, r: PlannedResource) -> Iterator[Priced]:
    """A Route 53 health check: basic (AWS or other endpoint) plus each optional feature."""
    target = checked_cloud(ctx, r)
    where = "aws-endpoint" if target in ("aws", "") else "non-aws-endpoint"
    base = service_price("aws", "dns-health-check", where)
    feature = service_price("aws", "dns-health-check", f"feature-{where}")
    kind = str(r.inputs.get("type", ""))
    features = [
        name
        for name, on in (
            ("fast interval", num(r.inputs.get("requestInterval")) == 10),
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
    yield with_price(line, base.usd + feature.usd * len(features))


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
    "aws:ec2/instance:Instance": ec2_instance,
    "aws:lb/loadBalancer:LoadBalancer": elastic_load_balancer,
    "aws:alb/loadBalancer:LoadBalancer": elastic_load_balancer,
    "aws:route53/zone:Zone": flat("dns-zone", "hosted-zone", 1, "hosted zone"),
}
