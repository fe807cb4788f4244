"""`exitplan drill failover`: bad input exits 2 naming the fix (no sandbox), and on one real
sandbox (aws-primary with two Tritons and its pilot-light azure-standby): a failover per level
(pilot-light, and hot and warm through `--level`) with phases present and ordered, the standby
at its level before and back to pilot-light after, failed requests counted in the gap, a
second rollback a no-op, the report with measured and estimated phases side by side; and the
drill SIGKILLed at each phase, rolled back by `exitplan drill rollback` (primary back, standby
at pilot-light, weights restored)."""

from __future__ import annotations

import json
from functools import partial
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bench import kill_matrix as km
from bench.failover import set_primary_replicas
from components.errors import SpecError
from components.stack_config import Project
from runbooks.cli import app
from runbooks.drills.failover import (
    FailoverOptions,
    achievable,
    recovery_time,
    restore_failover,
    run_failover,
    validate,
)
from runbooks.drills.lock import lock_path
from runbooks.errors import RunbookError
from runbooks.load.generator import RequestRecord
from runbooks.targets.sandbox_setup import sandbox_for
from sandbox.target import SandboxTarget
from tests.conftest import copied_project, sandbox_fixtures
from tests.runbooks.test_cli import run

# latency- and timing-sensitive sandbox modules run one after another on one worker
pytestmark = pytest.mark.xdist_group("sandbox-timing")

ROOT = Path(__file__).resolve().parents[2]
# The primary runs two Tritons at minimum, so a warm standby (one at rest) has one to start.
REPLICAS = 2
REST = {"level": "pilot-light", "replicas": REPLICAS, "at_rest": 0, "running": 0}


project_fixture, target_fixture = sandbox_fixtures(
    "failover-project",
    ["aws-primary", "azure-standby"],
    partial(set_primary_replicas, replicas=REPLICAS),
)


@pytest.mark.parametrize(
    ("source", "dest", "cause", "fix"),
    [
        ("aws-primary", "aws-wavelength", "not a standby of aws-primary", "azure-standby"),
        ("gcp-standby", "azure-standby", "not a standby of gcp-standby", "none"),
    ],
)
def test_a_stack_that_is_not_a_standby_of_from_is_bad_input(
    source: str, dest: str, cause: str, fix: str
) -> None:
    with pytest.raises(RunbookError, match=cause) as raised:
        validate(Project(ROOT), FailoverOptions(source, dest))
    assert fix in raised.value.fix and raised.value.exit_code == 2


def test_a_standby_on_the_same_provider_is_bad_input(tmp_path: Path) -> None:
    project = copied_project(tmp_path)
    stack_file = project.stack_dir / "Pulumi.azure-standby.yaml"
    stack_file.write_text(stack_file.read_text().replace("provider: azure", "provider: aws"))
    # the stack's spec already refuses it (SpecError, exit 2), before the drill's own check
    with pytest.raises(SpecError, match="another cloud than its primary") as raised:
        validate(Project(project.root), FailoverOptions("aws-primary", "azure-standby"))
    assert "other than aws" in raised.value.fix


def test_the_cli_refuses_live_and_bad_levels_with_exit_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    where = ["--project", str(ROOT)]
    base = ["drill", "failover", "--from", "aws-primary", "--to", "azure-standby", *where]
    code, _out, err = run([*base, "--target", "live"], monkeypatch, capsys)
    assert code == 2 and "real outage" in err
    code, _out, err = run([*base, "--level", "lukewarm", "--dry"], monkeypatch, capsys)
    assert code == 2 and "hot, warm, pilot-light" in err
    code, _out, err = run(
        [*base[:3], "aws-primary", "--to", "aws-wavelength", *where], monkeypatch, capsys
    )
    assert code == 2 and "not a standby of aws-primary" in err


