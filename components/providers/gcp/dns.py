"""Cloud DNS: a weighted round-robin routing policy over the stacks' endpoints. Cloud DNS
health checks serve internal load balancers only, so public endpoints in other clouds are
routed by weight alone (a gap listed in the package's UNSUPPORTED).

A record set has one type, so every weighted item is of the type the endpoints' kind needs:
A over IP endpoints (GKE, AKS, OKE), CNAME over hostnames. Cloud DNS has no alias to another
cloud's load balancer, so a set mixing an AWS NLB's hostname with IPs is refused."""

from __future__ import annotations

from collections.abc import Mapping

import pulumi
import pulumi_gcp as gcp

from components.errors import SpecError
from components.providers.base import RoutedEndpoint, RoutedName
from components.spec import TrafficSpec

RECORD_TYPES = {"ip": "A", "hostname": "CNAME"}


def build_router(
    name: str,
    dns_name: str,
    traffic: TrafficSpec,
    endpoints: Mapping[str, RoutedEndpoint],
    parent: pulumi.Resource,
) -> RoutedName:
    """One record set with a weighted round-robin policy (zero-weight stacks left out)."""
    serving = {stack: weight for stack, weight in traffic.weights.items() if weight}
    record_type = _record_type({stack: endpoints[stack] for stack in serving})
    record = gcp.dns.RecordSet(
        f"{name}-record",
        managed_zone=traffic.zone_ref or traffic.zone.replace(".", "-"),
        name=f"{dns_name}.",
        type=record_type,
        ttl=traffic.ttl_s,
        routing_policy={
            "wrrs": [
                {"weight": weight, "rrdatas": [_rrdata(endpoints[stack])]}
                for stack, weight in serving.items()
            ]
        },
        opts=pulumi.ResourceOptions(parent=parent),
    )
    return RoutedName(dns_name, False, dict(traffic.weights), [record])


def _record_type(endpoints: Mapping[str, RoutedEndpoint]) -> str:
    """The one record type of the set, or `SpecError` naming the stacks of each kind."""
    kinds = {endpoint.kind for endpoint in endpoints.values()}
    if len(kinds) > 1:
        by_kind = {
            kind: ", ".join(sorted(s for s, e in endpoints.items() if e.kind == kind))
            for kind in sorted(kinds)
        }
        raise SpecError(
            f"a Cloud DNS record set has one type, but these weighted stacks mix hostnames "
            f"({by_kind['hostname']}) and IPs ({by_kind['ip']})",
            field="exitplan:traffic.weights",
            fix="route stacks whose endpoints are all IPs or all hostnames with Cloud DNS, "
            "or route with Route 53 (dns_provider: aws), which aliases AWS load balancers",
        )
    return RECORD_TYPES[kinds.pop()]


def _rrdata(endpoint: RoutedEndpoint) -> pulumi.Output[str]:
    """An IP as it is; a hostname as an absolute name (trailing dot)."""
    if endpoint.kind == "ip":
        return endpoint.host
    return endpoint.host.apply(lambda host: f"{host}.")
