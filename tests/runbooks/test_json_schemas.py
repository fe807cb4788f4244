"""The `--json` contract (issue 13, item 5): every command with `--json` prints one object whose
`schema` field names its JSON Schema in runbooks/schemas/, and what it prints validates against
that schema. Commands that act on a sandbox run here against stand-ins at the sandbox's edge
(the code that shapes their output runs for real); the sandbox tests validate the real thing."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, get_args

import pytest
import typer
from jsonschema import Draft202012Validator
from typer.testing import CliRunner

from components.spec import Role, StandbyLevel
from components.stack_config import Kind, Project
from model_packaging.export import EXPORTERS
from runbooks import schemas
from runbooks.cli import app
from runbooks.commands.options import print_json
from runbooks.reports.journal import Journal
from sandbox.state import Component, SandboxState
from tests.conftest import ROOT, copied_project
from tests.runbooks.json_contract import validated
from tests.runbooks.test_load import Server, server  # noqa: F401  (the fake KServe server)
from tests.runbooks.test_report import journal as report_journal

EXPERIMENTS = ROOT / "chaos" / "experiments"
DIGEST = "sha256:" + "ab" * 32


def invoke(*args: str, code: int = 0) -> dict[str, Any]:
    """`exitplan ARGS --json` in-process; its validated output."""
    result = CliRunner().invoke(app, [*args, "--json"])
    assert result.exit_code == code, (result.output, result.exception)
    return validated(result.stdout)


def json_commands() -> set[str]:
    """Every command of the CLI that has a `--json` option, as its words joined by "."."""
    found: set[str] = set()

    def walk(command: Any, words: list[str]) -> None:  # typer's own (vendored) click types
        for name, sub in getattr(command, "commands", {}).items():
            walk(sub, [*words, name])
        if any("--json" in p.opts for p in command.params):
            found.add(".".join(words))

    walk(typer.main.get_command(app), [])
    return found


# --- the contract itself ---------------------------------------------------------------------


def test_every_json_command_has_a_schema_and_every_schema_a_command() -> None:
    assert {"stacks.list", "plan", "drill.exit-plan", "chaos.run"} <= json_commands()
    assert json_commands() == set(schemas.commands())


@pytest.mark.parametrize("command", schemas.commands())
def test_each_schema_is_draft_2020_12_with_its_id_and_documents_its_top_level(
    command: str,
) -> None:
    schema = schemas.load(command)
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"] == f"https://exitplan.dev/schemas/{command}/1"
    assert schema["description"] and schema["type"] == "object"
    assert schema["properties"]["schema"] == {
        "const": f"exitplan.{command}/1",
        "description": "This contract and its version.",
    }
    assert schema["additionalProperties"] is False, "every top-level field is documented"
    assert set(schema["required"]) <= set(schema["properties"])


@pytest.mark.parametrize("command", schemas.commands())
def test_the_schema_field_alone_fails_validation(command: str) -> None:
    errors = Draft202012Validator(schemas.load(command)).iter_errors(
        {"schema": f"exitplan.{command}/1"}
    )
    assert any("is a required property" in e.message for e in errors)


def test_a_broken_real_output_fails_validation() -> None:
    """A real output validates; without a required field, with an undocumented top-level field
    or under another version it does not."""
    document = invoke("stacks", "list", "--project", str(ROOT))
    validator = Draft202012Validator(schemas.load("stacks.list"))
    row = document["stacks"][0]
    broken = {**document, "stacks": [{k: v for k, v in row.items() if k != "region"}]}
    assert [e.message for e in validator.iter_errors(broken)] == ["'region' is a required property"]
    assert not validator.is_valid({**document, "surprise": 1})
    assert not validator.is_valid({**document, "schema": "exitplan.stacks.list/2"})
    assert not validator.is_valid({k: v for k, v in document.items() if k != "stacks"})


def test_enums_follow_the_code() -> None:
    row = schemas.load("stacks.list")["properties"]["stacks"]["items"]["properties"]
    assert row["kind"]["enum"] == list(get_args(Kind))
    assert row["role"]["enum"] == list(get_args(Role))
    assert row["standby_level"]["enum"] == [*get_args(StandbyLevel), None]
    framework = schemas.load("package")["properties"]["framework"]["enum"]
    assert framework == list(EXPORTERS)


def test_print_json_prints_one_object_and_refuses_lists(capsys: pytest.CaptureFixture[str]) -> None:
    print_json("sandbox.down", {"stopped": ["haproxy"]})
    assert json.loads(capsys.readouterr().out) == {
        "schema": "exitplan.sandbox.down/1",
        "stopped": ["haproxy"],
    }
    with pytest.raises(TypeError, match="put the list under a key"):
        print_json("stacks.list", [{"stack": "aws-primary"}])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="'schema' is the contract's own field"):
        print_json("plan", {"schema": "mine"})
    with pytest.raises(ValueError, match=r"not exitplan.<command>/1"):
        schemas.command_of({"schema": "stacks.list"})
    with pytest.raises(KeyError, match="no JSON Schema for 'stacks'"):
        schemas.load("stacks")


# --- offline commands, run for real ------------------------------------------------------------


def test_stacks_list_plan_and_parity() -> None:
    listed = invoke("stacks", "list", "--project", str(ROOT))
    assert [s["stack"] for s in listed["stacks"]] == Project(ROOT).stack_names()
    plan = invoke("plan", "gcp-standby", "--project", str(ROOT))
    assert plan["resource_count"] == len(plan["resources"]) > 0
    parity = invoke("parity", "aws-primary", "gcp-standby", "--project", str(ROOT))
    assert parity["ok"] is True and parity["drift"] == []


def test_policy_check() -> None:
    """One stack through the policy pack; exit 1 exactly when the verdict is FAILED."""
    result = CliRunner().invoke(
        app, ["policy", "check", "gcp-standby", "--project", str(ROOT), "--json"]
    )
    report = validated(result.stdout)
    assert report["stacks"] == ["gcp-standby"] and report["rules"]
    assert result.exit_code == (1 if report["verdict"] == "FAILED" else 0), result.output


def test_package(tmp_path: Path) -> None:
    from tests.model_packaging.models import sklearn_classifier

    model = sklearn_classifier(tmp_path / "clf.joblib")
    out = str(tmp_path / "out")
    built = invoke("package", str(model), "--out", out, "--trust-pickle", "--name", "clf")
    assert built["reused"] is False and built["parity"]["passed"] is True
    again = invoke("package", str(model), "--out", out, "--trust-pickle", "--name", "clf")
    assert again["reused"] is True and again["onnx_sha256"] == built["onnx_sha256"]


def test_report_commands_name_both_files(tmp_path: Path) -> None:
    drill_journal = tmp_path / "drill" / "journal.json"
    drill_journal.parent.mkdir()
    drill_journal.write_text(json.dumps(report_journal()))
    written = invoke("drill", "report", str(drill_journal))
    assert written["markdown"] == str(drill_journal.parent / "report.md")
    assert Path(written["html"]).is_file()
    chaos_journal = tmp_path / "chaos" / "journal.json"
    chaos_journal.parent.mkdir()
    chaos_journal.write_text(json.dumps(chaos_run_journal()))
    assert Path(invoke("chaos", "report", str(chaos_journal))["markdown"]).is_file()


def test_chaos_run_dry_lists_the_steps() -> None:
    experiment = str(EXPERIMENTS / "credential-revocation.yaml")
    dry = invoke("chaos", "run", experiment, "--dry", "--project", str(ROOT))
    assert dry["dry"] is True
    assert {s["phase"] for s in dry["steps"]} == {"steady-state", "method", "rollbacks"}


# --- commands at the sandbox's edge, with stand-ins there ------------------------------------


@pytest.fixture
def project(tmp_path: Path) -> Project:
    """A copy of the project, so that locks and sandbox state stay out of the repository."""
    return copied_project(tmp_path)


def sandbox_state(project: Project) -> SandboxState:
    """A sandbox's state as `start_sandbox` records it: two Tritons and the front door."""
    folder = project.root / ".exitplan" / "sandbox"
    components = [
        Component(f"triton-{s}", "triton", 4242 + i, 8000 + i, str(folder / f"{s}.log"), s, 99)
        for i, s in enumerate(("aws-primary", "gcp-standby"))
    ]
    components.append(Component("frontdoor", "frontdoor", 4300, 9000, str(folder / "fd.log")))
    stores = {
        "aws-primary": {"uri": "s3://models-use1", "scheme": "s3"},
        "gcp-standby": {"uri": "gs://models-usc1", "scheme": "gs"},
    }
    return SandboxState(
        1_790_000_000.0, "fraud-scorer", "3", DIGEST, "http://127.0.0.1:9000",
        str(folder / "admin.sock"), components, stores, 4.2, 200,
    )  # fmt: skip


