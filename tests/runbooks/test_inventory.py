"""`exitplan inventory check` (issue 18 part 1): the inventory loader's bad input (exit 2 naming
the row, the column and the fix), each readiness rule failing on one row and passing on
another, the exit code, the shipped example, and the JSON and HTML outputs."""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from components.catalog.clouds import clouds
from components.catalog.operations import company
from components.stack_config import Project
from runbooks.cli import app
from runbooks.rehearsal.inventory import (
    COLUMNS,
    InventoryError,
    format_duration,
    load_inventory,
    parse_duration,
)
from runbooks.rehearsal.readiness import (
    RULES,
    Context,
    Readiness,
    assess,
    read_journals,
)
from tests.conftest import ROOT, copied_project
from tests.runbooks.json_contract import validated

TODAY = dt.date(2026, 11, 30)  # tests/conftest.py pins EXITPLAN_TODAY


@pytest.fixture
def project(tmp_path: Path) -> Project:
    """A copy of the shipped stacks (no journals, no packages of the checkout)."""
    (tmp_path / "project").mkdir()
    return copied_project(tmp_path / "project")


def base_row(project: Project) -> dict[str, str]:
    """fraud-scoring, passing every rule once a passing drill journal and package exist."""
    package = project.root / "pkg"
    package.mkdir(exist_ok=True)
    (package / "parity.json").write_text(json.dumps({"passed": True}))
    return {
        "service": "fraud-scoring",
        "business_function": "card payments",
        "provider": "aws",
        "region": "us-east-1",
        "model_provider": "in-house",
        "auth_method": "workload-identity",
        "failover_plan": "gcp-standby",
        "rto": "15m",
        "rpo": "1h",
        "criticality": "single-point",
        "owner": "Dana",
        "escalation": "sre on-call",
        "exit_clause": "MSA 14.3",
        "data_export_path": "gs://fraud-scoring-models-usc1",
        "model_package": "pkg",
    }


def write_csv(path: Path, rows: list[dict[str, str]], columns: list[str] | None = None) -> Path:
    """The rows as a CSV inventory."""
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns or list(COLUMNS))
        writer.writeheader()
        writer.writerows(rows)
    return path


def journal(
    folder: Path,
    name: str,
    *,
    to: str = "gcp-standby",
    drill: str = "failover",
    days_ago: int = 10,
    passed: bool = True,
    achievable: float | None = 40.0,
) -> None:
    """A drill journal under folder/drills/NAME/ with what readiness reads of it."""
    start = dt.datetime.combine(TODAY - dt.timedelta(days=days_ago), dt.time(9), dt.UTC)
    ex: dict[str, Any] = {"from": "aws-primary", "to": to, "verdict": {"passed": passed}}
    if drill:
        ex["drill"] = drill
    ex["rto"] = {"achievable_rto_s": achievable, "measured_rto_s": 3.2}
    path = folder / "drills" / name / "journal.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"start": start.isoformat(), "exitplan": ex}))


def judge(project: Project, tmp_path: Path, **changes: str) -> Readiness:
    """The readiness of one row: the base row with `changes`."""
    path = write_csv(tmp_path / "inv.csv", [{**base_row(project), **changes}])
    rows = load_inventory(path, project)
    return assess(rows, Context(project, read_journals(tmp_path / "journals")))[0]


def statuses(readiness: Readiness) -> dict[str, str]:
    """rule -> status."""
    return {f.rule: f.status for f in readiness.findings}


def finding(readiness: Readiness, rule: str) -> tuple[str, str]:
    """(status, evidence) of a rule."""
    found = next(f for f in readiness.findings if f.rule == rule)
    return found.status, found.evidence


# --- durations --------------------------------------------------------------------------------


def test_durations_parse_to_seconds_and_print_back() -> None:
    assert [parse_duration(t) for t in ("90s", "15m", "4h", "1d", "1.5h")] == [
        90,
        900,
        14400,
        86400,
        5400,
    ]
    assert [format_duration(s) for s in (90, 900, 14400, 86400, 5400)] == [
        "90s",
        "15m",
        "4h",
        "1d",
        "90m",
    ]
    for bad in ("15", "15 minutes", "m15", "-5m", ""):
        with pytest.raises(ValueError):
            parse_duration(bad)


