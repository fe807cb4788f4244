"""Review B3: a failover drill to a standby measures that standby. On a sandbox of the shipped
three stacks (aws-primary, its pilot-light azure-standby and its warm gcp-standby, a failover
target of the front door too), a drill to azure-standby holds gcp-standby out of traffic for
its run (journaled, put back by its rollback), so the gap is azure-standby's own; a drill
SIGKILLed while gcp-standby is held out is put back by `exitplan drill rollback`; `--dry`
names the hold; a stack left held out is a difference `target reset` undoes."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import kill_matrix as km
from components.stack_config import Project
from runbooks.drills.clean_start import differences, reset
from runbooks.drills.failover import FailoverOptions, run_failover
from runbooks.targets.sandbox_setup import sandbox_for
from sandbox.target import SandboxTarget
from tests.conftest import sandbox_fixtures

# latency- and timing-sensitive sandbox modules run one after another on one worker
pytestmark = pytest.mark.xdist_group("sandbox-timing")

STACKS = ("aws-primary", "azure-standby", "gcp-standby")
project_fixture, target_fixture = sandbox_fixtures("failover-others-project", list(STACKS))


def test_a_failover_to_the_pilot_light_standby_measures_it_not_the_warm_one(
    target: SandboxTarget, project: Project, tmp_path: Path
) -> None:
    assert target.in_rotation("gcp-standby") and not target.held_out("gcp-standby")
    options = FailoverOptions("aws-primary", "azure-standby", rate=20, hold_s=1.5)
    journal = run_failover(project, target, options, tmp_path / "journal.json", lambda _l: None)
    ex = journal.exitplan
    gap = next(row for row in ex["phases"] if row["name"] == "gap")
    served = {stack for stack, part in (gap["share"] or {}).items() if part}
    # before: the warm gcp-standby (a `backup` server) took 100 % of the gap
    assert served <= {"azure-standby"}, gap
    assert gap["failed"] > 0, "a pilot-light standby starts after the kill: the gap fails"
    held = [c for c in ex["changes"] if c["what"] == "held out"]
    assert [(c["stack"], c["restored"]) for c in held] == [("gcp-standby", True)]
    assert "NOT measured" not in ex["verdict"]["summary"], ex["verdict"]
    assert not target.held_out("gcp-standby")
    assert km.wait_for(lambda: target.in_rotation("gcp-standby"), km.SETTLE_S)
    assert differences(project, target) == []


def test_dry_names_the_standby_it_holds_out(target: SandboxTarget, project: Project) -> None:
    args = ("--from", "aws-primary", "--to", "azure-standby", "--dry")
    dry = km.exitplan("drill", "failover", *args, "--project", str(project.root))
    assert dry.returncode == 0, dry.stderr
    assert "hold gcp-standby out of traffic" in dry.stdout
    assert "gcp-standby back in traffic" in dry.stdout
    assert target.weights()["aws-primary"] == 100  # nothing acted


def test_a_failover_killed_while_holding_a_standby_out_is_put_back_by_its_rollback(
    target: SandboxTarget, project: Project, tmp_path: Path
) -> None:
    victim = km.Victim(
        "drill failover aws-primary -> azure-standby (3 stacks)",
        km.FAILOVER_VICTIM.args,
        km.FAILOVER_VICTIM.rollback,
        STACKS,
    )
    row = km.kill_at(victim, "failover: primary killed, nothing scaled", project.root, target,
                     tmp_path)  # fmt: skip
    assert row.killed, (tmp_path / "victim.stderr").read_text()[-2000:]
    assert "gcp-standby back in traffic" in row.restored, row.restored
    assert row.ok, row
    assert not target.held_out("gcp-standby")


@pytest.mark.usefixtures("target")  # the sandbox runs
def test_a_stack_left_held_out_is_a_difference_that_target_reset_undoes(
    project: Project, tmp_path: Path
) -> None:
    target = SandboxTarget(sandbox_for(project))  # as it is now (a rollback restarted Tritons)
    target.hold_out("gcp-standby")
    try:
        found = differences(project, target)
        assert [(d.what, d.stack) for d in found] == [("held out", "gcp-standby")], found
        done = reset(project, target, tmp_path / "journal.json")
        assert done == ["gcp-standby is held out of traffic (maintenance)"]
        assert not target.held_out("gcp-standby")
        assert reset(project, target, tmp_path / "again.json") == []
    finally:
        target.hold_out("gcp-standby", False)
    assert km.wait_for(lambda: target.in_rotation("gcp-standby"), km.SETTLE_S)
