"""The chaos experiments end to end on a real sandbox (aws-primary + gcp-standby), through
chaostoolkit-lib and through the upstream `chaos run` CLI: credential revocation, a primary
outage and brownout, --dry, discovery, and refusal of a stack that is not drillable."""

from __future__ import annotations

import copy
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import pytest
import yaml
from chaoslib.exceptions import InterruptExecution
from typer.testing import CliRunner

import chaos
from components.stack_config import Project
from runbooks.chaos_run.measurements import fault_impact
from runbooks.chaos_run.runner import ChaosOptions, production_estimate, run
from runbooks.cli import app
from runbooks.errors import LiveTargetError
from runbooks.load.generator import RequestRecord
from runbooks.reports.chaos import describe_estimate
from runbooks.targets.target import Need, target_for
from sandbox.target import SandboxTarget
from tests.conftest import (
    ROOT,
    MakeProject,
    sandbox_fixtures,
    stack_config,
)
from tests.runbooks.json_contract import validated

# latency- and timing-sensitive sandbox modules run one after another on one worker
pytestmark = pytest.mark.xdist_group("sandbox-timing")

EXPERIMENTS = ROOT / "chaos" / "experiments"


project_fixture, target_fixture = sandbox_fixtures("chaos-project", ["aws-primary", "gcp-standby"])


def snapshot(target: SandboxTarget) -> dict[str, object]:
    return {
        "weights": target.weights(),
        "healthy": {s: target.health(s) for s in target.stacks()},
        "credentials": target.credential_state("aws-primary"),
    }


def test_discover_lists_every_area() -> None:
    discovery = chaos.discover()
    names = {(a["mod"], a["name"]) for a in discovery["activities"]}
    assert ("chaos.credentials.actions", "revoke_credentials") in names
    assert ("chaos.credentials.probes", "redeploy_fails_with_auth_error") in names
    assert ("chaos.traffic.probes", "error_rate_through_front_door") in names
    assert ("chaos.serving.actions", "kill") in names
    assert ("chaos.serving.probes", "all_healthy") in names
    assert ("chaos.traffic.probes", "seconds_until_marked_down") in names
    assert discovery["extension"]["name"] == "exitplan"


def test_the_upstream_chaos_discover_finds_the_extension(tmp_path: Path) -> None:
    """`chaos discover exitplan` imports the distribution's first top-level package (`chaos`,
    first in the top_level.txt that hatch_build.py writes) and calls its `discover`."""
    chaos_cli = Path(sys.executable).parent / "chaos"
    result = subprocess.run(
        [str(chaos_cli), "--no-version-check", "discover", "exitplan", "--no-install",
         "--no-system-info"],
        capture_output=True, text=True, check=False, cwd=tmp_path,
    )  # fmt: skip
    # chaos discover exits 0 even when it fails: the file is the proof
    assert (tmp_path / "discovery.json").exists(), result.stdout + result.stderr
    discovery = json.loads((tmp_path / "discovery.json").read_text())
    modules = {a["mod"] for a in discovery["activities"]}
    assert {f"chaos.{area}.{kind}" for area in chaos.AREAS for kind in ("actions", "probes")} == (
        modules
    )


def test_dry_lists_resolved_activities_and_changes_nothing(
    target: SandboxTarget, project: Project
) -> None:
    before = snapshot(target)
    result = CliRunner().invoke(
        app,
        [
            "chaos",
            "run",
            str(EXPERIMENTS / "credential-revocation.yaml"),
            "--dry",
            "--json",
            "--project",
            str(project.root),
        ],
    )
    assert result.exit_code == 0, result.output
    dry = validated(result.stdout)
    assert dry["schema"] == "exitplan.chaos.run/1" and dry["dry"] is True
    steps = dry["steps"]
    revoke = next(s for s in steps if s["name"] == "revoke-primary-key")
    assert revoke["arguments"] == {"stack": "aws-primary"}
    assert [s["phase"] for s in steps][-1] == "rollbacks"
    assert snapshot(target) == before


