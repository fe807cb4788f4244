"""The stack-outputs contract: every shipped stack's program exports exactly the typed
`StackOutputs`, the values round-trip through `pulumi.export` under mocks, and a stack
reference answers with the referenced stack's own planned outputs."""

from __future__ import annotations

from typing import Any

import pytest

from components.catalog.clouds import facts
from components.errors import InputError
from components.outputs import OUTPUT_NAMES, SECRET_OUTPUTS, StackOutputs, parse_outputs
from components.planning.runner import Plan
from runbooks.render import plain  # outputs as `pulumi stack output --json` prints them
from tests.conftest import ALL_STACKS


@pytest.mark.parametrize("stack", ALL_STACKS)
def test_every_stack_exports_the_typed_contract(plans: dict[str, Plan], stack: str) -> None:
    plan = plans[stack]
    assert set(plan.outputs) <= set(OUTPUT_NAMES)
    typed = parse_outputs(stack, plan.outputs)
    dumped = typed.model_dump(mode="json", exclude_unset=True)
    assert dumped == plain(plan.outputs), "the outputs do not round-trip through the model"
    assert plan.secret_outputs == {k for k in SECRET_OUTPUTS if k in plan.outputs}


@pytest.mark.parametrize("stack", ALL_STACKS)
def test_endpoint_kind_is_what_the_cloud_reports(plans: dict[str, Plan], stack: str) -> None:
    typed = StackOutputs.model_validate(plans[stack].outputs)
    if typed.role != "edge":
        assert typed.endpoint_kind == facts(typed.provider).lb_address
    if typed.endpoint:
        host = typed.endpoint.split("://", 1)[1].rsplit(":", 1)[0]
        assert host.replace(".", "").isdigit() == (typed.endpoint_kind == "ip")


def test_models_carry_the_pinned_digests(plans: dict[str, Plan], project: Any) -> None:
    typed = StackOutputs.model_validate(plans["aws-primary"].outputs)
    pinned = project.stack("aws-primary").spec.triton.models
    assert [(m.name, m.version, m.digest) for m in typed.models] == [
        (m.name, m.version, m.digest) for m in pinned
    ]


def test_a_stack_reference_answers_with_the_referenced_stacks_outputs(
    plans: dict[str, Plan],
) -> None:
    primary = plans["aws-primary"]
    routed = {r.inputs.get("setIdentifier"): r.inputs for r in primary.resources if r.inputs}
    assert "gcp-standby" in routed
    standby_host = plans["gcp-standby"].outputs["endpoint"].split("://")[1].rsplit(":", 1)[0]
    assert standby_host in str(routed["gcp-standby"])


def test_outputs_of_another_version_are_refused_naming_the_field(plans: dict[str, Plan]) -> None:
    raw = dict(plans["gcp-standby"].outputs)
    del raw["endpoint_kind"]
    with pytest.raises(InputError) as caught:
        parse_outputs("gcp-standby", raw)
    assert caught.value.field == "endpoint_kind"
    assert "pulumi up -s gcp-standby" in caught.value.fix
