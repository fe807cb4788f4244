"""DNS records whose type matches their target (review B6, N7): an IP is an A/AAAA record or an
alias, a hostname a CNAME or an alias; a health check of an IP names it as an IP; one record
type and one routing policy per record name."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from pulumi_policy import (
    ReportViolation,
    ResourceValidationArgs,
    Severity,
    StackValidationArgs,
)

from components.policy.rule import MANDATORY, get, is_ip, of_type, resource_rule, stack_rule

ROUTE53_RECORD = "aws:route53/record:Record"
ROUTE53_HEALTH_CHECK = "aws:route53/healthCheck:HealthCheck"
CLOUD_DNS_RECORD = "gcp:dns/recordSet:RecordSet"
ADDRESS_TYPES = {"A": 4, "AAAA": 6}
ROUTING_POLICIES = (
    "weightedRoutingPolicies",
    "failoverRoutingPolicies",
    "latencyRoutingPolicies",
    "geolocationRoutingPolicies",
    "geoproximityRoutingPolicies",
    "cidrRoutingPolicies",
)


def target_mismatch(record_type: str, targets: Iterable[Any]) -> str | None:
    """Why these targets cannot be values of a record of this type (None when they can)."""
    for target in targets:
        value = str(target).rstrip(".")
        if record_type == "CNAME" and is_ip(value):
            return f"a CNAME's target must be a hostname, not the IP {value}"
        if record_type in ADDRESS_TYPES and not is_ip(value):
            return f"an {record_type} record's value must be an IP address, not {value!r}"
    return None


def _route53_record(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type != ROUTE53_RECORD:
        return
    props = args.props
    if props.get("aliases") and props.get("records"):
        report("a record is either an alias or has records, not both", None)
    problem = target_mismatch(str(props.get("type", "")), props.get("records") or [])
    if problem:
        report(f"{props.get('name')}: {problem}", None)


def _route53_health_check(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type != ROUTE53_HEALTH_CHECK:
        return
    fqdn = args.props.get("fqdn")
    if fqdn and is_ip(fqdn):
        report(
            f"the health check names the IP {fqdn} as a domain name: Route 53 resolves it "
            "and never finds it healthy",
            None,
        )


def _routing_policy(props: Any) -> str:
    return next((p for p in ROUTING_POLICIES if props.get(p)), "simple")


def _route53_one_type_per_name(args: StackValidationArgs, report: ReportViolation) -> None:
    by_name: dict[tuple[str, str], list[Any]] = defaultdict(list)
    for record in of_type(args.resources, ROUTE53_RECORD):
        key = (str(record.props.get("zoneId")), str(record.props.get("name", "")).rstrip("."))
        by_name[key].append(record)
    for (_, name), records in by_name.items():
        types = {str(r.props.get("type")) for r in records}
        policies = {_routing_policy(r.props) for r in records}
        if (len(types) > 1 and "CNAME" in types) or len(policies) > 1:
            report(
                f"{name} mixes record types {sorted(types)} or routing policies "
                f"{sorted(policies)}: one type and one policy per name",
                records[0].urn,
            )


def _cloud_dns_record(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type != CLOUD_DNS_RECORD:
        return
    record_type = str(args.props.get("type", ""))
    targets = list(args.props.get("rrdatas") or [])
    for policy in ("wrrs", "geos"):
        for item in get(args.props, f"routingPolicy.{policy}", []) or []:
            targets.extend(item.get("rrdatas") or [])
    problem = target_mismatch(record_type, targets)
    if problem:
        report(f"{args.props.get('name')}: {problem}", None)


ROUTE53_RECORD_TARGET = resource_rule(
    "route53-record-type-matches-target",
    "A Route 53 record's type matches its values: IPs in A/AAAA records, hostnames in CNAMEs.",
    _route53_record,
    severity=Severity.CRITICAL,
    enforcement=MANDATORY,
    source="https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/ResourceRecordTypes.html",
    fix="derive the record from the endpoint kind: an IP endpoint is an A record (or alias), an "
    "NLB hostname an alias A to the load balancer or a CNAME",
)
ROUTE53_HEALTH_CHECK_IP = resource_rule(
    "route53-health-check-ip",
    "A Route 53 health check of an IP endpoint sets ip_address, not the IP as a domain name.",
    _route53_health_check,
    severity=Severity.CRITICAL,
    enforcement=MANDATORY,
    source="https://docs.aws.amazon.com/Route53/latest/APIReference/API_HealthCheckConfig.html",
    fix="set ip_address (and port) for IP endpoints; fqdn only for hostnames",
)
ROUTE53_ONE_TYPE = stack_rule(
    "route53-one-type-per-name",
    "All Route 53 records of one name (a weighted or failover set) share one type and one "
    "routing policy; a CNAME cannot share its name with other types.",
    _route53_one_type_per_name,
    severity=Severity.CRITICAL,
    enforcement=MANDATORY,
    source="https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/routing-policy.html",
    fix="make every record of the set the same type (alias A to the NLB, A for IP endpoints), "
    "and nest policies through aliases to other names instead of mixing them on one name",
)
CLOUD_DNS_RECORD_TARGET = resource_rule(
    "cloud-dns-record-type-matches-target",
    "A Cloud DNS record set's type matches its rrdatas (routing-policy items included).",
    _cloud_dns_record,
    severity=Severity.CRITICAL,
    enforcement=MANDATORY,
    source="https://cloud.google.com/dns/docs/records-overview",
    fix="use type A for IP endpoints and CNAME only for hostnames",
)

POLICIES = [
    ROUTE53_RECORD_TARGET,
    ROUTE53_HEALTH_CHECK_IP,
    ROUTE53_ONE_TYPE,
    CLOUD_DNS_RECORD_TARGET,
]