def test_credential_revocation_recovers_with_a_new_key(
    target: SandboxTarget, project: Project, tmp_path: Path
) -> None:
    key_before = target.credential_state("aws-primary")["key_id"]
    journal, path = run(
        ChaosOptions(EXPERIMENTS / "credential-revocation.yaml", project.root, out=tmp_path)
    )
    assert journal["status"] == "completed", [r.get("exception") for r in journal["run"]]
    assert not journal["deviated"]
    failed_probe = next(r for r in journal["run"] if r["activity"]["name"].startswith("redeploy-f"))
    assert failed_probe["output"] is True and failed_probe["tolerance_met"] is True
    ep = journal["exitplan"]
    claims = {c["name"]: c["met"] for c in ep["claims"]}
    assert claims == {"redeploy-fails-with-auth-error": True, "recovered-within-rto": True}
    assert ep["rto_met"] and ep["revoke_to_recovered_s"] < ep["rto_target_s"]
    assert ep["load"]["sent"] > 0 and ep["load"]["failed"] == 0
    load = ep["load"]
    assert load["scheduled"] == load["accounted"] > 0 and load["lost"] == load["wrong_answers"] == 0
    state = target.credential_state("aws-primary")
    assert state["status"] == "active" and state["key_id"] != key_before
    assert all(target.health(s) for s in target.stacks())
    assert json.loads(path.read_text())["status"] == "completed"
    markdown = (tmp_path / "report.md").read_text()
    assert markdown.startswith("**PASSED**") and "## Credential recovery" in markdown
    assert f"revoke -> recovered {ep['revoke_to_recovered_s']:.1f} s vs RTO" in markdown
    page = (tmp_path / "report.html").read_text()
    assert page.count('class="mark"') == 3 * 2  # revoked, recovered: on each plot


@pytest.mark.parametrize("experiment", ["primary-outage", "primary-brownout"])
def test_a_failed_primary_is_detected_then_restored(
    experiment: str, target: SandboxTarget, project: Project, tmp_path: Path
) -> None:
    weights = target.weights()
    journal, _ = run(ChaosOptions(EXPERIMENTS / f"{experiment}.yaml", project.root, out=tmp_path))
    assert journal["status"] == "completed", [r.get("exception") for r in journal["run"]]
    assert not journal["deviated"]
    claims = {c["name"]: c["met"] for c in journal["exitplan"]["claims"]}
    assert claims == dict.fromkeys(
        ["seconds-until-marked-down", "seconds-until-error-free", "standby-healthy",
         "standby-serves-the-traffic"], True
    )  # fmt: skip
    assert journal["exitplan"]["error_free_burst_s"] is not None
    load = journal["exitplan"]["load"]
    assert load["scheduled"] == load["accounted"] > 0 and load["lost"] == load["wrong_answers"] == 0
    fault = journal["exitplan"]["fault"]
    assert fault["stack"] == "aws-primary" and fault["sent"] > 0
    assert fault["first_error_free_second_s"] is not None
    # the front door took it out of rotation after the fault, and before the fault was undone
    assert 0 < fault["marked_down_s"] < fault["end_s"] - fault["start_s"]
    assert fault["back_in_rotation_s"] > fault["end_s"] - fault["start_s"]
    # read at least every half second before it (the watch polls the admin socket often)
    assert 0 < fault["marked_down_within_s"] <= min(fault["marked_down_s"], 0.5)
    assert isinstance(fault["rotation_reads_failed"], int)
    estimate = journal["exitplan"]["production_estimate"]  # Route 53: 10 s x 3, TTL 60 s
    assert (estimate["router"], estimate["detection_s"], estimate["clients_moved_s"]) == (
        "aws",
        30,
        90,
    )
    assert target.health("aws-primary") and target.in_rotation("aws-primary")
    assert target.weights() == weights
    markdown = (tmp_path / "report.md").read_text()
    assert markdown.startswith("**PASSED**") and "marked down after" in markdown
    assert "| marked down after |" in markdown and "30.0 s (10 s x 3 checks, aws)" in markdown
    page = (tmp_path / "report.html").read_text()
    # fault, marked down, undone, back in rotation: on each of the three plots
    assert page.count("<svg") == 3 and page.count('class="mark"') == 3 * 4
    assert "aws-primary" in page and "Steady-state hypothesis" in page


def upstream_chaos_run(
    experiment: Path, cwd: Path, journal: Path
) -> subprocess.CompletedProcess[str]:
    """`chaos run` (the upstream CLI; the experiment's own runtime asks for its rollbacks)."""
    chaos_cli = Path(sys.executable).parent / "chaos"
    return subprocess.run(
        [str(chaos_cli), "--no-version-check", "--no-log-file", "run", "--journal-path",
         str(journal), "--var", f"exitplan_journal={journal.parent / 'steps.json'}",
         str(experiment)],
        capture_output=True, text=True, check=False,
        cwd=cwd,  # the project is found from the folder chaos runs in
    )  # fmt: skip


