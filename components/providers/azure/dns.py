"""Azure Traffic Manager: a weighted profile over the stacks' endpoints, nested under a
priority profile when failover is configured, monitored on Triton's readiness path."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

import pulumi
import pulumi_azure_native as azure

from components.catalog.clouds import triton_wire
from components.errors import SpecError
from components.providers.base import RoutedEndpoint, RoutedName
from components.spec import TrafficSpec

EXTERNAL = "Microsoft.Network/trafficManagerProfiles/externalEndpoints"
MAX_LABEL = 63
NESTED = "Microsoft.Network/trafficManagerProfiles/nestedEndpoints"


def build_router(
    name: str,
    dns_name: str,
    traffic: TrafficSpec,
    endpoints: Mapping[str, RoutedEndpoint],
    parent: pulumi.Resource,
) -> RoutedName:
    """Traffic Manager profiles and the CNAME of `dns_name` in the Azure DNS zone."""
    if not traffic.zone_ref:
        raise SpecError(
            "an Azure DNS router needs the resource group of its DNS zone",
            field="exitplan:traffic.zone_ref",
            fix=f"set zone_ref to the resource group that holds the {traffic.zone} zone",
        )
    opts = pulumi.ResourceOptions(parent=parent)
    tm = azure.trafficmanager
    weighted = _profile(
        f"{name}-weighted",
        relative_name(dns_name, "weighted"),
        traffic,
        "Weighted",
        [
            tm.EndpointArgs(
                name=stack,
                type=EXTERNAL,
                target=endpoints[stack].host,
                # Traffic Manager weights run 1-1000: a weight of 0 is a disabled endpoint.
                weight=max(weight, 1),
                endpoint_status="Enabled" if weight else "Disabled",
            )
            for stack, weight in traffic.weights.items()
        ],
        opts,
    )
    front = weighted
    if traffic.failover:
        front = _profile(
            f"{name}-failover",
            relative_name(dns_name, "failover"),
            traffic,
            "Priority",
            [
                tm.EndpointArgs(
                    name="weighted",
                    type=NESTED,
                    target_resource_id=weighted.id,
                    priority=1,
                    min_child_endpoints=1,
                ),
                tm.EndpointArgs(
                    name=traffic.failover.secondary,
                    type=EXTERNAL,
                    target=endpoints[traffic.failover.secondary].host,
                    priority=2,
                ),
            ],
            opts,
        )
    cname = azure.dns.RecordSet(
        f"{name}-cname",
        resource_group_name=traffic.zone_ref,
        zone_name=traffic.zone,
        relative_record_set_name=dns_name.removesuffix(f".{traffic.zone}"),
        record_type="CNAME",
        ttl=traffic.ttl_s,
        cname_record=azure.dns.CnameRecordArgs(
            cname=front.dns_config.apply(lambda d: (d.fqdn or "") if d else "")
        ),
        opts=opts,
    )
    return RoutedName(dns_name, True, dict(traffic.weights), [weighted, front, cname])


def relative_name(dns_name: str, layer: str) -> str:
    """The profile's label under trafficmanager.net, which is global: derived from the public
    name this router owns (unique to its owner), not from the Pulumi logical name (the same in
    every deployment of this project). A DNS label holds 63 characters at most: a longer one
    keeps a hash of the whole."""
    label = f"{dns_name.replace('.', '-')}-{layer}"
    if len(label) <= MAX_LABEL:
        return label
    suffix = hashlib.sha256(label.encode()).hexdigest()[:8]
    return f"{label[: MAX_LABEL - len(suffix) - 1].rstrip('-')}-{suffix}"


def _profile(
    name: str,
    relative: str,
    traffic: TrafficSpec,
    method: str,
    endpoints: list[azure.trafficmanager.EndpointArgs],
    opts: pulumi.ResourceOptions,
) -> azure.trafficmanager.Profile:
    check = traffic.health_check
    return azure.trafficmanager.Profile(
        name,
        resource_group_name=traffic.zone_ref,
        location="global",
        profile_status="Enabled",
        traffic_routing_method=method,
        dns_config=azure.trafficmanager.DnsConfigArgs(relative_name=relative, ttl=traffic.ttl_s),
        monitor_config=azure.trafficmanager.MonitorConfigArgs(
            protocol="HTTP",
            port=triton_wire().http_port,
            path=triton_wire().ready_path,
            interval_in_seconds=check.interval_s,
            tolerated_number_of_failures=check.failure_threshold,
            # Traffic Manager: 5-9 s with a 10 s interval, 5-10 s with 30 s.
            timeout_in_seconds=5 if check.interval_s == 10 else 10,
        ),
        endpoints=endpoints,
        opts=opts,
    )
