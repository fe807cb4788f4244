"""Route 53: health checks on each stack's Triton readiness, weighted records for canary
shifts, and failover records (primary = the weighted set, secondary = the standby)."""

from __future__ import annotations

from collections.abc import Mapping

import pulumi
import pulumi_aws as aws

from components.catalog.clouds import triton_wire
from components.providers.base import RoutedName
from components.spec import TrafficSpec


def build_router(
    name: str,
    dns_name: str,
    traffic: TrafficSpec,
    endpoints: Mapping[str, pulumi.Output[str]],
    parent: pulumi.Resource,
) -> RoutedName:
    """Weighted records over every stack, nested under failover records when configured
    (one record name cannot mix routing policies)."""
    opts = pulumi.ResourceOptions(parent=parent)
    zone = aws.route53.get_zone_output(
        name=traffic.zone, private_zone=False, opts=pulumi.InvokeOutputOptions(parent=parent)
    )
    checks = {
        stack: aws.route53.HealthCheck(
            f"{name}-health-{stack}",
            type="HTTP",
            fqdn=host,
            port=triton_wire().http_port,
            resource_path=triton_wire().ready_path,
            request_interval=traffic.health_check.interval_s,
            failure_threshold=traffic.health_check.failure_threshold,
            tags={"Name": f"{name}-{stack}"},
            opts=opts,
        )
        for stack, host in endpoints.items()
    }
    weighted_name = f"weighted.{dns_name}" if traffic.failover else dns_name
    records: list[pulumi.Resource] = [
        aws.route53.Record(
            f"{name}-weighted-{stack}",
            zone_id=zone.zone_id,
            name=weighted_name,
            type="CNAME",
            ttl=traffic.ttl_s,
            records=[endpoints[stack]],
            set_identifier=stack,
            weighted_routing_policies=[{"weight": weight}],
            health_check_id=checks[stack].id,
            opts=opts,
        )
        for stack, weight in traffic.weights.items()
    ]
    if traffic.failover:
        records.append(
            aws.route53.Record(
                f"{name}-failover-primary",
                zone_id=zone.zone_id,
                name=dns_name,
                type="CNAME",
                set_identifier="primary",
                failover_routing_policies=[{"type": "PRIMARY"}],
                aliases=[
                    {"name": weighted_name, "zone_id": zone.zone_id, "evaluate_target_health": True}
                ],
                opts=opts,
            )
        )
        secondary = traffic.failover.secondary
        records.append(
            aws.route53.Record(
                f"{name}-failover-secondary",
                zone_id=zone.zone_id,
                name=dns_name,
                type="CNAME",
                ttl=traffic.ttl_s,
                records=[endpoints[secondary]],
                set_identifier="secondary",
                failover_routing_policies=[{"type": "SECONDARY"}],
                health_check_id=checks[secondary].id,
                opts=opts,
            )
        )
    return RoutedName(dns_name, True, dict(traffic.weights), records)