# --- the rules: each passing on the base row and failing on a broken one ------------------------


def test_the_base_row_passes_every_rule(project: Project, tmp_path: Path) -> None:
    journal(tmp_path / "journals", "ok")
    readiness = judge(project, tmp_path)
    assert statuses(readiness) == dict.fromkeys(RULES, "pass")
    assert readiness.score == 1.0 and not readiness.critical_failures
    assert readiness.failover is not None and readiness.failover.basis == "measured"


@pytest.mark.parametrize(
    ("changes", "rule", "evidence"),
    [
        ({"failover_plan": ""}, "failover-in-another-provider", "failover_plan is empty"),
        (
            {"failover_plan": "aws-wavelength"},
            "failover-in-another-provider",
            "every failover stack runs on aws",
        ),
        ({"rto": "30s"}, "achievable-rto", "gcp-standby: 40 s (measured) > rto 30s"),
        ({"auth_method": "static-key"}, "keyless-auth", "auth_method static-key"),
        ({"auth_method": "api-key"}, "keyless-auth", "auth_method api-key"),
        ({"rto": "30s"}, "recent-passing-drill", "RTO 40 s against rto 30s"),
        ({"exit_clause": ""}, "exit-terms-recorded", "exit_clause blank"),
        ({"data_export_path": ""}, "exit-terms-recorded", "data_export_path blank"),
        ({"model_package": "nowhere"}, "model-parity", "no parity.json in nowhere"),
    ],
)
def test_each_rule_fails_on_its_broken_row(
    project: Project, tmp_path: Path, changes: dict[str, str], rule: str, evidence: str
) -> None:
    journal(tmp_path / "journals", "ok")
    status, said = finding(judge(project, tmp_path, **changes), rule)
    assert status == "fail"
    assert evidence in said


def test_the_rto_falls_back_to_the_labelled_estimate_without_a_failover_drill(
    project: Project, tmp_path: Path
) -> None:
    """gcp-standby is warm: the catalog estimates 90 s; exit-plan drills are no failure RTO."""
    journal(tmp_path / "journals", "exit", drill="", achievable=10.0)
    readiness = judge(project, tmp_path, rto="1m")
    assert readiness.failover is not None and readiness.failover.basis == "estimate"
    assert finding(readiness, "achievable-rto") == ("fail", "gcp-standby: 90 s (estimate) > rto 1m")
    assert finding(judge(project, tmp_path, rto="2m"), "achievable-rto")[0] == "pass"
    status, evidence = finding(readiness, "recent-passing-drill")
    assert (status, evidence) == ("fail", "no failover drill of gcp-standby on record")


@pytest.mark.parametrize(
    ("kwargs", "problem"),
    [
        ({"passed": False}, "it failed"),
        ({"days_ago": 90}, "90 days old"),
        ({"achievable": 1000.0}, "RTO 1000 s against rto 15m"),
        ({"achievable": None}, "no RTO against rto 15m"),
    ],
)
def test_the_last_failover_drill_must_pass_be_recent_and_meet_the_rto(
    project: Project, tmp_path: Path, kwargs: dict[str, Any], problem: str
) -> None:
    journals = tmp_path / "journals"
    journal(journals, "a-older", days_ago=200, achievable=10.0)  # not the last one
    journal(journals, "b-last", **{"days_ago": 5, **kwargs})
    status, evidence = finding(judge(project, tmp_path), "recent-passing-drill")
    assert status == "fail" and problem in evidence
    assert finding(judge(project, tmp_path, failover_plan="azure-standby"), "recent-passing-drill")[
        1
    ] == ("no failover drill of azure-standby on record")


def test_a_drill_89_days_old_still_counts(project: Project, tmp_path: Path) -> None:
    journal(tmp_path / "journals", "edge", days_ago=89)
    assert finding(judge(project, tmp_path), "recent-passing-drill")[0] == "pass"


