"""TrafficRouter under Pulumi mocks: Route 53, Azure Traffic Manager and Cloud DNS."""

from __future__ import annotations

import ipaddress
from typing import Any

import pulumi
import pytest

from components.errors import SpecError, UnsupportedFeatureError
from components.planning.runner import Plan, plan_stack
from components.providers.aws import dns as aws_dns
from components.providers.azure import dns as azure_dns
from components.providers.base import RoutedEndpoint
from tests.conftest import MakeProject, one, service_config, stack_config, standby_config

ROUTE53_CHECK = "aws:route53/healthCheck:HealthCheck"
ROUTE53_RECORD = "aws:route53/record:Record"


@pytest.fixture(scope="module")
def aws(plans: dict[str, Plan]) -> Plan:
    return plans["aws-primary"]


def test_route53_health_checks_probe_triton_readiness(aws: Plan) -> None:
    checks = {
        r.name.rsplit("-", 2)[-2] + "-" + r.name.rsplit("-", 1)[-1]: r.inputs
        for r in aws.of_type(ROUTE53_CHECK)
        if r.inputs["type"] == "HTTP"
    }
    assert set(checks) == {"aws-primary", "gcp-standby", "azure-standby"}
    for check in checks.values():
        assert check["type"] == "HTTP"
        assert check["resourcePath"] == "/v2/health/ready"
        assert check["port"] == 8000
        assert check["requestInterval"] == 10
        assert check["failureThreshold"] == 3
    assert checks["aws-primary"]["fqdn"].endswith(".lb.plan.invalid")  # an NLB's hostname


def test_route53_checks_ip_endpoints_by_ip_address(aws: Plan) -> None:
    checks = {r.name: r.inputs for r in aws.of_type(ROUTE53_CHECK)}
    for standby in ("gcp-standby", "azure-standby"):
        check = next(c for n, c in checks.items() if n.endswith(standby))
        assert check.get("ipAddress") and not check.get("fqdn")
        ipaddress.IPv4Address(check["ipAddress"])


def _records(plan: Plan, policy: str) -> list[dict[str, Any]]:
    return [r.inputs for r in plan.of_type(ROUTE53_RECORD) if policy in r.inputs]


def test_route53_weighted_records_carry_the_config_weights(aws: Plan) -> None:
    weighted = _records(aws, "weightedRoutingPolicies")
    weights = {r["setIdentifier"]: r["weightedRoutingPolicies"][0]["weight"] for r in weighted}
    assert weights == {"aws-primary": 100, "gcp-standby": 0, "azure-standby": 0}
    assert all(r["name"] == "weighted.score.fraud.example.com" for r in weighted)
    assert all(r["healthCheckId"] for r in weighted)


def test_route53_records_are_derived_from_the_endpoint_kind(aws: Plan) -> None:
    """One record type (A) for the whole weighted set: an alias to the NLB for the AWS
    hostname, the IP itself for the GKE and AKS standbys."""
    weighted = {r["setIdentifier"]: r for r in _records(aws, "weightedRoutingPolicies")}
    assert {r["type"] for r in weighted.values()} == {"A"}
    nlb = weighted["aws-primary"]
    assert nlb["aliases"][0]["name"].endswith(".lb.plan.invalid")
    assert nlb["aliases"][0]["zoneId"].startswith("Z") and "records" not in nlb
    assert nlb["aliases"][0]["evaluateTargetHealth"] is True
    for standby in ("gcp-standby", "azure-standby"):
        record = weighted[standby]
        ipaddress.IPv4Address(record["records"][0])
        assert record["ttl"] <= 60 and "aliases" not in record
    assert [r["type"] for r in _records(aws, "failoverRoutingPolicies")] == ["A", "A"]