class FakeTarget:
    """The sandbox as a drill sees it, without processes: two healthy stacks serving the same
    model, weights it remembers, and a GCS store whose key it cannot revoke."""

    kind = "sandbox"

    def __init__(self, healthy: bool = True) -> None:
        self.unsupported = {"revoke_credentials:gcp-standby": "the GCS emulator checks no key"}
        self.healthy = healthy
        self.current = {"aws-primary": 100, "gcp-standby": 0}

    def stacks(self) -> list[str]:
        return list(self.current)

    def endpoint(self) -> str:
        return "http://127.0.0.1:9000"

    def health(self, stack: str) -> bool:
        return self.healthy or stack == "aws-primary"

    def model_digest(self, stack: str) -> str:
        return DIGEST

    def store_uri(self, stack: str) -> str:
        return {"aws-primary": "s3://models-use1", "gcp-standby": "gs://models-usc1"}[stack]

    def weights(self) -> dict[str, int]:
        return dict(self.current)

    def set_weights(self, weights: dict[str, int]) -> None:
        self.current = dict(weights)

    def credential_state(self, stack: str) -> dict[str, str]:
        return {"status": "active", "key_id": f"key-{stack}"}

    def reference_answers(self) -> Path | None:
        return None

    def served_counts(self) -> dict[str, int] | None:
        return None

    def store_newest(self, stack: str) -> float | None:
        return None


