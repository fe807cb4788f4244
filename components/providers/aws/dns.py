"""Route 53: health checks on each stack's Triton readiness, weighted records for canary
shifts, and failover records (primary = the weighted set while a stack with a weight above 0
is healthy, secondary = the standby).

Every record of the public name is type A, derived from each endpoint's kind (one record
type per weighted set: a name cannot mix CNAME with other types): an AWS NLB's hostname is an
alias A record to the load balancer, an IP endpoint (GKE, AKS, OKE, Wavelength carrier IPs)
a plain A record health-checked by IP address
(https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/routing-policy-weighted.html: "the
same name and type for each of your resources";
https://docs.aws.amazon.com/Route53/latest/APIReference/API_HealthCheckConfig.html: without
IPAddress, Route 53 resolves FullyQualifiedDomainName)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pulumi
import pulumi_aws as aws

from components.catalog.clouds import triton_wire
from components.errors import SpecError
from components.providers.base import RoutedEndpoint, RoutedName
from components.spec import TrafficSpec

RECORD_TYPE = "A"


def build_router(
    name: str,
    dns_name: str,
    traffic: TrafficSpec,
    endpoints: Mapping[str, RoutedEndpoint],
    parent: pulumi.Resource,
) -> RoutedName:
    """Weighted A records over every stack, nested under failover records when configured
    (one record name cannot mix routing policies)."""
    _check_aliasable(endpoints)
    opts = pulumi.ResourceOptions(parent=parent)
    zone = aws.route53.get_zone_output(
        name=traffic.zone, private_zone=False, opts=pulumi.InvokeOutputOptions(parent=parent)
    )
    checks = {
        stack: health_check(f"{name}-health-{stack}", endpoint, traffic, opts)
        for stack, endpoint in endpoints.items()
    }
    weighted_name = f"weighted.{dns_name}" if traffic.failover else dns_name
    records: list[pulumi.Resource] = [
        aws.route53.Record(
            f"{name}-weighted-{stack}",
            zone_id=zone.zone_id,
            name=weighted_name,
            type=RECORD_TYPE,
            set_identifier=stack,
            weighted_routing_policies=[{"weight": weight}],
            health_check_id=checks[stack].id,
            **target(endpoints[stack], traffic, parent),
            opts=opts,
        )
        for stack, weight in traffic.weights.items()
    ]
    if traffic.failover:
        serving = _serving_check(name, [checks[s] for s, w in traffic.weights.items() if w], opts)
        records.append(
            aws.route53.Record(
                f"{name}-failover-primary",
                zone_id=zone.zone_id,
                name=dns_name,
                type=RECORD_TYPE,
                set_identifier="primary",
                failover_routing_policies=[{"type": "PRIMARY"}],
                # Healthy while a stack with a weight above 0 is: the set's own health would
                # count its zero-weight records too, which Route 53 answers with once every
                # weighted one is down, so the secondary would never be used.
                aliases=[
                    {
                        "name": weighted_name,
                        "zone_id": zone.zone_id,
                        "evaluate_target_health": False,
                    }
                ],
                health_check_id=serving.id,
                opts=opts,
            )
        )
        secondary = traffic.failover.secondary
        records.append(
            aws.route53.Record(
                f"{name}-failover-secondary",
                zone_id=zone.zone_id,
                name=dns_name,
                type=RECORD_TYPE,
                set_identifier="secondary",
                failover_routing_policies=[{"type": "SECONDARY"}],
                health_check_id=checks[secondary].id,
                **target(endpoints[secondary], traffic, parent),
                opts=opts,
            )
        )
    return RoutedName(dns_name, True, dict(traffic.weights), records)


def health_check(
    name: str, endpoint: RoutedEndpoint, traffic: TrafficSpec, opts: pulumi.ResourceOptions
) -> aws.route53.HealthCheck:
    """An HTTP check of Triton's readiness: by IP address for an IP endpoint (a name would be
    resolved, and an IP never resolves), by name for a load balancer's hostname."""
    by_ip = endpoint.kind == "ip"
    return aws.route53.HealthCheck(
        name,
        type="HTTP",
        ip_address=endpoint.host if by_ip else None,
        fqdn=None if by_ip else endpoint.host,
        port=triton_wire().http_port,
        resource_path=triton_wire().ready_path,
        request_interval=traffic.health_check.interval_s,
        failure_threshold=traffic.health_check.failure_threshold,
        tags={"Name": name},
        opts=opts,
    )


def _serving_check(
    name: str, children: list[aws.route53.HealthCheck], opts: pulumi.ResourceOptions
) -> aws.route53.HealthCheck:
    """A calculated check, healthy while at least one of `children` (the checks of the stacks
    that carry weight) is (https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/
    health-checks-creating-values.html#health-checks-creating-values-calculated)."""
    return aws.route53.HealthCheck(
        f"{name}-health-serving",
        type="CALCULATED",
        child_healthchecks=[child.id for child in children],
        child_health_threshold=1,
        tags={"Name": f"{name}-serving"},
        opts=opts,
    )


def target(
    endpoint: RoutedEndpoint, traffic: TrafficSpec, parent: pulumi.Resource
) -> dict[str, Any]:
    """The A record's value: the IP itself, or an alias to the NLB in its region's
    canonical hosted zone (alias records take no TTL)."""
    if endpoint.kind == "ip":
        return {"records": [endpoint.host], "ttl": traffic.ttl_s}
    # The provider's table of Elastic Load Balancing hosted zones, by region and type
    # (https://docs.aws.amazon.com/general/latest/gr/elb.html).
    nlb_zone = aws.lb.get_hosted_zone_id_output(
        load_balancer_type="network",
        region=endpoint.region,
        opts=pulumi.InvokeOutputOptions(parent=parent),
    )
    return {
        "aliases": [{"name": endpoint.host, "zone_id": nlb_zone.id, "evaluate_target_health": True}]
    }


def _check_aliasable(endpoints: Mapping[str, RoutedEndpoint]) -> None:
    """A hostname joins the A set only as an alias, and Route 53 aliases AWS load balancers,
    not another cloud's names."""
    foreign = sorted(
        s for s, e in endpoints.items() if e.kind == "hostname" and e.provider != "aws"
    )
    if foreign:
        raise SpecError(
            f"Route 53 cannot alias the hostname endpoints of {', '.join(foreign)} (not AWS "
            "load balancers), and a CNAME cannot join the A records of a weighted set",
            field="exitplan:traffic.weights",
            fix="route only AWS load balancers and IP endpoints with Route 53, or give those "
            "stacks an IP endpoint",
        )
