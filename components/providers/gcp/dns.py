"""Cloud DNS: a weighted round-robin routing policy over the stacks' endpoints. Cloud DNS
health checks serve internal load balancers only, so public endpoints in other clouds are
routed by weight alone (a gap listed in the package's UNSUPPORTED)."""

from __future__ import annotations

from collections.abc import Mapping

import pulumi
import pulumi_gcp as gcp

from components.providers.base import RoutedName
from components.spec import TrafficSpec


def build_router(
    name: str,
    dns_name: str,
    traffic: TrafficSpec,
    endpoints: Mapping[str, pulumi.Output[str]],
    parent: pulumi.Resource,
) -> RoutedName:
    """One record set with a weighted round-robin policy (zero-weight stacks left out)."""
    record = gcp.dns.RecordSet(
        f"{name}-record",
        managed_zone=traffic.zone_ref or traffic.zone.replace(".", "-"),
        name=f"{dns_name}.",
        type="CNAME",
        ttl=traffic.ttl_s,
        routing_policy={
            "wrrs": [
                {"weight": weight, "rrdatas": [endpoints[stack].apply(lambda h: f"{h}.")]}
                for stack, weight in traffic.weights.items()
                if weight
            ]
        },
        opts=pulumi.ResourceOptions(parent=parent),
    )
    return RoutedName(dns_name, False, dict(traffic.weights), [record])
