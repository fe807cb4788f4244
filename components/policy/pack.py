"""The pack's rules, in one list: `__main__` hands it to `PolicyPack`, `offline.py` runs it over
offline plans. Each module holds the rules of one concern."""

from __future__ import annotations

from pulumi_policy import Policy

from components.policy import (
    deploy_rules,
    dns_rules,
    driver_rules,
    security_rules,
    store_rules,
    workload_rules,
)

POLICIES: list[Policy] = [
    *deploy_rules.POLICIES,
    *dns_rules.POLICIES,
    *driver_rules.POLICIES,
    *security_rules.POLICIES,
    *store_rules.POLICIES,
    *workload_rules.POLICIES,
]


def source_of(policy: Policy) -> str:
    """A rule's source for people: its Checkov id where one exists, else its documentation URL."""
    return (
        policy.framework.reference
        if policy.framework and policy.framework.reference
        else (policy.url or "")
    )