def test_route53_refuses_another_clouds_hostname() -> None:
    endpoint = RoutedEndpoint(
        host=pulumi.Output.from_input("standby.trafficmanager.example"),
        kind="hostname",
        provider="azure",
        region="eastus",
    )
    with pytest.raises(SpecError) as caught:
        aws_dns._check_aliasable({"azure-standby": endpoint})
    assert "azure-standby" in caught.value.problem
    assert caught.value.field == "exitplan:traffic.weights"


def test_route53_failover_nests_the_weighted_set_as_primary(aws: Plan) -> None:
    failover = {
        r.inputs["failoverRoutingPolicies"][0]["type"]: r.inputs
        for r in aws.of_type(ROUTE53_RECORD)
        if "failoverRoutingPolicies" in r.inputs
    }
    assert set(failover) == {"PRIMARY", "SECONDARY"}
    primary, secondary = failover["PRIMARY"], failover["SECONDARY"]
    assert primary["name"] == secondary["name"] == "score.fraud.example.com"
    assert primary["aliases"][0]["name"] == "weighted.score.fraud.example.com"
    assert secondary["healthCheckId"]
    assert aws.outputs["traffic"]["failover"] == {
        "primary": "aws-primary",
        "secondary": "gcp-standby",
    }


def test_route53_failover_primary_is_healthy_only_while_a_weighted_stack_is(aws: Plan) -> None:
    """The zero-weight standbys stay in the weighted set (a drill shifts weight to them), but
    they do not keep the failover primary healthy: Route 53 answers with zero-weight records
    once every weighted one is down, which would hide the secondary."""
    primary = next(
        r
        for r in _records(aws, "failoverRoutingPolicies")
        if r["failoverRoutingPolicies"][0]["type"] == "PRIMARY"
    )
    assert primary["aliases"][0]["evaluateTargetHealth"] is False
    serving = one(aws, ROUTE53_CHECK, "-health-serving")
    assert primary["healthCheckId"] == f"{serving.name}-id"
    assert serving.inputs["type"] == "CALCULATED"
    assert serving.inputs["childHealthThreshold"] == 1
    # Only aws-primary carries weight (100; the standbys 0).
    assert serving.inputs["childHealthchecks"] == ["fraud-scoring-router-health-aws-primary-id"]


def _routed(make_project: MakeProject, traffic: dict[str, Any], **extra: Any) -> Plan:
    primary = service_config()
    primary["config"]["exitplan:traffic"] = traffic
    primary["config"].update(extra)
    project = make_project({"aws-primary": primary, "gcp-standby": standby_config("warm")})
    return plan_stack(project, project.stack("aws-primary"))


def _traffic(provider: str, **extra: Any) -> dict[str, Any]:
    traffic = stack_config("aws-primary")["config"]["exitplan:traffic"]
    traffic.update(dns_provider=provider, weights={"aws-primary": 90, "gcp-standby": 10}, **extra)
    return traffic


def test_traffic_manager_profiles_and_endpoints(make_project: MakeProject) -> None:
    plan = _routed(
        make_project,
        _traffic(
            "azure", zone_ref="dns-rg", health_check={"interval_s": 30, "failure_threshold": 2}
        ),
    )
    profiles = {r.name: r.inputs for r in plan.of_type("azure-native:trafficmanager:Profile")}
    weighted = profiles["fraud-scoring-router-weighted"]
    assert weighted["trafficRoutingMethod"] == "Weighted"
    monitor = weighted["monitorConfig"]
    assert (monitor["path"], monitor["port"], monitor["protocol"]) == (
        "/v2/health/ready",
        8000,
        "HTTP",
    )
    assert (monitor["intervalInSeconds"], monitor["toleratedNumberOfFailures"]) == (30, 2)
    endpoints = {e["name"]: e for e in weighted["endpoints"]}
    assert endpoints["aws-primary"]["weight"] == 90 and endpoints["gcp-standby"]["weight"] == 10
    assert all(e["type"].endswith("externalEndpoints") for e in endpoints.values())
    failover = profiles["fraud-scoring-router-failover"]
    assert failover["trafficRoutingMethod"] == "Priority"
    assert [e["priority"] for e in failover["endpoints"]] == [1, 2]
    cname = one(plan, "azure-native:dns:RecordSet").inputs
    assert (cname["recordType"], cname["relativeRecordSetName"]) == ("CNAME", "score")
    # Global labels under trafficmanager.net, from the public name, not the logical name.
    assert weighted["dnsConfig"]["relativeName"] == "score-fraud-example-com-weighted"
    assert failover["dnsConfig"]["relativeName"] == "score-fraud-example-com-failover"


