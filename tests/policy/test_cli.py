"""`exitplan policy check` end to end: a stack opened to the internet fails by rule id, the JSON
output follows its schema, and the shipped stacks pass."""

from __future__ import annotations

import json
import sys

import jsonschema
import pytest

from components import spec
from components.planning.runner import Plan
from components.policy.offline import check_plans
from components.policy.pack import POLICIES
from components.stack_config import Project
from runbooks.cli import main
from runbooks.schemas import load
from tests.conftest import ALL_STACKS, MakeProject, service, service_config


def run(
    args: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> tuple[int, str]:
    monkeypatch.setattr(sys, "argv", ["exitplan", *args])
    with pytest.raises(SystemExit) as exited:
        main()
    code = exited.value.code
    return (code if isinstance(code, int) else 0), capsys.readouterr().out


def _split_open(make_project: MakeProject, monkeypatch: pytest.MonkeyPatch) -> Project:
    """aws-primary with its API open to two halves of the internet. The spec refuses that
    itself (exit 2, tests/components/test_open_api.py); its check is bypassed here, as a
    program not built from the spec would, so that the pack's own rule is what answers."""
    config = service_config()
    service(config)["network"]["api_allowed_cidrs"] = ["0.0.0.0/1", "128.0.0.0/1"]
    monkeypatch.setattr(spec, "whole_internet", lambda _cidrs: "")
    return make_project({"aws-primary": config})


def test_a_stack_open_to_the_internet_fails_by_rule_id(
    make_project: MakeProject, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    project = _split_open(make_project, monkeypatch)
    code, out = run(
        ["policy", "check", "--project", str(project.root), "--json"], monkeypatch, capsys
    )
    assert code == 1
    report = json.loads(out)
    jsonschema.Draft202012Validator(load("policy.check")).validate(report)
    assert report["verdict"] == "FAILED"
    opened = [v for v in report["violations"] if v["rule"] == "eks-api-not-open"]
    assert opened and opened[0]["source"] == "CKV_AWS_38" and opened[0]["stack"] == "aws-primary"


def test_a_project_without_its_program_is_bad_input_naming_it(
    make_project: MakeProject, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    project = make_project({"aws-primary": service_config()})
    (project.root / "stacks" / "__main__.py").unlink()
    monkeypatch.setattr(
        sys, "argv", ["exitplan", "policy", "check", "--project", str(project.root)]
    )
    with pytest.raises(SystemExit) as exited:
        main()
    printed = capsys.readouterr()
    said = printed.out + printed.err
    assert exited.value.code == 2, said
    assert "no Pulumi program" in said and "__main__.py" in said and "fix:" in said


def test_json_lists_every_rule_with_its_source(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = run(["policy", "check", "gcp-standby", "--json"], monkeypatch, capsys)
    report = json.loads(out)
    jsonschema.Draft202012Validator(load("policy.check")).validate(report)
    assert report["schema"] == "exitplan.policy.check/1"
    assert {r["id"] for r in report["rules"]} == {p.name for p in POLICIES}
    assert all(r["source"] and r["url"].startswith("https://") for r in report["rules"])
    assert code == (1 if report["verdict"] == "FAILED" else 0)


def test_a_broken_report_fails_the_schema() -> None:
    broken = {"schema": "exitplan.policy.check/1", "stacks": [], "rules": [], "violations": []}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft202012Validator(load("policy.check")).validate(broken)


def test_the_table_names_stack_rule_and_fix(
    make_project: MakeProject, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    project = _split_open(make_project, monkeypatch)
    monkeypatch.setenv("COLUMNS", "80")
    code, out = run(["policy", "check", "--project", str(project.root)], monkeypatch, capsys)
    assert code == 1
    assert "aws-primary" in out and "eks-api-not-open" in out and "Fix: set vpc_config" in out
    assert "FAILED:" in out
    table = out.split("\n[1]")[0]
    assert max(len(line) for line in table.splitlines()) <= 80


def test_shipped_stacks_pass(plans: dict[str, Plan]) -> None:
    report = check_plans([plans[name] for name in ALL_STACKS])
    failing = sorted((v.stack, v.rule) for v in report.mandatory)
    assert failing == [], f"mandatory violations in the shipped stacks: {failing}"
