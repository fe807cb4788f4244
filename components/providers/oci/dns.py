"""OCI DNS: a steering policy over the stacks' endpoints, attached to the public name in the
zone, with an HTTP health-check monitor probing Triton's readiness from public vantage points.
LOAD_BALANCE (weighted) without failover; FAILOVER (primary first, then the secondary) with it.
One policy orders its answers by priority or by weight, not both."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any

import pulumi
import pulumi_oci as oci

from components.catalog.clouds import facts, triton_wire
from components.errors import SpecError
from components.providers.base import RoutedEndpoint, RoutedName
from components.providers.oci.cluster import compartment_id
from components.spec import TrafficSpec

FACTS = facts("oci")
# Health Checks probe timeouts: 10, 20, 30 or 60 s, at most the interval.
PROBE_TIMEOUT_S = 10
KEEP_ENABLED = {"answer_condition": "answer.isDisabled != true", "should_keep": True}


def build_router(
    name: str,
    dns_name: str,
    traffic: TrafficSpec,
    endpoints: Mapping[str, RoutedEndpoint],
    parent: pulumi.Resource,
) -> RoutedName:
    """An HTTP monitor, a steering policy and its attachment to `dns_name` in the zone."""
    hosts = {stack: endpoint.host for stack, endpoint in endpoints.items()}
    check = traffic.health_check
    if check.interval_s not in FACTS.dns_health_intervals:
        allowed = " or ".join(map(str, FACTS.dns_health_intervals))
        raise SpecError(
            f"OCI Health Checks probe every {allowed} s, not {check.interval_s}",
            field="exitplan:traffic.health_check.interval_s",
            fix=f"use {allowed}",
        )
    template, rules, serving = _routing(traffic)
    opts = pulumi.ResourceOptions(parent=parent)
    compartment = compartment_id()
    monitor = oci.healthchecks.HttpMonitor(
        f"{name}-health",
        compartment_id=compartment,
        display_name=f"{name}-triton-ready",
        protocol="HTTP",
        method="GET",
        port=triton_wire().http_port,
        path=triton_wire().ready_path,
        interval_in_seconds=check.interval_s,
        timeout_in_seconds=PROBE_TIMEOUT_S,
        targets=pulumi.Output.all(*hosts.values()).apply(list),
        is_enabled=True,
        opts=opts,
    )
    policy = oci.dns.SteeringPolicy(
        f"{name}-steering",
        compartment_id=compartment,
        display_name=f"{name}-{template.lower()}",
        template=template,
        ttl=traffic.ttl_s,
        health_check_monitor_id=monitor.id,
        answers=[
            {
                "name": stack,
                "pool": stack,
                "rtype": host.apply(record_type),
                "rdata": host,
                "is_disabled": stack not in serving,
            }
            for stack, host in hosts.items()
        ],
        rules=rules,
        opts=opts,
    )
    zones = oci.dns.get_zones_output(
        compartment_id=compartment,
        name=traffic.zone,
        opts=pulumi.InvokeOutputOptions(parent=parent),
    )
    attachment = oci.dns.SteeringPolicyAttachment(
        f"{name}-attachment",
        steering_policy_id=policy.id,
        zone_id=zones.zones.apply(_zone_id),
        domain_name=dns_name,
        display_name=dns_name,
        opts=opts,
    )
    return RoutedName(dns_name, True, dict(traffic.weights), [monitor, policy, attachment])


def _routing(traffic: TrafficSpec) -> tuple[str, list[Any], set[str]]:
    """The template, its rules and the stacks that may answer."""
    weighted = {stack: weight for stack, weight in traffic.weights.items() if weight}
    health: dict[str, Any] = {"rule_type": "HEALTH"}
    limit: dict[str, Any] = {"rule_type": "LIMIT", "default_count": 1}
    if traffic.failover is None:
        weights = [
            {"answer_condition": f"answer.name == '{stack}'", "value": weight}
            for stack, weight in weighted.items()
        ]
        rules = [
            {"rule_type": "FILTER", "default_answer_datas": [KEEP_ENABLED]},
            health,
            {"rule_type": "WEIGHTED", "default_answer_datas": weights},
            limit,
        ]
        return "LOAD_BALANCE", rules, set(weighted)
    primary, secondary = traffic.failover.primary, traffic.failover.secondary
    others = sorted(set(weighted) - {primary})
    if others:
        raise SpecError(
            f"an OCI steering policy fails over by priority or splits by weight, not both: "
            f"{', '.join(others)} would share traffic with the failover primary {primary}",
            field="exitplan:traffic.weights",
            fix=f"give every stack but {primary} weight 0, or drop failover",
        )
    priorities = [
        {"answer_condition": f"answer.pool == '{primary}'", "value": 1},
        {"answer_condition": f"answer.pool == '{secondary}'", "value": 2},
    ]
    rules = [
        {"rule_type": "FILTER", "default_answer_datas": [KEEP_ENABLED]},
        health,
        {"rule_type": "PRIORITY", "default_answer_datas": priorities},
        limit,
    ]
    return "FAILOVER", rules, {primary, secondary}


def record_type(host: str) -> str:
    """`A` for an IP endpoint (OKE, GKE, AKS), `CNAME` for a hostname (an AWS NLB)."""
    try:
        ipaddress.IPv4Address(host)
    except ValueError:
        return "CNAME"
    return "A"


def _zone_id(zones: Any) -> str:
    if not zones:
        raise ValueError("the compartment has no such DNS zone")
    first = zones[0]
    return str(first["id"] if isinstance(first, dict) else first.id)
