"""An open Kubernetes API in any shape: CIDRs that together cover the whole internet are
refused by the spec (exit 2) and reported by the policy rules naming what was found."""

from __future__ import annotations

import pytest

from components.cidrs import whole_internet
from components.errors import SpecError
from components.planning.runner import Plan
from components.spec import parse_spec
from tests.conftest import service, stack_config
from tests.policy.helpers import add, edit, resource, violations

HALVES = ["0.0.0.0/1", "128.0.0.0/1"]


@pytest.mark.parametrize(
    ("cidrs", "found"),
    [
        (["0.0.0.0/0"], "0.0.0.0/0"),
        (HALVES, "0.0.0.0/1, 128.0.0.0/1 (together 0.0.0.0/0)"),
        (["10.0.0.0/8", "0.0.0.0/2", "64.0.0.0/2", "128.0.0.0/1"], "(together 0.0.0.0/0)"),
        (["::/1", "8000::/1"], "::/1, 8000::/1 (together ::/0)"),
        (["0.0.0.0/1", "203.0.113.0/24"], ""),
    ],
)
def test_whole_internet_names_the_ranges_found(cidrs: list[str], found: str) -> None:
    assert whole_internet(cidrs).endswith(found) if found else whole_internet(cidrs) == ""


def test_split_open_cidrs_are_refused_by_the_spec() -> None:
    raw = service(stack_config("aws-primary"))
    raw["network"]["api_allowed_cidrs"] = HALVES
    with pytest.raises(SpecError) as error:
        parse_spec(raw, source="Pulumi.aws-primary.yaml")
    assert error.value.exit_code == 2
    assert error.value.field == "exitplan:service.network.api_allowed_cidrs"
    assert "0.0.0.0/1, 128.0.0.0/1 (together 0.0.0.0/0)" in error.value.problem


def test_eks_rule_names_the_split_cidrs(plans: dict[str, Plan]) -> None:
    plan = edit(
        plans["aws-primary"], "aws:eks/cluster:Cluster", "vpcConfig.publicAccessCidrs", HALVES
    )
    [found] = violations(plan, "eks-api-not-open")
    assert "0.0.0.0/1, 128.0.0.0/1 (together 0.0.0.0/0)" in found.message
    assert "0.0.0.0/0 (" not in found.message.split("together")[0]


def test_oke_rule_sums_the_rules_of_a_security_list(plans: dict[str, Plan]) -> None:
    rules = [
        {"source": half, "protocol": "6", "tcpOptions": {"min": 6443, "max": 6443}}
        for half in HALVES
    ]
    listed = resource(
        "oci:Core/securityList:SecurityList", "split", {"ingressSecurityRules": rules}
    )
    [found] = violations(add(plans["oci-standby"], listed), "oke-api-not-open")
    assert "admits 0.0.0.0/1, 128.0.0.0/1 (together 0.0.0.0/0) on TCP 6443" in found.message
    assert (
        violations(
            add(
                plans["oci-standby"],
                resource(
                    "oci:Core/securityList:SecurityList",
                    "half",
                    {"ingressSecurityRules": rules[:1]},
                ),
            ),
            "oke-api-not-open",
        )
        == []
    )
