"""The pack's rules run offline over planned stacks (`exitplan policy check`).

Each `PlannedResource` becomes what CrossGuard hands a rule under a real engine: resource rules
get `ResourceValidationArgs` (type, props, urn, name, options, provider), stack rules get
`StackValidationArgs` whose `PolicyResource`s carry their dependencies and parent. Violations are
collected through the same `report_violation` callback. Across stacks, the globally unique
names are checked once more over every plan together.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from pulumi_policy import (
    Policy,
    PolicyCustomTimeouts,
    PolicyProviderResource,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

from components.planning.runner import Plan, PlannedResource
from components.policy.deploy_rules import UNIQUE_NAMES, duplicate_names
from components.policy.pack import POLICIES, source_of

PROJECT = "exitplan"
CROSS_STACK = "(all stacks)"


@dataclass(frozen=True)
class Violation:
    """One rule broken by one resource (or stack) of one stack."""

    stack: str
    resource: str
    resource_type: str
    rule: str
    severity: str
    enforcement: str
    source: str
    message: str
    fix: str


@dataclass
class PolicyReport:
    """Every violation over the checked stacks, and the rules they were checked against."""

    stacks: list[str]
    violations: list[Violation] = field(default_factory=list)
    policies: list[Policy] = field(default_factory=lambda: list(POLICIES))

    @property
    def mandatory(self) -> list[Violation]:
        """The violations that block a deployment."""
        return [v for v in self.violations if v.enforcement == "mandatory"]

    @property
    def verdict(self) -> str:
        """FAILED when any mandatory rule is broken, else PASSED (advisory ones only warn)."""
        return "FAILED" if self.mandatory else "PASSED"

    def as_dict(self) -> dict[str, Any]:
        """The `--json` shape: stacks, rules with their sources, violations, verdict."""
        return {
            "stacks": self.stacks,
            "verdict": self.verdict,
            "rules": [rule_dict(p) for p in self.policies],
            "violations": [asdict(v) for v in self.violations],
        }


def rule_dict(policy: Policy) -> dict[str, Any]:
    """A rule's id, severity, enforcement, source, documentation URL, description and fix."""
    return {
        "id": policy.name,
        "severity": policy.severity.value if policy.severity else "",
        "enforcement": policy.enforcement_level.value if policy.enforcement_level else "",
        "source": source_of(policy),
        "url": policy.url or "",
        "description": policy.description,
        "fix": policy.remediation_steps or "",
    }


def urn(stack: str, resource: PlannedResource) -> str:
    """A URN for a planned resource (type and name identify it; parents are not encoded)."""
    return f"urn:pulumi:{stack}::{PROJECT}::{resource.type}::{resource.name}"


def _options(parent: str) -> PolicyResourceOptions:
    return PolicyResourceOptions(
        protect=False,
        ignore_changes=[],
        delete_before_replace=None,
        aliases=[],
        custom_timeouts=PolicyCustomTimeouts(0, 0, 0),
        additional_secret_outputs=[],
        parent=parent or None,
    )


def policy_resources(plan: Plan) -> list[PolicyResource]:
    """The plan's resources as a stack policy sees them, dependencies, parents and providers
    linked (a dependency name two resources share links to both)."""
    by_name: dict[str, list[PolicyResource]] = {}
    built: list[tuple[PlannedResource, PolicyResource]] = []
    for planned in plan.resources:
        resource = PolicyResource(
            planned.type,
            planned.inputs,
            urn(plan.stack, planned),
            planned.name,
            _options(planned.parent),
            None,
            None,
            [],
            {},
        )
        by_name.setdefault(planned.name, []).append(resource)
        built.append((planned, resource))
    for planned, resource in built:
        providers = [
            r
            for r in by_name.get(planned.provider, [])
            if r.resource_type.startswith("pulumi:providers:")
        ]
        if providers:
            resource.provider = PolicyProviderResource(
                providers[0].resource_type, providers[0].props, providers[0].urn, providers[0].name
            )
        parents = by_name.get(planned.parent, [])
        resource.parent = parents[0] if parents else None
        resource.dependencies = [d for name in planned.dependencies for d in by_name.get(name, [])]
    return [resource for _, resource in built]


def _provider(plan: Plan, planned: PlannedResource) -> PolicyProviderResource | None:
    found = [
        r
        for r in plan.resources
        if r.name == planned.provider and r.type.startswith("pulumi:providers:")
    ]
    if not found:
        return None
    return PolicyProviderResource(
        found[0].type, found[0].inputs, urn(plan.stack, found[0]), found[0].name
    )


def _violation(stack: str, policy: Policy, resource: str, typ: str, message: str) -> Violation:
    meta = rule_dict(policy)
    return Violation(
        stack=stack,
        resource=resource,
        resource_type=typ,
        rule=policy.name,
        severity=meta["severity"],
        enforcement=meta["enforcement"],
        source=meta["source"],
        message=message,
        fix=meta["fix"],
    )


def check_plan(plan: Plan, policies: Iterable[Policy] = POLICIES) -> list[Violation]:
    """Every violation of the rules by one planned stack."""
    found: list[Violation] = []
    resources = policy_resources(plan)
    by_urn = {r.urn: r for r in resources}
    for policy in policies:
        if isinstance(policy, StackValidationPolicy):

            def report(message: str, at: str | None = None, policy: Policy = policy) -> None:
                hit = by_urn.get(at or "")
                found.append(
                    _violation(
                        plan.stack,
                        policy,
                        hit.name if hit else "",
                        hit.resource_type if hit else "",
                        message,
                    )
                )

            policy.validate(StackValidationArgs(resources), report)
        elif isinstance(policy, ResourceValidationPolicy):
            for planned in plan.resources:
                args = ResourceValidationArgs(
                    planned.type,
                    planned.inputs,
                    urn(plan.stack, planned),
                    planned.name,
                    _options(planned.parent),
                    _provider(plan, planned),
                )

                def report_resource(
                    message: str,
                    _at: str | None = None,
                    policy: Policy = policy,
                    planned: PlannedResource = planned,
                ) -> None:
                    found.append(
                        _violation(plan.stack, policy, planned.name, planned.type, message)
                    )

                policy.validate(args, report_resource)
    return found


def cross_stack_names(plans: list[Plan]) -> list[Violation]:
    """Globally unique names asked for by more than one resource across all the plans."""
    stack_of: dict[str, str] = {}
    resources: list[PolicyResource] = []
    for plan in plans:
        for resource in policy_resources(plan):
            stack_of[resource.urn] = plan.stack
            resources.append(resource)
    violations = []
    for (kind, name), claims in duplicate_names(resources).items():
        stacks = sorted({stack_of[r.urn] for r in claims})
        if len(stacks) < 2:
            continue  # one stack's own duplicates are reported by the stack rule
        listed = ", ".join(f"{stack_of[r.urn]}/{r.name}" for r in claims)
        message = f"{kind.rsplit(':', 1)[-1]} name {name!r} is asked for by {listed}"
        violations.append(_violation(CROSS_STACK, UNIQUE_NAMES, claims[0].name, kind, message))
    return violations


def check_plans(plans: list[Plan], policies: Iterable[Policy] = POLICIES) -> PolicyReport:
    """The rules over each plan, plus the globally unique names across all of them."""
    chosen = list(policies)
    report = PolicyReport(stacks=[p.stack for p in plans], policies=chosen)
    for plan in plans:
        report.violations.extend(check_plan(plan, chosen))
    if UNIQUE_NAMES in chosen:
        report.violations.extend(cross_stack_names(plans))
    return report