def test_the_sandbox_serves_the_demo_model_or_minilm_and_nothing_else(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _out, err = run(
        ["sandbox", "up", "--model", "bert", "--project", str(ROOT)], monkeypatch, capsys
    )
    assert code == 2 and "'bert': use demo or minilm" in err


def record(at: float, ok: bool, by: str) -> RequestRecord:
    return RequestRecord(at, at, 1.0, 200 if ok else 503, "" if ok else "http_503", by)


def test_recovery_is_the_first_request_from_which_every_later_one_is_right() -> None:
    records = [record(0.9, True, "a"), record(1.0, False, ""), record(1.1, True, "b")]
    records += [record(1.2, False, ""), record(1.3, True, "b"), record(1.4, True, "b")]
    assert recovery_time(records, 1.0, "b") == 1.3
    assert recovery_time([*records, record(1.5, True, "a")], 1.0, "b") is None


def test_a_measured_phase_far_off_its_scaled_catalog_figure_is_flagged() -> None:
    """Azure's catalog download is 60 MiB/s: 6 MiB should take 0.1 s; 1 s is +900 %."""
    journal = {
        "exitplan": {
            "to": "azure-standby",
            "measured": {
                "detection_s": 0.5,
                "recovered_s": 3.0,
                "scale": {"download": 1.0, "download_bytes": 6 * 1024 * 1024, "started": 0},
            },
            "estimate": {"total_s": 635, "phases": [{"name": "GPU node provisioning",
                                                      "seconds": 420.0, "basis": "b"}]},
        }
    }  # fmt: skip
    rto = achievable(journal, Project(ROOT))
    assert rto["flags"] == ["model download: measured 1.00 s is +900% off the catalog's 0.10 s"]
    assert rto["achievable_rto_s"] == 3.0 - 0.5 + 420.0
    assert rto["estimated_rto_s"] == 635


def test_pilot_light_failover_on_the_sandbox(
    target: SandboxTarget, project: Project, tmp_path: Path
) -> None:
    assert target.level("azure-standby") == REST
    assert "pilot-light" in target.unsupported["kill:azure-standby"]
    options = FailoverOptions("aws-primary", "azure-standby", rate=20, hold_s=1.5, router="dns")
    path = tmp_path / "run" / "journal.json"
    journal = run_failover(project, target, options, path, lambda _line: None)
    ex = journal.exitplan
    m = ex["measured"]
    assert ex["verdict"]["passed"], ex["verdict"]
    assert m["standby_before"]["running"] == 0
    # the front door fails over by itself once the standby is up: recovery need not wait for
    # the drill's rotation (the weights), only for the standby's readiness (within a poll)
    assert 0 < m["detection_s"] <= m["ready_s"] <= m["rotation_s"]
    assert m["detection_s"] < m["first_answer_s"] <= m["recovered_s"] <= m["rotation_s"] + 1
    scale = m["scale"]
    assert scale["started"] == REPLICAS and scale["download_bytes"] > 0
    assert scale["download"] > 0 and scale["start"] > 0 and scale["load"] > 0
    load = ex["load"]
    assert load["failed_in_gap"] > 0 and load["accounted"] == load["scheduled"]
    assert [r["name"] for r in ex["phases"]] == ["baseline", "gap", "on standby"]
    assert ex["phases"][0]["failed"] == 0 and ex["phases"][2]["failed"] == 0
    assert target.level("azure-standby") == REST  # back to pilot-light
    assert target.health("aws-primary") and target.weights()["azure-standby"] == 0
    assert restore_failover(target, journal) == []
    phases = [r["phase"] for r in ex["rto"]["rows"]]
    assert {"model download", "GPU node provisioning", "recovered"} <= set(phases)
    result = CliRunner().invoke(app, ["drill", "report", str(path)])
    assert result.exit_code == 0, result.output
    assert "estimate only" in (path.parent / "report.md").read_text()


@pytest.mark.parametrize(("level", "router"), [("hot", "frontdoor"), ("warm", "dns")])
def test_hot_and_warm_failovers_on_the_sandbox(
    level: str, router: str, target: SandboxTarget, project: Project, tmp_path: Path
) -> None:
    """`--level` overrides the pilot-light standby's own: hot runs both replicas before the
    kill and starts none; warm runs one and starts the other. Phases present and ordered,
    every request counted (the gap's failures included), the standby back at pilot-light.
    Through the DNS-like router (no retries, no redispatch) the requests sent to the dead
    primary until its health checks fail are counted as failed."""
    options = FailoverOptions(
        "aws-primary", "azure-standby", level=level, rate=40, hold_s=1.0, router=router
    )
    journal = run_failover(project, target, options, tmp_path / "journal.json", lambda _l: None)
    ex = journal.exitplan
    m, load = ex["measured"], ex["load"]
    assert ex["verdict"]["passed"], ex["verdict"]
    running = {"hot": REPLICAS, "warm": 1}[level]
    assert m["standby_before"] == {**REST, "level": "pilot-light", "running": running}
    assert m["scale"]["started"] == REPLICAS - running and m["scale"]["download_bytes"] == 0
    assert m["standby_after_failover"]["running"] == REPLICAS
    assert 0 < m["detection_s"] <= m["ready_s"] <= m["rotation_s"]
    assert m["first_answer_s"] <= m["recovered_s"]
    assert [r["name"] for r in ex["phases"]] == ["baseline", "gap", "on standby"]
    assert load["accounted"] == load["scheduled"] > 0 and load["lost"] == 0
    assert load["failed_in_gap"] == ex["phases"][1]["failed"] == load["failed"]
    if router == "dns":
        assert load["failed_in_gap"] > 0  # no retry hides the dead primary
    assert target.level("azure-standby") == REST
    assert target.health("aws-primary") and target.weights()["azure-standby"] == 0


@pytest.mark.parametrize(
    "point", [p for p in km.FAILOVER_POINTS if p != "failover: standby scaled, before rotation"]
)
def test_a_failover_killed_at_each_phase_is_rolled_back_from_its_journal(
    point: str, target: SandboxTarget, project: Project, tmp_path: Path
) -> None:
    """SIGKILL right after the journal write of each phase (the one before the rotation has
    its own test below): `exitplan drill rollback` leaves weights, health, rotation,
    credentials and processes as they were, a second rollback does nothing, no load worker
    is left and the lock is free."""
    row = km.kill_at(FAILOVER_VICTIM, point, project.root, target, tmp_path)
    assert row.killed, (tmp_path / "victim.stderr").read_text()[-2000:]
    assert row.ok, row
    assert target.level("azure-standby") == REST


KILL_POINT = "failover: standby scaled, before rotation"
FAILOVER_VICTIM = km.FAILOVER_VICTIM


def test_a_failover_killed_before_rotation_is_rolled_back_from_its_journal(
    target: SandboxTarget, project: Project, tmp_path: Path
) -> None:
    """SIGKILL right after the standby started (the primary dead, no weight moved): the
    journal's rollback restarts the primary and returns the standby to pilot-light (no Triton,
    no downloaded model), the weights as before; a second rollback finds nothing to do."""
    weights = target.weights()
    victim = km.start(FAILOVER_VICTIM, KILL_POINT, project.root, tmp_path)
    assert km.settle(victim, tmp_path), (tmp_path / "victim.stderr").read_text()[-2000:]
    killed = SandboxTarget(sandbox_for(project))  # the state the victim left
    assert killed.level("azure-standby")["running"] == REPLICAS
    assert not killed.health("aws-primary")
    journal = str(tmp_path / "journal.json")
    rollback = [*FAILOVER_VICTIM.rollback, journal, "--project", str(project.root), "--json"]
    first = km.exitplan(*rollback)
    assert first.returncode == 0, first.stderr
    restored = json.loads(first.stdout)["restored"]
    # no weight had moved yet: the primary and the standby's level are what is undone
    assert restored == ["aws-primary restarted", "azure-standby back to its level"]
    assert km.restored_by(km.exitplan(*rollback)) == []
    after = SandboxTarget(sandbox_for(project))
    assert after.level("azure-standby") == REST
    assert not (after.sandbox.root / "stacks" / "azure-standby" / "repository").exists()
    assert after.health("aws-primary") and after.weights() == weights
    assert km.wait_for(lambda: after.in_rotation("aws-primary"), km.SETTLE_S)
    assert km.wait_for(lambda: not km.strays(tmp_path), km.STRAY_S)
    assert not lock_path(project.root, "sandbox").exists()


def test_an_exit_plan_drill_journals_the_pilot_light_scale_and_undoes_it_on_bad_input(
    tmp_path: Path,
) -> None:
    """Bad input (--from == --to) is refused before anything changes (issue 23: --dry and a
    real run validate alike); the scale-first step is journaled before it starts, and a run
    refused after it (here: by its pre-flight) returns the standby to its level from that
    journal."""
    from unittest import mock

    from runbooks.drills.exit_options import ExitPlanOptions
    from runbooks.drills.exit_plan import run_exit_plan

    target = mock.create_autospec(SandboxTarget, instance=True)
    target.kind = "sandbox"
    target.stacks.return_value = ["aws-primary", "azure-standby"]
    target.level.return_value = REST
    target.scale.return_value = {"download": 0.5, "start": 1.0, "load": 0.2, "started": 1}
    same = ExitPlanOptions("azure-standby", "azure-standby")
    with pytest.raises(RunbookError, match="the same stack"):
        run_exit_plan(Project(ROOT), target, same, tmp_path / "bad.json", lambda _m: None)
    assert not target.scale.called and not (tmp_path / "bad.json").exists()
    path = tmp_path / "journal.json"
    options = ExitPlanOptions("aws-primary", "azure-standby")
    refused = RunbookError("the pre-flight refused")
    with (
        mock.patch("runbooks.drills.exit_plan.validate"),
        mock.patch("runbooks.drills.exit_plan.require_clean_start"),
        mock.patch("runbooks.drills.exit_plan.preflight", side_effect=refused),
        pytest.raises(RunbookError, match="the pre-flight refused"),
    ):
        run_exit_plan(Project(ROOT), target, options, path, lambda _m: None)
    target.scale.assert_called_once_with("azure-standby")
    target.set_level.assert_called_once_with("azure-standby")
    journal = json.loads(path.read_text())
    assert (
        journal["status"] == "failed" and "rolled back" in journal["exitplan"]["verdict"]["summary"]
    )
    [change] = journal["exitplan"]["changes"]
    assert change["what"] == "level" and change["restored"] is True
    assert [a["activity"]["name"] for a in journal["run"]] == ["scale azure-standby"]
