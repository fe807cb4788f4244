"""`exitplan runbook render SERVICE` (issue 18 part 3): the runbook names every stack of the
service and every command, and its cutover agrees with the drill: its steps are what the
printed drill command prints with `--dry` on the live target."""

from __future__ import annotations

import dataclasses
import re
import shlex
from pathlib import Path
from typing import Any, ClassVar

import pytest
from typer.testing import CliRunner

from components.catalog.clouds import clouds, facts
from components.catalog.operations import dns_commands, manual_revocation, manual_revocation_clouds
from components.errors import InputError
from components.stack_config import Project
from runbooks.cli import app
from runbooks.drills.exit_options import ExitPlanOptions, planned_steps
from runbooks.rehearsal.inventory import load_inventory
from runbooks.rehearsal.readiness import service_stacks
from runbooks.rehearsal.runbook import (
    Cutover,
    plan_cutover,
    render_runbook,
    revocation_gap,
)
from runbooks.targets.live.target import REVOCATION_GAP
from tests.conftest import ROOT

EXAMPLE = ROOT / "examples" / "inventory.csv"


def rendered(*args: str) -> str:
    """`exitplan runbook render ARGS` on the repository's stacks; its Markdown."""
    result = CliRunner().invoke(app, ["runbook", "render", *args, "--project", str(ROOT)])
    assert result.exit_code == 0, (result.output, result.exception)
    return result.stdout


def drill_steps(markdown: str) -> list[str]:
    """The numbered steps under "The drill does, in order:"."""
    block = markdown.split("The drill does, in order:", 1)[1].split("\n\n", 2)[1]
    return [re.sub(r"^\s*\d+\. ", "", line) for line in block.splitlines()]


def drill_command(markdown: str) -> list[str]:
    """The `exitplan drill exit-plan` command the runbook runs (its code block)."""
    line = next(ln for ln in markdown.splitlines() if ln.startswith("exitplan drill exit-plan"))
    return shlex.split(line)


class FakeLive:
    """The live target as `--dry` sees it: the router's weights, the stacks, no process or
    redeploy operations (as `LiveTarget.unsupported` says), AWS IRSA revocable."""

    kind = "live"
    unsupported: ClassVar[dict[str, str]] = {"redeploy:aws-primary": "not automated"}

    def __init__(self, weights: dict[str, int]) -> None:
        self._weights = weights

    def stacks(self) -> list[str]:
        return list(self._weights)

    def weights(self) -> dict[str, int]:
        return dict(self._weights)

    def credential_state(self, stack: str) -> dict[str, str]:  # read by the clean-start check
        return {"status": "active"}


def test_the_fraud_scoring_runbook_names_every_stack_contact_and_command() -> None:
    markdown = rendered("fraud-scoring", "--inventory", str(EXAMPLE))
    project = Project(ROOT)
    for stack in service_stacks(project, "fraud-scoring"):
        assert f"| {stack.name} |" in markdown
    (row,) = [r for r in load_inventory(EXAMPLE, project) if r.service == "fraud-scoring"]
    for fact in (row.owner, row.escalation, row.exit_clause, row.data_export_path):
        assert fact in markdown
    commands = [
        "exitplan drill exit-plan --from aws-primary --to gcp-standby --target live --keep "
        "--rto 900 --reference .exitplan/sandbox-model/reference.json",
        "--reference .exitplan/sandbox-model/reference.json --dry`",
        "pulumi config set --path 'exitplan:standby.level' hot -s gcp-standby",
        "pulumi up -s gcp-standby",
        "pulumi config set --path 'exitplan:traffic.weights.aws-primary' 0 -s aws-primary",
        "pulumi config set --path 'exitplan:traffic.weights.gcp-standby' 100 -s aws-primary",
        "pulumi config set --path 'exitplan:traffic.failover.primary' gcp-standby -s aws-primary",
        "pulumi up -s aws-primary",
        "aws route53 list-resource-record-sets",
        "exitplan load --url http://score.fraud.example.com:8000 --reference "
        ".exitplan/sandbox-model/reference.json",
        "exitplan parity aws-primary gcp-standby",
        'curl -fsS "$(pulumi stack output endpoint -s gcp-standby)/v2/health/ready"',
        "exitplan drill rollback .exitplan/drills/",
        "pulumi config set --path 'exitplan:standby.level' warm -s gcp-standby",
        "az identity federated-credential delete",
        "gcloud storage buckets remove-iam-policy-binding gs://fraud-scoring-models-usc1",
        "oci iam policy update",
    ]
    for command in commands:
        assert command in markdown, command
    headings = ("Contacts", "Exit clause", "Cutover plan", "Manual steps", "Checks", "Rollback")
    order = [markdown.index(f"## {h}") for h in headings]
    assert order == sorted(order)