def test_the_upstream_chaos_cli_runs_the_same_file(
    target: SandboxTarget, project: Project, tmp_path: Path
) -> None:
    """With weights before the run that are not the experiment's (70/30), its method restores
    them and so would its rollbacks: they come from the state recorded before the run."""
    defaults = target.weights()
    target.set_weights({"aws-primary": 70, "gcp-standby": 30})
    try:
        result = upstream_chaos_run(
            EXPERIMENTS / "primary-outage.yaml", project.root, tmp_path / "journal.json"
        )
        assert result.returncode == 0, result.stdout + result.stderr
        assert target.weights() == {"aws-primary": 70, "gcp-standby": 30}
    finally:
        target.set_weights(defaults)
    journal = json.loads((tmp_path / "journal.json").read_text())
    assert journal["status"] == "completed" and not journal["deviated"]
    assert [r["activity"]["name"] for r in journal["run"]][1] == "kill-primary"
    assert journal["exitplan"]["before"]["weights"] == {"aws-primary": 70, "gcp-standby": 30}
    assert all(c["met"] for c in journal["exitplan"]["claims"])
    steps = json.loads((tmp_path / "steps.json").read_text())  # the control's, after every step
    assert steps["status"] == "completed" and len(steps["run"]) == len(journal["run"])
    assert target.health("aws-primary")


def test_a_false_claim_exits_1_under_both_clis(
    target: SandboxTarget, project: Project, tmp_path: Path
) -> None:
    """The credential revocation claims recovery within the RTO: with an RTO of 1 ms the claim
    is false, so the run deviates and both CLIs exit 1; the rollback leaves a working key."""
    experiment = yaml.safe_load((EXPERIMENTS / "credential-revocation.yaml").read_text())
    experiment["configuration"]["exitplan_rto_s"] = 0.001
    path = tmp_path / "rto-1ms.yaml"
    path.write_text(yaml.safe_dump(experiment))
    result = CliRunner().invoke(
        app,
        ["chaos", "run", str(path), "--rate", "10", "--out", str(tmp_path / "run"), "--json",
         "--project", str(project.root)],
    )  # fmt: skip
    assert result.exit_code == 1, result.output
    summary = validated(result.stdout)
    assert summary["deviated"] is True and summary["status"] == "completed"
    assert [c["name"] for c in summary["missed_claims"]] == ["recovered-within-rto"]
    assert summary["exitplan"]["rto_met"] is False
    report = (tmp_path / "run" / "report.md").read_text()
    assert report.startswith("**FAILED**") and "claim recovered-within-rto not met" in report

    upstream = upstream_chaos_run(path, project.root, tmp_path / "upstream" / "journal.json")
    assert upstream.returncode == 1, upstream.stdout + upstream.stderr
    journal = json.loads((tmp_path / "upstream" / "journal.json").read_text())
    assert journal["deviated"] is True
    assert [c["name"] for c in journal["exitplan"]["claims"] if not c["met"]] == [
        "recovered-within-rto"
    ]
    assert target.credential_state("aws-primary")["status"] == "active"
    assert all(target.health(s) for s in target.stacks())


def test_a_stack_that_is_not_drillable_is_refused(
    target: SandboxTarget, project: Project, tmp_path: Path
) -> None:
    stack_file = project.root / "stacks" / "Pulumi.aws-primary.yaml"
    original = stack_file.read_text()
    stack_file.write_text(original.replace("drillable: true", "drillable: false"))
    before = snapshot(target)
    try:
        result = CliRunner().invoke(
            app,
            [
                "chaos",
                "run",
                str(EXPERIMENTS / "credential-revocation.yaml"),
                "--out",
                str(tmp_path),
                "--json",
                "--project",
                str(project.root),
            ],
        )
    finally:
        stack_file.write_text(original)
    assert result.exit_code == 1, result.output
    journal = json.loads((tmp_path / "journal.json").read_text())
    assert journal["status"] == "interrupted" and journal["run"] == []
    assert snapshot(target) == before


