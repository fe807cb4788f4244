"""What every rule is made of: an id, a severity, mandatory or advisory, a source and a fix, as
`pulumi_policy` policies; and the small readers the rules share (dotted paths into planned or
deployed properties, dependency closure, pod templates).

Properties are the SDKs' wire names (camelCase), as CrossGuard passes them in `args.props`.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    PolicyComplianceFramework,
    PolicyResource,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    Severity,
    StackValidationArgs,
    StackValidationPolicy,
)

MANDATORY = EnforcementLevel.MANDATORY
ADVISORY = EnforcementLevel.ADVISORY
ResourceCheck = Callable[[ResourceValidationArgs, ReportViolation], None]
StackCheck = Callable[[StackValidationArgs, ReportViolation], None]


def _framework(checkov: str) -> PolicyComplianceFramework | None:
    return PolicyComplianceFramework(name="Checkov", reference=checkov) if checkov else None


def resource_rule(
    rule_id: str,
    description: str,
    check: ResourceCheck,
    *,
    severity: Severity,
    enforcement: EnforcementLevel,
    source: str,
    fix: str,
    checkov: str = "",
) -> ResourceValidationPolicy:
    """A per-resource rule: `source` is the provider documentation URL, `checkov` the Checkov
    check id where one exists, `fix` what to change."""
    return ResourceValidationPolicy(
        name=rule_id,
        description=description,
        validate=check,
        enforcement_level=enforcement,
        severity=severity,
        url=source,
        remediation_steps=fix,
        framework=_framework(checkov),
    )


def stack_rule(
    rule_id: str,
    description: str,
    check: StackCheck,
    *,
    severity: Severity,
    enforcement: EnforcementLevel,
    source: str,
    fix: str,
    checkov: str = "",
) -> StackValidationPolicy:
    """A rule over the whole stack (relations between resources, dependencies)."""
    return StackValidationPolicy(
        name=rule_id,
        description=description,
        validate=check,
        enforcement_level=enforcement,
        severity=severity,
        url=source,
        remediation_steps=fix,
        framework=_framework(checkov),
    )


def get(props: Mapping[str, Any] | None, path: str, default: Any = None) -> Any:
    """The value at a dotted path (`spec.template.spec`, list indexes as numbers), or default."""
    value: Any = props
    for part in path.split("."):
        if isinstance(value, Mapping):
            value = value.get(part)
        elif isinstance(value, list | tuple) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return default
        if value is None:
            return default
    return value


def is_ip(value: Any) -> bool:
    """Whether a value is an IP address literal (a trailing DNS dot allowed)."""
    try:
        ipaddress.ip_address(str(value).rstrip("."))
    except ValueError:
        return False
    return True


def of_type(resources: list[PolicyResource], *types: str) -> list[PolicyResource]:
    """The stack's resources of the given type tokens."""
    return [r for r in resources if r.resource_type in types]


def depends_on(
    resource: PolicyResource, target: PolicyResource, resources: Iterable[PolicyResource] = ()
) -> bool:
    """Whether `resource` waits for `target`: directly, through its dependencies, or (given the
    stack's `resources`, to find providers by URN) through its provider's, since a resource is
    created only once its provider is."""
    providers = {r.urn: r for r in resources if r.resource_type.startswith("pulumi:providers:")}
    seen: set[str] = set()
    todo = [resource]
    while todo:
        current = todo.pop()
        if current.urn in seen:
            continue
        seen.add(current.urn)
        if current is not resource and current.urn == target.urn:
            return True
        todo.extend(current.dependencies)
        if current.provider is not None and current.provider.urn in providers:
            todo.append(providers[current.provider.urn])
    return False


POD_TEMPLATE_PATHS = {
    "kubernetes:apps/v1:Deployment": "spec.template.spec",
    "kubernetes:apps/v1:StatefulSet": "spec.template.spec",
    "kubernetes:apps/v1:DaemonSet": "spec.template.spec",
    "kubernetes:batch/v1:Job": "spec.template.spec",
    "kubernetes:batch/v1:CronJob": "spec.jobTemplate.spec.template.spec",
    "kubernetes:core/v1:Pod": "spec",
}


def pod_spec(resource_type: str, props: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The pod spec of a Kubernetes workload (None for other types)."""
    path = POD_TEMPLATE_PATHS.get(resource_type)
    return get(props, path, {}) if path else None


def model_repository(container: Mapping[str, Any]) -> str:
    """A Triton container's `--model-repository` value ("" when it has none)."""
    for arg in map(str, container.get("args") or []):
        if arg.startswith("--model-repository="):
            return arg.split("=", 1)[1]
    return ""


def containers(spec: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    """A pod spec's init containers and containers."""
    yield from spec.get("initContainers") or []
    yield from spec.get("containers") or []


def is_triton(container: Mapping[str, Any]) -> bool:
    """Whether a container runs Triton (its image, command or first argument)."""
    words = [str(container.get("image", "")), *map(str, container.get("command") or [])]
    return any("tritonserver" in w for w in words)


PropertyProblem = Callable[[Mapping[str, Any]], str | None]


def property_rule(
    rule_id: str, description: str, resource_type: str, problem: PropertyProblem, **meta: Any
) -> ResourceValidationPolicy:
    """A per-resource rule over one type's properties: `problem(props)` says what is wrong, or
    None; `meta` as for `resource_rule`."""

    def check(args: ResourceValidationArgs, report: ReportViolation) -> None:
        if args.resource_type == resource_type:
            found = problem(args.props)
            if found:
                report(found, None)

    return resource_rule(rule_id, description, check, **meta)


def namespace(props: Mapping[str, Any]) -> str:
    """A namespaced Kubernetes object's namespace."""
    return str(get(props, "metadata.namespace", "default"))


def selects(selector: Mapping[str, Any] | None, labels: Mapping[str, Any]) -> bool:
    """Whether a non-empty label selector (matchLabels or a Service's plain map) matches."""
    wanted = dict(selector or {})
    return bool(wanted) and all(labels.get(k) == v for k, v in wanted.items())
