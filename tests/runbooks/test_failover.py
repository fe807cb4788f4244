"""`exitplan drill failover`: bad input exits 2 naming the fix (no sandbox), and one real
pilot-light failover on the sandbox: phases present and ordered, the standby not running
before and back to not running after, failed requests counted in the gap, a second rollback
a no-op, the report with measured and estimated phases side by side."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

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
from runbooks.errors import RunbookError
from runbooks.load.generator import RequestRecord
from tests.conftest import copied_project, running_sandbox
from tests.runbooks.test_cli import run

ROOT = Path(__file__).resolve().parents[2]


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


def record(at: float, ok: bool, by: str) -> RequestRecord:
    return RequestRecord(at, at, 1.0, 200 if ok else 503, "" if ok else "http_503", by)


def test_recovery_is_the_first_request_from_which_every_later_one_is_right() -> None:
    records = [record(0.9, True, "a"), record(1.0, False, ""), record(1.1, True, "b")]
    records += [record(1.2, False, ""), record(1.3, True, "b"), record(1.4, True, "b.r2")]
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


def test_pilot_light_failover_on_the_sandbox(tmp_path: Path) -> None:
    project = copied_project(tmp_path)
    with running_sandbox(project, ["aws-primary", "azure-standby"]) as target:
        rest = {"level": "pilot-light", "replicas": 1, "at_rest": 0, "running": 0}
        assert target.level("azure-standby") == rest
        assert "pilot-light" in target.unsupported["kill:azure-standby"]
        options = FailoverOptions("aws-primary", "azure-standby", rate=20, hold_s=1.5, router="dns")
        path = tmp_path / "run" / "journal.json"
        journal = run_failover(project, target, options, path, lambda _line: None)
        ex = journal.exitplan
        m = ex["measured"]
        assert ex["verdict"]["passed"], ex["verdict"]
        assert m["standby_before"]["running"] == 0
        assert 0 < m["detection_s"] <= m["ready_s"] <= m["rotation_s"] <= m["recovered_s"]
        assert m["first_answer_s"] <= m["recovered_s"]
        scale = m["scale"]
        assert scale["started"] == 1 and scale["download_bytes"] > 0
        assert scale["download"] > 0 and scale["start"] > 0 and scale["load"] > 0
        load = ex["load"]
        assert load["failed_in_gap"] > 0 and load["accounted"] == load["scheduled"]
        assert [r["name"] for r in ex["phases"]] == ["baseline", "gap", "on standby"]
        assert ex["phases"][0]["failed"] == 0 and ex["phases"][2]["failed"] == 0
        assert target.level("azure-standby") == rest  # back to pilot-light
        assert target.health("aws-primary") and target.weights()["azure-standby"] == 0
        assert restore_failover(target, journal) == []
        phases = [r["phase"] for r in ex["rto"]["rows"]]
        assert {"model download", "GPU node provisioning", "recovered"} <= set(phases)
        result = CliRunner().invoke(
            app, ["drill", "report", str(path), "--project", str(project.root)]
        )
        assert result.exit_code == 0, result.output
        assert "estimate only" in (path.parent / "report.md").read_text()