def test_a_broken_steady_state_deviates_and_exits_1(
    target: SandboxTarget, project: Project, tmp_path: Path
) -> None:
    """The method kills the primary and leaves it dead (the standby keeps serving): the
    hypothesis after the method (every stack healthy) fails, so the run is `deviated`, exit 1;
    the rollbacks still restart it and restore the weights."""
    experiment = yaml.safe_load((EXPERIMENTS / "primary-outage.yaml").read_text())
    undo = ("restart-primary", "restore-weights")
    experiment["method"] = [a for a in experiment["method"] if a["name"] not in undo]
    path = tmp_path / "outage-never-restarted.yaml"
    path.write_text(yaml.safe_dump(experiment))
    before = snapshot(target)
    result = CliRunner().invoke(
        app,
        ["chaos", "run", str(path), "--rate", "10", "--out", str(tmp_path / "run"), "--json",
         "--project", str(project.root)],
    )  # fmt: skip
    assert result.exit_code == 1, result.output
    assert validated(result.stdout)["deviated"] is True
    journal = json.loads((tmp_path / "run" / "journal.json").read_text())
    assert journal["deviated"] is True
    after = {p["activity"]["name"]: p for p in journal["steady_states"]["after"]["probes"]}
    assert after["all-stacks-healthy"]["tolerance_met"] is False
    assert [r["status"] for r in journal["rollbacks"]] == ["succeeded", "succeeded"]
    assert (tmp_path / "run" / "report.md").read_text().startswith("**FAILED**")
    assert snapshot(target) == before


def test_an_activity_that_raises_is_reported_and_exits_1(
    target: SandboxTarget, project: Project, tmp_path: Path
) -> None:
    """Killing the primary twice: the second kill raises (nothing left to kill). Chaos Toolkit
    records the failed action and goes on (the steady state holds: `completed`); exitplan
    names it, fails the report and exits 1."""

    def kill_twice(experiment: dict[str, Any]) -> None:
        again = {**experiment["method"][1], "name": "kill-primary-again"}
        experiment["method"].insert(2, again)

    path = tmp_path / "kill-twice.yaml"
    path.write_text(yaml.safe_dump(_outage_with(kill_twice)))
    before = snapshot(target)
    result = CliRunner().invoke(
        app,
        ["chaos", "run", str(path), "--rate", "10", "--out", str(tmp_path / "run"), "--project",
         str(project.root)],
    )  # fmt: skip
    assert result.exit_code == 1, result.output
    assert result.output.startswith("FAILED  Chaos experiment: A crashed primary")
    assert "method kill-primary-again failed:" in result.output
    assert "is not running" in result.output
    journal = json.loads((tmp_path / "run" / "journal.json").read_text())
    assert journal["status"] == "completed" and not journal["deviated"]
    report = (tmp_path / "run" / "report.md").read_text()
    assert report.startswith("**FAILED**") and "kill-primary-again failed" in report
    assert snapshot(target) == before


def test_the_live_target_needs_a_router_and_the_pulumi_cli(project: Project) -> None:
    with pytest.raises(LiveTargetError, match="stacks with exitplan:traffic: aws-primary"):
        target_for("live", project.root, router="gcp-standby")
    env = {**os.environ, "PATH": str(Path(sys.executable).parent)}  # no pulumi on it
    result = subprocess.run(
        [str(Path(sys.executable).parent / "exitplan"), "chaos", "run", "--target", "live",
         str(EXPERIMENTS / "credential-revocation.yaml"), "--project", str(project.root)],
        capture_output=True, text=True, check=False, env=env,
    )  # fmt: skip
    assert result.returncode == 2, result.stderr
    assert "install the Pulumi CLI" in result.stderr


