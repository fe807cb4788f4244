"""`sandbox up --first-deploy` (issue 22 item 6, review J3): from empty stores, in the order
`exitplan stacks order` prints, every stack turns ready and answers as the packaged model does;
with the copy step as it was before the J3 fix (a one-shot copy at pod start), the stack that
copies fails `up`, named with the cause, and nothing is left running."""

from __future__ import annotations

from dataclasses import replace

import pytest
from typer.testing import CliRunner

from components.stack_config import Project
from runbooks.cli import app
from runbooks.targets import sandbox_plan
from runbooks.targets.sandbox_setup import first_deploy_steps, sandbox_for, start_sandbox
from sandbox import first_deploy
from sandbox.errors import FirstDeployFailed
from sandbox.first_deploy import Step
from sandbox.planned import PlannedTriton
from tests.conftest import copied_project
from tests.runbooks.json_contract import validated

pytestmark = pytest.mark.xdist_group("sandbox-timing")
STACKS = ["aws-primary", "azure-edge", "gcp-edge", "azure-standby"]


@pytest.fixture(scope="module")
def copied(tmp_path_factory: pytest.TempPathFactory) -> Project:
    return copied_project(tmp_path_factory.mktemp("first-deploy-project"))


def test_the_steps_follow_stacks_order_without_the_routers_second_deploy(
    copied: Project,
) -> None:
    steps = first_deploy_steps(copied)
    assert steps[:2] == [Step("deploy", "aws-primary"), Step("publish", "aws-primary")]
    assert [s.stack for s in steps if s.action == "deploy"].count("aws-primary") == 1
    assert Step("deploy", "gcp-standby", copies_from="aws-primary") in steps
    edge = steps.index(Step("deploy", "azure-edge"))
    assert steps[edge + 1] == Step("publish", "azure-edge")  # published after it deploys


def test_a_first_deploy_from_empty_stores_serves_on_every_stack(copied: Project) -> None:
    sandbox = sandbox_for(copied)
    args = ["sandbox", "up", "--first-deploy", "--json", "--project", str(copied.root)]
    for stack in STACKS:
        args += ["--stacks", stack]
    try:
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 0, (result.output, result.exception)
        doc = validated(result.stdout)
        outcomes = {o["stack"]: o for o in doc["first_deploy"]}
        assert set(outcomes) == set(STACKS)
        assert all(o["passed"] and o["answer"] == "checked" for o in outcomes.values()), outcomes
        assert all(o["ready_after_s"] >= 0 for o in outcomes.values())
        # The edges copy behind a model-sync sidecar that keeps running; the pilot-light
        # standby was tried (one replica, as a failover starts it) and is back at rest.
        kinds = {(c["kind"], c["stack"]) for c in doc["components"] if c["pid"]}
        assert {("sync", "azure-edge"), ("sync", "gcp-edge")} <= kinds
        assert ("triton", "azure-standby") not in kinds and ("sync", "azure-standby") not in kinds
    finally:
        sandbox.down()


def test_review_j3_reverted_fails_the_first_deploy_naming_the_stack(
    copied: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    """azure-edge's copy as a one-shot init container (the plan before the J3 fix): it runs at
    the stack's deploy, before the publish step, and Triton serves the empty copy."""
    read = sandbox_plan.planned_triton

    def one_shot(*args: object) -> PlannedTriton:
        planned = read(*args)  # type: ignore[arg-type]
        if planned.copy is None:
            return planned
        return replace(planned, copy=replace(planned.copy, sync_every_s=None, sync_wait_s=0.0))

    monkeypatch.setattr(sandbox_plan, "planned_triton", one_shot)
    monkeypatch.setattr(first_deploy, "READY_MARGIN_S", 3.0)  # the poll (30 s) plus a little
    sandbox = sandbox_for(copied)
    try:
        with pytest.raises(FirstDeployFailed) as caught:
            start_sandbox(copied, ["aws-primary", "azure-edge"], lambda _m: None, first_deploy=True)
    finally:
        leftover = sandbox.down()
    failed = caught.value
    assert failed.exit_code == 1 and "azure-edge not serving" in failed.cause
    assert "one-shot copy ran at pod start" in failed.cause and "review J3" in failed.cause
    assert "aws-primary not serving" not in failed.cause
    assert leftover == [] and sandbox.running() is None, "a failed up left processes running"