def test_traffic_manager_label_fits_a_dns_label_and_stays_distinct() -> None:
    long_a = "inference." + "a" * 60 + ".example.com"
    long_b = "inference." + "a" * 60 + ".example.org"
    labels = {azure_dns.relative_name(n, "weighted") for n in (long_a, long_b)}
    assert len(labels) == 2
    assert all(len(label) <= 63 and not label.endswith("-") for label in labels)


def test_traffic_manager_zero_weight_is_a_disabled_endpoint(make_project: MakeProject) -> None:
    traffic = _traffic("azure", zone_ref="dns-rg")
    traffic["weights"] = {"aws-primary": 100, "gcp-standby": 0}
    plan = _routed(make_project, traffic)
    weighted = next(
        r.inputs
        for r in plan.of_type("azure-native:trafficmanager:Profile")
        if r.name.endswith("-weighted")
    )
    status = {e["name"]: e["endpointStatus"] for e in weighted["endpoints"]}
    assert status == {"aws-primary": "Enabled", "gcp-standby": "Disabled"}


def _routed_ips(make_project: MakeProject) -> Plan:
    """Cloud DNS in aws-primary's stack routing over the two IP standbys (GKE 90, AKS 10)."""
    traffic = _traffic("gcp")
    traffic["weights"] = {"gcp-standby": 90, "azure-standby": 10}
    del traffic["failover"]
    primary = service_config()
    primary["config"]["exitplan:traffic"] = traffic
    primary["config"]["gcp:project"] = "fraud-scoring-prod"
    project = make_project(
        {
            "aws-primary": primary,
            "gcp-standby": standby_config("warm"),
            "azure-standby": standby_config("warm", "azure"),
        }
    )
    return plan_stack(project, project.stack("aws-primary"))


def test_cloud_dns_weighted_round_robin_without_health_checks(make_project: MakeProject) -> None:
    plan = _routed_ips(make_project)
    record = one(plan, "gcp:dns/recordSet:RecordSet").inputs
    assert record["managedZone"] == "fraud-example-com"
    assert sorted(w["weight"] for w in record["routingPolicy"]["wrrs"]) == [10, 90]
    assert plan.outputs["traffic"]["health_checked"] is False


def test_cloud_dns_routes_ip_endpoints_with_a_records(make_project: MakeProject) -> None:
    record = one(_routed_ips(make_project), "gcp:dns/recordSet:RecordSet").inputs
    assert record["type"] == "A"
    for wrr in record["routingPolicy"]["wrrs"]:
        ipaddress.IPv4Address(wrr["rrdatas"][0])  # no trailing dot, no CNAME target


def test_cloud_dns_refuses_a_set_mixing_hostnames_and_ips(make_project: MakeProject) -> None:
    traffic = _traffic("gcp")
    del traffic["failover"]
    with pytest.raises(SpecError) as caught:
        _routed(make_project, traffic, **{"gcp:project": "fraud-scoring-prod"})
    assert "aws-primary" in caught.value.problem and "gcp-standby" in caught.value.problem
    assert caught.value.field == "exitplan:traffic.weights"


def test_cloud_dns_cannot_fail_over_public_endpoints(make_project: MakeProject) -> None:
    with pytest.raises(UnsupportedFeatureError) as caught:
        _routed(make_project, _traffic("gcp"), **{"gcp:project": "fraud-scoring-prod"})
    assert "dns-failover" in caught.value.problem
    assert caught.value.field == "exitplan:traffic"