def test_unreadable_and_foreign_journals_are_skipped(project: Project, tmp_path: Path) -> None:
    journals = tmp_path / "journals" / "drills"
    for name, text in {
        "torn": "{",
        "list": "[]",
        "bare": "{}",
        "undated": '{"exitplan": {}}',
    }.items():
        (journals / name).mkdir(parents=True)
        (journals / name / "journal.json").write_text(text)
    journal(tmp_path / "journals", "ok")
    assert finding(judge(project, tmp_path), "recent-passing-drill")[0] == "pass"


def test_model_parity_fails_on_a_failed_report_and_is_na_without_a_package(
    project: Project, tmp_path: Path
) -> None:
    bad = project.root / "bad"
    bad.mkdir()
    (bad / "parity.json").write_text(json.dumps({"passed": False}))
    assert finding(judge(project, tmp_path, model_package="bad"), "model-parity") == (
        "fail",
        "bad/parity.json: passed is False",
    )
    assert finding(judge(project, tmp_path, model_package=""), "model-parity")[0] == "n/a"


def test_the_best_failover_in_another_provider_is_judged(project: Project, tmp_path: Path) -> None:
    """aws-wavelength is on the service's own cloud; azure-standby (pilot-light) is slower."""
    readiness = judge(project, tmp_path, failover_plan="aws-wavelength azure-standby gcp-standby")
    assert readiness.failover is not None and readiness.failover.stack == "gcp-standby"
    readiness = judge(project, tmp_path, failover_plan="aws-wavelength azure-standby")
    assert readiness.failover is not None and readiness.failover.stack == "azure-standby"
    assert finding(readiness, "achievable-rto")[0] == "pass"  # 635 s estimate <= 15m
    assert finding(judge(project, tmp_path, failover_plan="azure-standby", rto="10m"),
                   "achievable-rto")[0] == "fail"  # fmt: skip


def test_concentration_fails_when_the_model_company_runs_the_only_cloud(
    project: Project, tmp_path: Path
) -> None:
    """doc-search has no stacks: it runs on gcp alone; fraud-scoring's stacks span clouds."""
    alone = {"service": "doc-search", "provider": "gcp", "failover_plan": ""}
    for model, status in (("Google Gemini", "fail"), ("google", "fail"), ("OpenAI", "pass")):
        got = finding(judge(project, tmp_path, **alone, model_provider=model), "no-concentration")
        assert got[0] == status, (model, got)
    spread = judge(project, tmp_path, model_provider="Amazon")
    assert finding(spread, "no-concentration") == ("pass", "runs on aws, azure, gcp, oci")
    other = judge(project, tmp_path, **{**alone, "provider": "other"}, model_provider="OpenAI")
    assert finding(other, "no-concentration")[0] == "n/a"


def test_every_registered_cloud_names_its_company() -> None:
    for cloud in clouds():
        runner = company(cloud)
        assert runner.name and runner.names, cloud


def test_severity_is_critical_for_the_first_three_rules_of_single_point_services_only(
    project: Project, tmp_path: Path
) -> None:
    critical = judge(project, tmp_path, auth_method="api-key")
    assert [f.rule for f in critical.critical_failures] == ["keyless-auth"]
    assert {f.rule for f in critical.findings if f.severity == "critical"} == set(list(RULES)[:3])
    recoverable = judge(project, tmp_path, auth_method="api-key", criticality="recoverable")
    assert finding(recoverable, "keyless-auth")[0] == "fail"
    assert not recoverable.critical_failures
    assert {f.severity for f in recoverable.findings} == {"warning"}
    assert finding(recoverable, "exit-terms-recorded")[0] == "n/a"


# --- bad input: exit 2 naming the row, the column and the fix ----------------------------------


def run(*args: str) -> Any:
    """`exitplan ARGS` in-process."""
    return CliRunner().invoke(app, list(args))