@pytest.fixture
def fake_target(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeTarget]:
    """`target_for` hands out one FakeTarget."""
    from runbooks.targets import target as targets

    fake = FakeTarget()
    monkeypatch.setattr(targets, "target_for", lambda *_a, **_k: fake)
    yield fake


def test_sandbox_up_status_and_down(project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    from runbooks.targets import sandbox_setup

    where = ("--project", str(project.root))
    assert invoke("sandbox", "status", *where) == {
        "schema": "exitplan.sandbox.status/1",
        "running": False,
    }
    assert invoke("sandbox", "down", *where)["stopped"] == []
    state = sandbox_state(project)
    monkeypatch.setattr(sandbox_setup, "start_sandbox", lambda *_a: state)
    up = invoke("sandbox", "up", *where)
    assert [c["name"] for c in up["components"]] == [c.name for c in state.components]

    class Running:
        def running(self) -> SandboxState:
            return state

    class Target(FakeTarget):
        def __init__(self, _sandbox: object) -> None:
            super().__init__()
            self.state = state

        def level(self, stack: str) -> dict[str, object]:
            level = "primary" if stack == "aws-primary" else "pilot-light"
            running = int(level == "primary")
            return {"level": level, "replicas": 1, "at_rest": running, "running": running}

        def restarts(self, stack: str) -> int:
            return 1

        def log_tail(self, stack: str) -> list[str]:
            return ["E1207 model failed to load"]

    monkeypatch.setattr(sandbox_setup, "sandbox_for", lambda _project: Running())
    monkeypatch.setattr(sandbox_setup, "SandboxTarget", Target)
    status = invoke("sandbox", "status", *where)
    assert status["running"] is True and status["stacks"]["gcp-standby"]["weight"] == 0
    standby = status["stacks"]["gcp-standby"]
    assert (standby["level"], standby["running"], standby["digest"]) == ("pilot-light", 0, "")
    # A log tail only for a stack that should run and is not ready: not for one stopped at rest.
    assert standby["restarts"] == 1 and standby["log_tail"] == []


def test_load(server: Server, tmp_path: Path) -> None:  # noqa: F811
    """The real open-loop load against the fake KServe server (--url), answers checked against
    a reference.json; wrong answers fail it (exit 1) and are counted by kind."""
    from tests.runbooks.test_load import write_reference

    where = ("--url", server.base_url, "--rate", "20", "--duration", "0.5")
    right = write_reference(tmp_path / "right.json")
    summary = invoke("load", *where, "--reference", str(right), "--max-lag-ms", "1000")
    assert summary["sent"] == summary["ok"] == 10 and summary["failed"] == 0
    assert summary["reference"] == str(right) and summary["url"] == server.base_url
    wrong = write_reference(tmp_path / "wrong.json", y=2.0)
    summary = invoke("load", *where, "--reference", str(wrong), code=1)
    assert summary["errors"] == {"wrong_answer": 10} and summary["wrong_answers"] == 10


def drill(project: Project, *args: str, code: int = 0) -> dict[str, Any]:
    """`exitplan drill exit-plan` aws-primary -> gcp-standby on the copied project."""
    route = ("--from", "aws-primary", "--to", "gcp-standby", "--project", str(project.root))
    return invoke("drill", "exit-plan", *route, *args, code=code)


def test_drill_dry(project: Project, fake_target: FakeTarget) -> None:
    dry = drill(project, "--dry")
    assert dry["dry"] is True and dry["steps"][0].startswith("pre-flight checks")


def test_a_drill_that_fails_its_preflight_still_prints_its_result(
    project: Project, fake_target: FakeTarget, tmp_path: Path
) -> None:
    """The real drill up to its pre-flight, which finds the standby unhealthy: the journal's
    result is printed (exit 1) before the error, with verdict FAILED."""
    fake_target.healthy = False
    result = drill(project, "--out", str(tmp_path / "run"), code=1)
    assert result["status"] == "failed" and result["verdict"]["passed"] is False
    assert result["verdict"]["summary"] == "pre-flight failed: both stacks healthy"
    assert result["journal"] == str(tmp_path / "run" / "journal.json")


def test_a_drill_that_ran_and_its_rollback(
    project: Project, fake_target: FakeTarget, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The drill itself replaced by the report tests' passed-drill journal (with the pre-flight
    fields a real one has, and one weight change left to undo); then `drill rollback`."""
    from runbooks.drills import exit_plan

    def ran(
        _project: Project, _target: object, _options: object, path: Path, _say: object
    ) -> Journal:
        data = report_journal()
        data["exitplan"].update(
            checks=[{"name": "both stacks healthy", "passed": True, "detail": "", "fix": ""}],
            weights_before={"aws-primary": 100, "gcp-standby": 0},
            revoke_skipped=None,
        )
        data["exitplan"]["changes"].append(
            {"what": "weights", "detail": "cutover", "restored": False,
             "before": {"aws-primary": 100, "gcp-standby": 0}, "after": {"gcp-standby": 100}}
        )  # fmt: skip
        journal = Journal(path, data)
        journal.save()
        return journal

    monkeypatch.setattr(exit_plan, "run_exit_plan", ran)
    result = drill(project, "--out", str(tmp_path / "run"))
    assert result["dry"] is False and result["verdict"]["passed"] is True
    assert Path(result["report"]).is_file()
    fake_target.current = {"aws-primary": 0, "gcp-standby": 100}
    undone = invoke("drill", "rollback", result["journal"], "--project", str(project.root))
    assert undone["restored"] == ["weights {'aws-primary': 100, 'gcp-standby': 0}"]
    assert fake_target.weights() == {"aws-primary": 100, "gcp-standby": 0}


def chaos_run_journal() -> dict[str, Any]:
    """A Chaos Toolkit journal of a credential revocation (revoke, then redeploy), with
    exitplan's measurements computed from it (`measurements`, no load records)."""
    from runbooks.chaos_run.measurements import measurements

    start = dt.datetime(2026, 11, 30, 10, 0, tzinfo=dt.UTC)

    def run(name: str, func: str, at_s: float, took_s: float) -> dict[str, Any]:
        begin = start + dt.timedelta(seconds=at_s)
        return {
            "activity": {"name": name, "type": "action", "provider": {"func": func}},
            "status": "succeeded",
            "start": begin.isoformat(),
            "end": (begin + dt.timedelta(seconds=took_s)).isoformat(),
            "output": None,
        }

    journal: dict[str, Any] = {
        "experiment": {"title": "Credential revocation"},
        "status": "completed",
        "deviated": False,
        "start": start.isoformat(),
        "duration": 12.0,
        "steady_states": {"before": None, "after": None},
        "run": [run("revoke", "revoke_credentials", 1, 0.2), run("redeploy", "redeploy", 2, 3)],
        "rollbacks": [],
    }
    journal["exitplan"] = {
        "target": "sandbox",
        **measurements(journal, {"exitplan_rto_s": 60}, None, start.timestamp()),
    }
    return journal


def test_chaos_run(project: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from runbooks.chaos_run import runner

    path = tmp_path / "journal.json"
    monkeypatch.setattr(runner, "run", lambda _options: (chaos_run_journal(), path))
    experiment = str(EXPERIMENTS / "credential-revocation.yaml")
    result = invoke("chaos", "run", experiment, "--project", str(project.root))
    assert result["dry"] is False and result["status"] == "completed"
    assert result["exitplan"]["rto_met"] is True and "activities" not in result["exitplan"]
