"""The first deploy as a tested sequence: the documented order plans stack after stack, each
stack reference answered only by the typed outputs of a stack deployed in an earlier step; the
test fails when a step reads a stack or an output no earlier step provides."""

from __future__ import annotations

import dataclasses
import json

import jsonschema
import pytest
from typer.testing import CliRunner

from components.deploy_order import DeployStep, deploy_order, stack_for, unmet_needs
from components.errors import ExitplanError, SpecError
from components.planning.runner import Plan, plan_stack
from components.stack_config import Project
from runbooks.cli import app
from tests.conftest import ROOT

ROUTE53_RECORD = "aws:route53/record:Record"


def run(project: Project, steps: list[DeployStep], planned: dict[str, Plan]) -> None:
    """Plan every deploy step in order; `planned` holds only what earlier steps deployed."""
    for step in steps:
        if step.action == "deploy":
            planned.pop(step.stack, None)  # a second pass replaces the first
            plan_stack(project, stack_for(project, step), planned, resolve_references=False)
        else:  # publishing writes to the store the stack's deploy created
            assert planned[step.stack].outputs["model_repository_uri"], step


def test_the_order_meets_every_need_and_covers_every_stack(project: Project) -> None:
    steps = deploy_order(project)
    assert unmet_needs(steps) == []
    deployed = {s.stack for s in steps if s.action == "deploy"}
    assert deployed == set(project.stack_names())


def test_the_router_owner_deploys_twice_around_its_standbys(project: Project) -> None:
    """aws-primary stores the models gcp-standby copies and routes to gcp-standby: the cycle
    is broken by a first pass without the router."""
    steps = [(s.action, s.stack, s.router) for s in deploy_order(project)]
    first = steps.index(("deploy", "aws-primary", False))
    published = steps.index(("publish", "aws-primary", False))
    router = steps.index(("deploy", "aws-primary", True))
    standbys = [i for i, (a, s, _) in enumerate(steps) if a == "deploy" and s.endswith("standby")]
    assert first < published < min(standbys) and max(standbys) < router
    transfer = next(s for s in deploy_order(project) if s.stack == "gcp-standby")
    assert "aws-primary:models" in transfer.needs  # Storage Transfer reads the S3 store


def test_the_documented_order_plans_step_by_step(project: Project) -> None:
    planned: dict[str, Plan] = {}
    first_pass: Plan | None = None
    for step in deploy_order(project):
        run(project, [step], planned)
        if (step.stack, step.router) == ("aws-primary", False) and step.action == "deploy":
            first_pass = planned["aws-primary"]
    assert first_pass is not None
    assert not first_pass.of_type(ROUTE53_RECORD) and first_pass.outputs.get("traffic") is None
    assert not first_pass.of_type("pulumi:pulumi:StackReference")
    assert planned["aws-primary"].of_type(ROUTE53_RECORD)
    assert planned["aws-primary"].outputs["traffic"]["weights"]["gcp-standby"] == 0


def test_a_router_before_the_stacks_it_routes_to_is_refused(project: Project) -> None:
    steps = deploy_order(project)
    router = next(s for s in steps if s.stack == "aws-primary" and s.router)
    broken = [router, *[s for s in steps if s is not router]]
    assert unmet_needs(broken)
    with pytest.raises(SpecError, match="reads the outputs of gcp-standby, which is not deployed"):
        run(project, broken, {})


def test_an_edge_before_the_cluster_it_joins_is_refused(project: Project) -> None:
    steps = deploy_order(project)
    edge = next(s for s in steps if s.stack == "aws-wavelength")
    with pytest.raises(SpecError, match="aws-wavelength reads the outputs of aws-primary"):
        run(project, [edge], {})


def test_a_step_reading_an_output_no_earlier_step_provides_fails(project: Project) -> None:
    """aws-primary deployed by an older exitplan, without `edge_attachment`: the Wavelength
    nodes cannot join, and the plan says which stack and output."""
    steps = deploy_order(project)
    planned: dict[str, Plan] = {}
    run(project, [next(s for s in steps if s.stack == "aws-primary")], planned)  # first pass
    old = planned["aws-primary"]
    outputs = {k: v for k, v in old.outputs.items() if k != "edge_attachment"}
    planned["aws-primary"] = dataclasses.replace(old, outputs=outputs)
    edge = next(s for s in steps if s.stack == "aws-wavelength")
    with pytest.raises(ExitplanError, match="aws-primary provides no 'edge_attachment' output"):
        run(project, [edge], planned)
    # A failed plan leaves nothing behind: the next plan in this process does not inherit its
    # pending outputs (it failed with this error before the runner forgot them).
    assert plan_stack(project, project.stack("azure-standby"), {}).outputs["endpoint"]


def test_stacks_order_prints_the_steps_as_its_schema_says(project: Project) -> None:
    result = CliRunner().invoke(app, ["stacks", "order", "--project", str(project.root), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    schema = json.loads((ROOT / "runbooks" / "schemas" / "stacks.order.json").read_text())
    jsonschema.Draft202012Validator(schema).validate(data)
    assert [s["command"] for s in data["steps"]] == [s.command for s in deploy_order(project)]
    assert data["steps"][0]["command"].startswith(
        "pulumi config set -s aws-primary --path 'exitplan:traffic.enabled' false"
    )