@pytest.mark.parametrize(
    ("changes", "where", "fix"),
    [
        ({"rto": "15 minutes"}, "row 1 (fraud-scoring): rto", "90s, 15m, 4h"),
        ({"rpo": "soon"}, "row 1 (fraud-scoring): rpo", "90s, 15m, 4h"),
        (
            {"failover_plan": "gcp-standby nope"},
            "row 1 (fraud-scoring): failover_plan",
            "aws-primary",
        ),
        (
            {"service": "doc-search"},
            "row 1 (doc-search): failover_plan",
            "service name is doc-search",
        ),
        ({"provider": "ibm"}, "row 1 (fraud-scoring): provider", "aws, azure, gcp, oci, other"),
        ({"auth_method": "password"}, "row 1 (fraud-scoring): auth_method", "workload-identity"),
        ({"criticality": "high"}, "row 1 (fraud-scoring): criticality", "single-point"),
        ({"owner": ""}, "row 1 (fraud-scoring): owner", "fill in owner"),
    ],
)
def test_a_bad_cell_exits_2_naming_the_row_the_column_and_the_fix(
    project: Project, tmp_path: Path, changes: dict[str, str], where: str, fix: str
) -> None:
    rows = [{**base_row(project), "service": "churn", "failover_plan": ""}]
    rows.append({**base_row(project), **changes})
    path = write_csv(tmp_path / "inv.csv", rows)
    raised = run("inventory", "check", str(path), "--project", str(project.root)).exception
    assert isinstance(raised, InventoryError) and raised.exit_code == 2
    assert raised.field == where.replace("row 1", "row 2")
    assert fix in raised.fix
    assert raised.file == str(path)


def test_the_console_script_exits_2_and_prints_where_and_the_fix(
    project: Project, tmp_path: Path
) -> None:
    path = write_csv(tmp_path / "inv.csv", [{**base_row(project), "rto": "soon"}])
    exitplan = Path(sys.executable).parent / "exitplan"
    args = [str(exitplan), "inventory", "check", str(path), "--project", str(project.root)]
    done = subprocess.run(args, capture_output=True, text=True, check=False)
    assert done.returncode == 2, done.stderr
    assert f"{path}: row 1 (fraud-scoring): rto: 'soon' is not a duration" in done.stderr
    assert "fix: write a number and a unit: 90s, 15m, 4h" in done.stderr


def test_unknown_missing_and_repeated_columns_and_rows(project: Project, tmp_path: Path) -> None:
    row = base_row(project)
    cases = {
        "unknown": (write_csv(tmp_path / "u.csv", [{**row, "team": "x"}], [*COLUMNS, "team"]),
                    "header: team", "unknown column"),
        "missing": (write_csv(tmp_path / "m.csv", [{k: v for k, v in row.items() if k != "rpo"}],
                              [c for c in COLUMNS if c != "rpo"]), "header: rpo", "missing column"),
        "twice": (write_csv(tmp_path / "t.csv", [row, row]), "row 2 (fraud-scoring): service",
                  "listed twice (also row 1)"),
    }  # fmt: skip
    for name, (path, field, problem) in cases.items():
        with pytest.raises(InventoryError) as caught:
            load_inventory(path, project)
        assert (caught.value.field, caught.value.problem) == (field, problem), name
        assert caught.value.fix, name
    extra = tmp_path / "extra.csv"
    extra.write_text(",".join(COLUMNS) + "\n" + ",".join(row.values()) + ",surplus\n")
    with pytest.raises(InventoryError, match="more cells than the header"):
        load_inventory(extra, project)


def test_yaml_reads_like_csv_and_names_its_bad_input(project: Project, tmp_path: Path) -> None:
    row = base_row(project)
    from_csv = load_inventory(write_csv(tmp_path / "inv.csv", [row]), project)
    listed = {**row, "failover_plan": ["gcp-standby"], "escalation": None}
    del listed["model_package"]  # an optional column may be left out of a YAML row
    path = tmp_path / "inv.yaml"
    path.write_text(yaml.safe_dump({"services": [listed]}))
    (got,) = load_inventory(path, project)
    assert got == dataclasses.replace(from_csv[0], escalation="", model_package="")
    path.write_text(yaml.safe_dump([{**listed, "tier": 1}]))
    with pytest.raises(InventoryError) as caught:
        load_inventory(path, project)
    assert caught.value.field == "row 1 (fraud-scoring): tier"
    path.write_text(yaml.safe_dump([{k: v for k, v in listed.items() if k != "rto"}]))
    with pytest.raises(InventoryError, match="missing column"):
        load_inventory(path, project)
    for text, problem in (("a: [", "YAML syntax error"), ("7", "expected a list")):
        path.write_text(text)
        with pytest.raises(InventoryError, match=problem):
            load_inventory(path, project)
    (tmp_path / "inv.txt").write_text("x")
    with pytest.raises(InventoryError, match="unknown inventory format"):
        load_inventory(tmp_path / "inv.txt", project)