def _outage_with(change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    experiment = yaml.safe_load((EXPERIMENTS / "primary-outage.yaml").read_text())
    change(experiment)
    return experiment


BAD_EXPERIMENTS: list[tuple[str, Callable[[dict[str, Any]], None], list[str]]] = [
    (
        "no-tolerance",  # Chaos Toolkit's own validation
        lambda e: e["steady-state-hypothesis"]["probes"][0].pop("tolerance"),
        ["tolerance"],
    ),
    (
        "unknown-activity",
        lambda e: e["method"][1]["provider"].update(func="explode"),
        ["explode"],
    ),
    (
        "unknown-stack",  # ours: after substitution, every stack argument must exist
        lambda e: e["configuration"].update(exitplan_primary="aws-primry"),
        ["kill-primary", "aws-primry", "use one of aws-primary, gcp-standby"],
    ),
    ("valid-but-no-sandbox", lambda e: None, ["no sandbox is running", "exitplan sandbox up"]),
]


@pytest.mark.parametrize(
    ("name", "change", "said"), BAD_EXPERIMENTS, ids=[b[0] for b in BAD_EXPERIMENTS]
)
def test_bad_input_exits_2_with_what_to_fix(
    name: str,
    change: Callable[[dict[str, Any]], None],
    said: list[str],
    make_project: MakeProject,
    tmp_path: Path,
) -> None:
    project = make_project(
        {"aws-primary": stack_config("aws-primary"), "gcp-standby": stack_config("gcp-standby")}
    )
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(_outage_with(change)))
    result = subprocess.run(
        [str(Path(sys.executable).parent / "exitplan"), "chaos", "run", str(path),
         "--project", str(project.root), "--out", str(tmp_path / "run")],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 2, result.stdout + result.stderr
    assert all(text in result.stderr for text in said), result.stderr
    assert not (tmp_path / "run" / "journal.json").exists()


def test_the_production_estimate_names_a_router_without_health_checks(
    make_project: MakeProject,
) -> None:
    primary = stack_config("aws-primary")
    weights = {"aws-primary": 100, "gcp-standby": 0}
    primary["config"]["exitplan:traffic"].update(dns_provider="gcp", weights=weights)
    primary["config"]["gcp:project"] = "fraud-prod"
    primary["config"]["exitplan:traffic"].pop("failover")
    project = make_project({"aws-primary": primary, "gcp-standby": stack_config("gcp-standby")})
    estimate = production_estimate(project.root, "gcp-standby")
    assert estimate is not None and estimate["detection_s"] is None
    assert "Cloud DNS health checks" in estimate["gap"]
    assert "no health checks" in describe_estimate(estimate)
    assert production_estimate(project.root, "nowhere") is None


def test_a_tripped_stop_condition_interrupts_and_rolls_back(
    target: SandboxTarget, project: Project, tmp_path: Path
) -> None:
    experiment = yaml.safe_load((EXPERIMENTS / "primary-outage.yaml").read_text())
    experiment["configuration"]["exitplan_stop_error_rate"] = 0.2
    spread = experiment["method"][0]
    spread["provider"]["arguments"]["weights"] = [
        {"stack": "aws-primary", "weight": 100},
        {"stack": "gcp-standby", "weight": 0},
    ]
    # no standby to fail over to (the front door's failover target is dead too): the kill of
    # the primary fails every request
    kill_standby = copy.deepcopy(experiment["method"][1])
    kill_standby["name"] = "kill-standby"
    kill_standby["provider"]["arguments"] = {"stack": "gcp-standby"}
    experiment["method"].insert(1, kill_standby)
    restart_standby = copy.deepcopy(experiment["rollbacks"][0])
    restart_standby["name"] = "ensure-standby-running"
    restart_standby["provider"]["arguments"] = {"stack": "gcp-standby"}
    experiment["rollbacks"].insert(0, restart_standby)
    path = tmp_path / "outage-without-standby.yaml"
    path.write_text(yaml.safe_dump(experiment))
    before = snapshot(target)
    journal, _ = run(ChaosOptions(path, project.root, out=tmp_path / "run"))
    assert journal["status"] == "interrupted"
    assert [r["activity"]["name"] for r in journal["run"]] == [
        "spread-traffic",
        "kill-standby",
        "kill-primary",
    ]
    assert [r["activity"]["name"] for r in journal["rollbacks"]] == [
        "ensure-standby-running",
        "ensure-primary-running",
        "restore-weights",
    ]
    assert snapshot(target) == before


def test_a_regressing_canary_is_caught_and_loses_its_traffic(
    target: SandboxTarget, project: Project, tmp_path: Path
) -> None:
    before = snapshot(target)
    journal, _ = run(
        ChaosOptions(EXPERIMENTS / "canary-regression.yaml", project.root, out=tmp_path)
    )
    assert journal["status"] == "completed", [r.get("exception") for r in journal["run"]]
    assert not journal["deviated"]
    runs = {r["activity"]["name"]: r for r in journal["run"]}
    analysis = runs["canary-analysis"]["output"]
    assert analysis["breached"] is True and analysis["aborted"] is True, analysis
    claims = {c["name"]: (c["met"], c["output"]) for c in journal["exitplan"]["claims"]}
    assert claims == {"canary-aborted": (True, 0), "candidate-serves-nothing": (True, 0.0)}
    assert snapshot(target) == before


def test_a_canary_that_holds_the_slo_is_not_aborted_and_the_run_deviates(
    target: SandboxTarget, project: Project, tmp_path: Path
) -> None:
    """Without the degradation the SLO holds, so nothing aborts the canary: the claims
    "aborted" and "serves nothing" are false and the run deviates (the abort is caused by the
    analysis, not scripted)."""
    experiment = yaml.safe_load((EXPERIMENTS / "canary-regression.yaml").read_text())
    experiment["method"] = [a for a in experiment["method"] if a["name"] != "candidate-degrades"]
    path = tmp_path / "canary-without-regression.yaml"
    path.write_text(yaml.safe_dump(experiment))
    before = snapshot(target)
    journal, _ = run(ChaosOptions(path, project.root, out=tmp_path / "run"))
    assert journal["status"] == "completed" and journal["deviated"] is True
    runs = {r["activity"]["name"]: r for r in journal["run"]}
    assert runs["canary-analysis"]["output"]["aborted"] is False
    missed = {c["name"] for c in journal["exitplan"]["claims"] if not c["met"]}
    assert missed == {"canary-aborted", "candidate-serves-nothing"}
    assert snapshot(target) == before


def test_fault_impact_from_load_records() -> None:
    def record(at: float, stack: str, status: int = 200) -> RequestRecord:
        return RequestRecord(at, at, 2.0, status, "" if status == 200 else "503", stack)

    records = [record(i / 10, "aws-primary") for i in range(10)]  # before the fault at 1.0
    records += [record(1.0, "aws-primary"), record(1.1, "", 503), record(1.3, "aws-primary")]
    records += [record(1.4, "", 503)] + [record(1.5 + i / 10, "gcp-standby") for i in range(20)]
    impact = fault_impact(records, "aws-primary", 1.0, 3.5)
    assert impact["sent"] == 24 and impact["failed"] == 2
    assert impact["last_answer_from_faulted_s"] == pytest.approx(0.3)
    assert impact["first_error_free_second_s"] == pytest.approx(0.5)  # 1.5 .. 2.5: no failure
    # undone at 2.0, before a full error-free second: the search goes on past the end
    short = fault_impact(records, "aws-primary", 1.0, 2.0)
    assert short["first_error_free_second_s"] == pytest.approx(0.5) and short["sent"] == 9


def test_an_experiment_is_refused_up_front_when_its_target_lacks_an_operation(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The activities declare the target operations they need; before the experiment starts
    the control checks them against the target's capability data and refuses once, listing
    every missing operation with the target's reason."""
    from chaos import target as chaos_target
    from chaos.control import before_experiment_control

    experiment = yaml.safe_load((EXPERIMENTS / "credential-revocation.yaml").read_text())
    configuration = {**experiment["configuration"], "exitplan_project": str(ROOT)}
    needs = chaos_target.needs_of(experiment, configuration)
    for need in (
        Need("revoke_credentials", "aws-primary"),
        Need("credential_state", "aws-primary"),
        Need("redeploy", "aws-primary"),
        Need("stacks"),
        Need("health"),
    ):
        assert need in needs

    class NoKeys:
        """A target that cannot touch aws-primary's key (as the live target with IRSA)."""

        kind = "live"
        unsupported: ClassVar[dict[str, str]] = {
            "revoke_credentials:aws-primary": "a workload identity has no keys",
            "rotate_credentials:aws-primary": "a workload identity has no keys",
            "kill": "no process access",
        }

    monkeypatch.setattr(chaos_target, "resolve", lambda configuration=None: NoKeys())
    with pytest.raises(InterruptExecution) as raised:
        before_experiment_control(experiment, configuration)
    message = str(raised.value)
    assert message.startswith('refusing to run: experiment "Revoking the primary')
    assert "revoke_credentials aws-primary: a workload identity has no keys" in message
    assert "rotate_credentials aws-primary: a workload identity has no keys" in message
    assert "kill" not in message  # the experiment kills nothing


def _worker_pids(records: Path) -> list[int]:
    """The load workers writing `records` that still run."""
    pids = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if str(records).encode() in cmdline.read_bytes():
                pids.append(int(cmdline.parent.name))
        except OSError:
            continue
    return pids


def test_a_killed_chaos_run_is_rolled_back_from_its_journal(
    target: SandboxTarget, project: Project, tmp_path: Path
) -> None:
    """`exitplan chaos run` SIGKILLed once the primary is frozen (its weights at 50/50, from
    the configured 100/0 before the run: a run starts only from the configured state, issue
    23): its journal, on disk after every step, holds what `exitplan chaos rollback` needs to
    resume the primary and restore 100/0; a second rollback does nothing. The load worker
    died with the run."""
    defaults = target.weights()
    assert defaults == {"aws-primary": 100, "gcp-standby": 0}
    before = snapshot(target)
    out = tmp_path / "run"
    exitplan = str(Path(sys.executable).parent / "exitplan")
    child = subprocess.Popen(
        [exitplan, "chaos", "run", str(EXPERIMENTS / "primary-brownout.yaml"), "--rate", "10",
         "--out", str(out), "--project", str(project.root)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        hung = False
        while not hung and time.monotonic() < deadline and child.poll() is None:
            try:
                runs = json.loads((out / "journal.json").read_text())["run"]
            except (OSError, ValueError, KeyError):
                runs = []
            hung = any(r["activity"]["name"] == "hang-primary" and r.get("status") for r in runs)
            time.sleep(0.05)
        assert hung, "the run never froze the primary"
        child.send_signal(signal.SIGKILL)
        child.wait()
        assert not target.health("aws-primary")
        assert target.weights() == {"aws-primary": 50, "gcp-standby": 50}
        time.sleep(1.0)  # the worker's parent watch polls every 0.2 s
        assert _worker_pids(out / "load" / "load-records.jsonl") == []

        result = subprocess.run(
            [exitplan, "chaos", "rollback", str(out / "journal.json"), "--json"],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        assert result.returncode == 0, result.stdout + result.stderr
        first = validated(result.stdout)
        assert [(s["what"], s["stack"]) for s in first["steps"]] == [
            ("health", "aws-primary"),
            ("weights", None),
        ]
        assert "took over the sandbox lock" in result.stderr
        assert snapshot(target) == before and target.in_rotation("aws-primary")
        again = subprocess.run(
            [exitplan, "chaos", "rollback", str(out / "journal.json"), "--json"],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        assert again.returncode == 0, again.stdout + again.stderr
        assert validated(again.stdout)["steps"] == [] and snapshot(target) == before
    finally:
        if child.poll() is None:
            child.kill()
        if not target.health("aws-primary"):
            target.resume("aws-primary")
        target.set_weights(defaults)


def test_every_scheduled_request_is_in_exactly_one_window() -> None:
    """Before the first step, each step not in the background, between steps, after the last:
    a request scheduled anywhere (a lost one too) is in exactly one row."""
    from datetime import UTC, datetime

    from runbooks.chaos_run.measurements import partition

    def at(seconds: float) -> str:
        return datetime.fromtimestamp(1000.0 + seconds, UTC).isoformat()

    def step(name: str, start: float, end: float, background: bool = False) -> dict[str, Any]:
        activity = {"name": name, "background": background}
        return {"activity": activity, "start": at(start), "end": at(end)}

    journal = {
        "steady_states": {"before": {"probes": [step("ok-before", 0.5, 1.0)]}},
        "run": [step("shift", 1.0, 1.5), step("bg", 1.2, 3.0, True), step("kill", 2.0, 2.5)],
        "rollbacks": [step("restore", 3.0, 3.25)],
    }
    records = [RequestRecord(i / 10, i / 10, 1.0, 200, "", "aws-primary") for i in range(40)]
    records[25] = RequestRecord(2.5, 2.5, 0.0, 0, "lost", "")
    rows = partition(journal, records, 10.0, 1000.0)
    assert sum(r["sent"] for r in rows) == len(records)
    assert [r["name"] for r in rows] == [
        "between steps",  # before the first step
        "ok-before",
        "shift",
        "between steps",
        "kill",
        "between steps",
        "restore",
        "after the last step",
    ]
    assert [r["sent"] for r in rows] == [5, 5, 5, 5, 5, 5, 3, 7]
    assert rows[5]["lost"] == 1 and rows[5]["failed"] == 1
