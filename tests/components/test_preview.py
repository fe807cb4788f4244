"""Preview mode: the mocks answer as `pulumi preview` of a first deploy does (a new resource's
id and everything its cloud computes are unknown, stack references answer with the deployed
stacks' outputs), and every shipped stack's program plans that way without crashing."""

from __future__ import annotations

from typing import Any

import pulumi
import pytest
from pulumi.output import Unknown

from components.planning.mocks import PlanMocks
from components.planning.runner import Plan, plan_stack
from components.stack_config import Project
from tests.conftest import ALL_STACKS

SERVICE = "kubernetes:core/v1:Service"


def args(typ: str, inputs: dict[str, Any]) -> pulumi.runtime.MockResourceArgs:
    return pulumi.runtime.MockResourceArgs(typ=typ, name="triton", inputs=inputs, provider="")


def test_preview_mocks_return_known_inputs_only() -> None:
    full = PlanMocks("aws-primary", {}, "aws", {})
    preview = PlanMocks("aws-primary", {}, "aws", {}, preview=True)
    service = {"spec": {"type": "LoadBalancer"}}
    assert "status" in full.new_resource(args(SERVICE, service))[1]
    assert preview.new_resource(args(SERVICE, service)) == ("", service)
    role = {"name": "r", "assumeRolePolicy": Unknown()}
    assert preview.new_resource(args("aws:iam/role:Role", role)) == ("", {"name": "r"})
    assert "arn" in full.new_resource(args("aws:iam/role:Role", {"name": "r"}))[1]


def test_preview_mocks_still_answer_stack_references_with_deployed_outputs() -> None:
    deployed = {"aws-primary": {"endpoint": "http://a:8000"}}
    preview = PlanMocks("aws-wavelength", {}, "aws", deployed, preview=True)
    reference = args("pulumi:pulumi:StackReference", {"name": "organization/exitplan/aws-primary"})
    assert preview.new_resource(reference)[1]["outputs"] == {"endpoint": "http://a:8000"}


@pytest.mark.parametrize("name", ALL_STACKS)
def test_every_shipped_stack_plans_in_preview(
    project: Project, plans: dict[str, Plan], name: str
) -> None:
    deployed = dict(plans)  # the stacks it references count as deployed
    preview = plan_stack(project, project.stack(name), deployed, preview=True)
    assert deployed == plans, "a preview must not replace a deployed plan"
    assert preview.resources, name
    if plans[name].outputs["endpoint"]:  # aws-wavelength exports none yet (review M1)
        assert preview.outputs["endpoint"] is None, "the load balancer's address is unknown"
    assert {r.type for r in preview.resources} <= {r.type for r in plans[name].resources}