# --- the command ------------------------------------------------------------------------------


def test_exit_1_only_when_a_critical_rule_fails(project: Project, tmp_path: Path) -> None:
    journal(tmp_path / "journals", "ok")
    args = ["--project", str(project.root), "--journals", str(tmp_path / "journals")]
    warn = write_csv(tmp_path / "warn.csv", [{**base_row(project), "exit_clause": ""}])
    result = run("inventory", "check", str(warn), *args)
    assert result.exit_code == 0, result.output
    assert "exit-terms-recorded" in result.output and "PASSED" in result.output
    bad = write_csv(tmp_path / "bad.csv", [{**base_row(project), "auth_method": "static-key"}])
    result = run("inventory", "check", str(bad), *args)
    assert result.exit_code == 1, result.output
    assert "FAILED" in result.output and "1 critical rule(s) failed" in result.output


def test_json_validates_and_html_plots_target_against_achievable(
    project: Project, tmp_path: Path
) -> None:
    journal(tmp_path / "journals", "ok")
    rows = [base_row(project), {**base_row(project), "service": "doc-search", "failover_plan": "",
                                "provider": "gcp", "criticality": "recoverable"}]  # fmt: skip
    path = write_csv(tmp_path / "inv.csv", rows)
    page = tmp_path / "out" / "readiness.html"
    where = ["--project", str(project.root), "--journals", str(tmp_path / "journals")]
    result = run("inventory", "check", str(path), *where, "--html", str(page), "--json")
    assert result.exit_code == 0, result.output
    document = validated(result.stdout)
    assert document["passed"] is True and document["html"] == str(page)
    fraud, doc = document["services"]
    assert fraud["failover"]["basis"] == "measured" and fraud["failover"]["achievable_rto_s"] == 40
    assert fraud["failover"]["drill"]["passed"] is True
    assert doc["failover"] is None and doc["rto_target_s"] == 900
    assert [r["rule"] for r in fraud["rules"]] == list(RULES)
    html = page.read_text()
    assert html.count('class="target"') == 2 and html.count('class="achievable"') == 1
    assert "gcp-standby: 40 s (measured)" in html and "http" not in html.split("<body>")[1]


def test_the_shipped_example_shows_a_failing_service() -> None:
    """examples/inventory.csv: support-chat (an API-key SaaS with no failover) fails the three
    critical rules, so the command exits 1; fraud-scoring passes them; doc-search shows the
    concentration rule failing."""
    result = CliRunner().invoke(
        app,
        ["inventory", "check", str(ROOT / "examples" / "inventory.csv"), "--project", str(ROOT),
         "--journals", str(ROOT / "tests"), "--json"],
    )  # fmt: skip
    assert result.exit_code == 1, result.output
    services = {s["service"]: s for s in validated(result.stdout)["services"]}
    assert set(services) == {"fraud-scoring", "support-chat", "doc-search", "churn-forecast"}

    def failed(name: str) -> set[str]:
        return {r["rule"] for r in services[name]["rules"] if r["status"] == "fail"}

    assert set(list(RULES)[:3]) <= failed("support-chat")
    assert not failed("fraud-scoring") & set(list(RULES)[:3])
    assert failed("doc-search") == {"no-concentration"}
    assert not failed("churn-forecast")
    assert re.fullmatch(r"[a-z-]+", services["fraud-scoring"]["failover"]["stack"])