def test_the_runbook_steps_are_what_its_drill_command_prints_with_dry(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Run the runbook's own command with --dry against the live target's view (weights as
    the router stack declares them): it prints exactly the runbook's steps."""
    markdown = rendered("fraud-scoring", "--inventory", str(EXAMPLE))
    steps = drill_steps(markdown)
    weights = dict(Project(ROOT).stack("aws-primary").config["exitplan:traffic"]["weights"])
    monkeypatch.setattr("runbooks.commands.drill._drill_target", lambda *_: FakeLive(weights))
    command = drill_command(markdown)
    assert command[:3] == ["exitplan", "drill", "exit-plan"]
    result = CliRunner().invoke(app, [*command[1:], "--dry", "--project", str(ROOT)])
    assert result.exit_code == 0, (result.output, result.exception)
    printed = [re.sub(r"^\d+\. ", "", line) for line in result.stdout.strip().splitlines()]
    assert printed == steps
    assert steps[-1].startswith("verify:") and "revoke aws-primary's store credentials" in steps[-2]


def test_a_cutover_from_a_cloud_the_live_target_cannot_revoke_says_so_and_gives_the_commands() -> (
    None
):
    project = Project(ROOT)
    options = ExitPlanOptions("azure-standby", "gcp-standby", keep=True)
    cutover = Cutover(
        "fraud-scoring",
        project.stack("azure-standby"),
        project.stack("gcp-standby"),
        project.stack("aws-primary"),
        options,
    )
    steps = cutover.steps()
    gap = facts("azure").lacks(REVOCATION_GAP)
    assert gap is not None
    assert any(
        s.startswith("vendor exit: NOT revoking azure-standby's") and gap in s for s in steps
    )
    weights = project.stack("aws-primary").traffic.weights  # type: ignore[union-attr]
    reason = revocation_gap(project.stack("azure-standby"))
    assert reason is not None and gap in reason
    assert steps == planned_steps(options, dict(weights), reason)


def test_every_cloud_has_its_dns_commands_and_every_revocation_gap_its_manual_commands() -> None:
    for cloud in clouds():
        assert dns_commands(cloud).verify, cloud
    gapped = {c for c in clouds() if facts(c).lacks(REVOCATION_GAP)}
    assert gapped == manual_revocation_clouds()
    assert all(manual_revocation(c).restore for c in gapped)
    assert {"azure", "gcp"} <= gapped


def test_the_inventory_chooses_the_failover_and_without_it_the_router_does() -> None:
    project = Project(ROOT)
    (row,) = [r for r in load_inventory(EXAMPLE, project) if r.service == "fraud-scoring"]
    assert plan_cutover(project, "fraud-scoring", row).dest.name == "gcp-standby"
    only_azure = dataclasses.replace(row, failover_plan=("azure-standby",))
    assert plan_cutover(project, "fraud-scoring", only_azure).dest.name == "azure-standby"
    bare = plan_cutover(project, "fraud-scoring", None)
    assert bare.dest.name == "gcp-standby"  # aws-primary's traffic.failover.secondary
    markdown = render_runbook(project, "fraud-scoring", None, "no inventory")
    assert "Not recorded: pass `--inventory FILE`." in markdown
    assert "--reference '<package>/reference.json'" in markdown
    assert "--rto" not in shlex.join(bare.command)


def test_bad_input_exits_2_naming_it(tmp_path: Path) -> None:
    for args, where in (
        (["nope"], "no stack deploys service 'nope'"),
        (["support-chat", "--inventory", str(EXAMPLE)], "no stack deploys service"),
        (["fraud-scoring", "--inventory", str(tmp_path / "x.csv")], "cannot read the inventory"),
    ):
        result = CliRunner().invoke(app, ["runbook", "render", *args, "--project", str(ROOT)])
        raised: Any = result.exception
        assert isinstance(raised, InputError) and raised.exit_code == 2, result.output
        assert where in str(raised)
    other = tmp_path / "inv.csv"
    lines = EXAMPLE.read_text().splitlines()
    other.write_text("\n".join([lines[0], *(ln for ln in lines if ln.startswith("churn"))]))
    result = CliRunner().invoke(
        app,
        ["runbook", "render", "fraud-scoring", "--inventory", str(other), "--project", str(ROOT)],
    )
    assert isinstance(result.exception, InputError)
    assert result.exception.field == "service" and "churn-forecast" in result.exception.fix


def test_out_writes_the_file(tmp_path: Path) -> None:
    out = tmp_path / "runbooks" / "fraud-scoring.md"
    result = CliRunner().invoke(
        app, ["runbook", "render", "fraud-scoring", "--out", str(out), "--project", str(ROOT)]
    )
    assert result.exit_code == 0, result.output
    assert out.read_text().startswith("# Provider-incident runbook: fraud-scoring\n")
