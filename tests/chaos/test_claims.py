"""The experiments' claims are tolerances a run fails on, the journal is on disk after every
step, rollbacks restore the weights recorded before the run, and `exitplan chaos rollback`
undoes a run killed at any step: fast, against a fake target (tests/chaos/fake_target.py)
through chaostoolkit-lib and exitplan's real control."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from chaoslib.experiment import run_experiment
from typer.testing import CliRunner

from chaos.credentials.probes import redeploy_fails_with_auth_error
from chaos.credentials.refusals import auth_refusal
from model_packaging.errors import PublishError
from runbooks.chaos_run.rollback import rollback
from runbooks.cli import app
from runbooks.drills.lock import TargetLock
from runbooks.errors import RunbookError
from tests.chaos import fake_target
from tests.chaos.fake_target import FakeTarget
from tests.conftest import ROOT, MakeProject, stack_config
from tests.runbooks.json_contract import validated

SETTINGS: dict[str, Any] = {"runtime": {"rollbacks": {"strategy": "always"}}}
FAKE = "tests.chaos.fake_target"


@pytest.fixture
def fake(
    make_project: MakeProject, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[FakeTarget, Path]]:
    """A project of aws-primary and gcp-standby, and a fake target of its stacks whose weights
    before the run are not the defaults (30/70)."""
    project = make_project(
        {"aws-primary": stack_config("aws-primary"), "gcp-standby": stack_config("gcp-standby")}
    )
    state = tmp_path / "fake-target.json"
    state.write_text(json.dumps(fake_target.initial_state({"aws-primary": 30, "gcp-standby": 70})))
    monkeypatch.setenv(fake_target.STATE_ENV, str(state))
    monkeypatch.setitem(fake_target.targets.KINDS, "fake", FAKE)
    yield FakeTarget(state), project.root


def _call(module: str, func: str, **arguments: Any) -> dict[str, Any]:
    return {"type": "python", "module": module, "func": func, "arguments": arguments}


def _probe(name: str, provider: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"type": "probe", "name": name, "provider": provider, **extra}


def _action(name: str, provider: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"type": "action", "name": name, "provider": provider, **extra}


def experiment(root: Path, method: list[dict[str, Any]], **configuration: Any) -> dict[str, Any]:
    """A test experiment on the fake target with exitplan's control, restoring the weights."""
    weights = [
        {"stack": "${exitplan_primary}", "weight": 50},
        {"stack": "gcp-standby", "weight": 50},
    ]
    return {
        "version": "1.0.0",
        "title": "a test experiment",
        "description": "claims on a fake target",
        "configuration": {
            "exitplan_target": "fake",
            "exitplan_project": str(root),
            "exitplan_journal": str(root / "run" / "journal.json"),
            "exitplan_primary": "aws-primary",
            **configuration,
        },
        "controls": [
            {"name": "exitplan-safety", "provider": {"type": "python", "module": "chaos.control"}}
        ],
        "method": [
            _action("spread", _call("chaos.traffic.actions", "set_weights", weights=weights)),
            *method,
        ],
        "rollbacks": [_action("restore", _call("chaos.traffic.actions", "restore_weights"))],
    }


def run(exp: dict[str, Any]) -> dict[str, Any]:
    journal: dict[str, Any] = run_experiment(
        exp, settings=SETTINGS, experiment_vars=(dict(exp["configuration"]), {})
    )
    return journal


def test_a_claim_not_met_deviates_the_run_and_a_met_one_does_not(
    fake: tuple[FakeTarget, Path],
) -> None:
    target, root = fake
    claims = [
        _probe(
            "holds", _call(FAKE, "returns", value=5), tolerance={"type": "range", "range": [0, 10]}
        ),
        _probe("false", _call(FAKE, "returns", value=False), tolerance=True),
        _probe("raises", _call(FAKE, "raises", message="boom"), tolerance=True),
        _probe("no-claim", _call(FAKE, "returns", value=False)),
    ]
    journal = run(experiment(root, claims))
    assert journal["status"] == "completed" and journal["deviated"] is True
    judged = {c["name"]: c for c in journal["exitplan"]["claims"]}
    assert set(judged) == {"holds", "false", "raises"}  # only activities that state a tolerance
    assert judged["holds"]["met"] and not judged["false"]["met"] and not judged["raises"]["met"]
    assert judged["raises"]["why"].startswith("it raised: ")
    runs = {r["activity"]["name"]: r for r in journal["run"]}
    assert runs["holds"]["tolerance_met"] is True and runs["false"]["tolerance_met"] is False

    only_true = [
        _probe(
            "holds", _call(FAKE, "returns", value=5), tolerance={"type": "range", "range": [0, 10]}
        )
    ]
    assert run(experiment(root, only_true))["deviated"] is False
    assert target.weights() == {"aws-primary": 30, "gcp-standby": 70}


def test_rto_missed_is_a_claim_not_met(fake: tuple[FakeTarget, Path]) -> None:
    """revoke -> rotate -> redeploy, then `seconds_since_revoked` against the RTO: met at 60 s,
    not met at 1 ms (the run deviates)."""
    target, root = fake
    creds = "chaos.credentials.actions"

    def method(rto: Any) -> list[dict[str, Any]]:
        return [
            _action("revoke", _call(creds, "revoke_credentials", stack="aws-primary")),
            _action("rotate", _call(creds, "rotate_credentials", stack="aws-primary")),
            _action(
                "redeploy", _call(creds, "redeploy", stack="aws-primary"), pauses={"after": 0.05}
            ),
            _probe(
                "recovered-within-rto",
                _call("chaos.credentials.probes", "seconds_since_revoked", stack="aws-primary"),
                tolerance={"type": "range", "range": [0, "${exitplan_rto_s}"]},
            ),
        ]

    met = run(experiment(root, method(60), exitplan_rto_s=60))
    assert met["deviated"] is False, met["exitplan"]["claims"]
    claim = met["exitplan"]["claims"][0]
    assert claim["tolerance"] == {"type": "range", "range": [0, 60]} and 0 < claim["output"] < 60
    missed = run(experiment(root, method(0.001), exitplan_rto_s=0.001))
    assert missed["deviated"] is True
    assert missed["exitplan"]["claims"][0]["met"] is False
    assert target.credential_state("aws-primary")["key_id"] == "AKIAAWS-PRIMARY3"


class _Refusing:
    """A target whose redeploy raises `error`."""

    kind = "fake"

    def __init__(self, error: BaseException) -> None:
        self.error = error

    def redeploy(self, stack: str) -> None:
        raise self.error


def _client_error(code: str, status: int) -> BaseException:
    from botocore.exceptions import ClientError

    response: Any = {
        "Error": {"Code": code, "Message": "m"},
        "ResponseMetadata": {"HTTPStatusCode": status},
    }
    return ClientError(response, "ListObjectsV2")


def _chained(cause: BaseException, message: str) -> BaseException:
    try:
        raise PublishError(message) from cause
    except PublishError as exc:
        return exc


NOT_AUTH = [
    PublishError("cannot reach the model store s3://m at http://127.0.0.1:4031: refused"),
    PublishError("cannot reach the model store s3://m at http://127.0.0.1:40403: refused"),
    RuntimeError("Triton did not load: I1130 10:40:31.401123 1 model.cc:403] failed"),
    _chained(ConnectionRefusedError(111, "port 4031 refused"), "unreachable 401"),
    _chained(_client_error("NoSuchBucket", 404), "the bucket of s3://m401 does not exist"),
]
AUTH = [
    _chained(_client_error("InvalidAccessKeyId", 403), "s3://m refused the credentials"),
    _client_error("SignatureDoesNotMatch", 403),
    _chained(_client_error("Unknown", 401), "refused"),
]


@pytest.mark.parametrize("error", NOT_AUTH, ids=range(len(NOT_AUTH)))
def test_the_auth_probe_ignores_digits_in_messages(
    error: BaseException, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        "chaos.credentials.probes.resolve", lambda configuration=None: _Refusing(error)
    )
    assert auth_refusal(error) is None
    assert redeploy_fails_with_auth_error("aws-primary") is False


@pytest.mark.parametrize("error", AUTH, ids=range(len(AUTH)))
def test_the_auth_probe_reads_the_status_code_and_error_code(
    error: BaseException, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        "chaos.credentials.probes.resolve", lambda configuration=None: _Refusing(error)
    )
    assert auth_refusal(error) is not None and auth_refusal(error).startswith("HTTP 40")  # type: ignore[union-attr]
    assert redeploy_fails_with_auth_error("aws-primary") is True


def test_the_auth_probe_reads_exception_types_of_every_sdk() -> None:
    from botocore.exceptions import NoCredentialsError
    from google.api_core.exceptions import Forbidden

    assert auth_refusal(_chained(NoCredentialsError(), "no key")) == "NoCredentialsError"
    assert auth_refusal(Forbidden("denied")) == "HTTP 403"
    azure = pytest.importorskip("azure.core.exceptions")
    assert auth_refusal(azure.ClientAuthenticationError("bad key")) == "ClientAuthenticationError"


def test_rollbacks_restore_the_weights_recorded_before_the_run(
    fake: tuple[FakeTarget, Path],
) -> None:
    target, root = fake
    journal = run(experiment(root, []))
    assert journal["exitplan"]["before"]["weights"] == {"aws-primary": 30, "gcp-standby": 70}
    assert [r["output"] for r in journal["run"]] == [{"aws-primary": 50, "gcp-standby": 50}]
    assert journal["rollbacks"][0]["output"] == {"aws-primary": 30, "gcp-standby": 70}
    assert target.weights() == {"aws-primary": 30, "gcp-standby": 70}


def test_the_journal_is_on_disk_before_and_after_every_step(fake: tuple[FakeTarget, Path]) -> None:
    _, root = fake
    journal = run(experiment(root, [_probe("look", _call(FAKE, "journal_on_disk"))]))
    seen = journal["run"][1]["output"]["run"]
    # the step before it has ended, and this one is already there while it runs (write-ahead)
    assert seen == [["spread", "succeeded"], ["look", None]]
    on_disk = json.loads((root / "run" / "journal.json").read_text())
    assert on_disk["status"] == "completed" and on_disk["rollbacks"][0]["status"] == "succeeded"
    assert on_disk["exitplan"]["before"]["target"] == "fake"


def test_a_run_refused_by_the_lock_changes_nothing_and_skips_its_rollbacks(
    fake: tuple[FakeTarget, Path],
) -> None:
    target, root = fake
    before = target.state()
    with TargetLock("fake", root, "another run"):
        journal = run(experiment(root, []))
    assert journal["status"] == "interrupted"
    assert journal["run"] == [] and journal["rollbacks"] == []
    assert target.state() == before


def _killed_run(root: Path, exp: dict[str, Any], step: str) -> Path:
    """Run the experiment in a child process, SIGKILL it while `step` runs; the journal."""
    spec = root / "experiment.json"
    spec.write_text(json.dumps(exp))
    code = (
        "import json, sys; from tests.chaos import fake_target; fake_target.register(); "
        "from chaoslib.experiment import run_experiment; "
        "e = json.load(open(sys.argv[1])); "
        "run_experiment(e, settings={'runtime': {'rollbacks': {'strategy': 'always'}}}, "
        "experiment_vars=(dict(e['configuration']), {}))"
    )
    child = subprocess.Popen([sys.executable, "-c", code, str(spec)], cwd=ROOT, env=os.environ)
    path = Path(exp["configuration"]["exitplan_journal"])
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and child.poll() is None:
        try:
            names = [r["activity"]["name"] for r in json.loads(path.read_text())["run"]]
        except (OSError, ValueError, KeyError):
            names = []
        if step in names:
            break
        time.sleep(0.02)
    child.send_signal(signal.SIGKILL)
    child.wait()
    return path


def test_chaos_rollback_undoes_a_killed_run_and_is_idempotent(
    fake: tuple[FakeTarget, Path],
) -> None:
    target, root = fake
    before = target.state()
    creds = "chaos.credentials.actions"
    method = [
        _action("hang", _call("chaos.serving.actions", "hang", stack="aws-primary")),
        _action("kill", _call("chaos.serving.actions", "kill", stack="gcp-standby")),
        _action("revoke", _call(creds, "revoke_credentials", stack="aws-primary")),
        _action("stuck", _call(FAKE, "wait_forever")),
    ]
    path = _killed_run(root, experiment(root, method), "stuck")
    killed = target.state()
    assert killed["weights"] == {"aws-primary": 50, "gcp-standby": 50}
    assert killed["frozen"] == ["aws-primary"] and killed["health"]["gcp-standby"] is False
    assert killed["credentials"]["aws-primary"]["status"] == "revoked"

    result = CliRunner().invoke(app, ["chaos", "rollback", str(path), "--json"])
    assert result.exit_code == 0, result.output
    first = validated(result.stdout)
    assert first["restored"] is True and first["remaining"] == []
    assert [(s["what"], s["stack"]) for s in first["steps"]] == [
        ("health", "aws-primary"),
        ("health", "gcp-standby"),
        ("credentials", "aws-primary"),
        ("weights", None),
    ]
    after = target.state()
    assert after["weights"] == before["weights"] and after["health"] == before["health"]
    assert after["frozen"] == [] and after["credentials"]["aws-primary"]["status"] == "active"
    assert (
        after["credentials"]["aws-primary"]["key_id"]
        != before["credentials"]["aws-primary"]["key_id"]
    )
    assert "resume aws-primary" in after["calls"] and "restart gcp-standby" in after["calls"]

    again = CliRunner().invoke(app, ["chaos", "rollback", str(path), "--json"])
    assert again.exit_code == 0, again.output
    assert validated(again.stdout)["steps"] == [] and target.state() == after
    recovery = json.loads(path.read_text())["exitplan"]["recovery"]
    assert [len(r["steps"]) for r in recovery] == [4, 0]


def test_a_run_killed_before_it_recorded_the_state_has_nothing_to_undo(tmp_path: Path) -> None:
    """Killed right after its first journal write: the control had not recorded the state,
    so it had changed nothing (the kill matrix's first point): restored, exit 0."""
    path = tmp_path / "journal.json"
    path.write_text(json.dumps({"experiment": {}, "run": [], "exitplan": {}}))
    result = rollback(path)
    assert (result["restored"], result["steps"], result["before"]) == (True, [], None)
    assert "before it changed anything" in result["note"]


def test_chaos_rollback_refuses_what_is_not_a_chaos_journal(tmp_path: Path) -> None:
    path = tmp_path / "journal.json"
    path.write_text(json.dumps({"exitplan": {"drill": "exit-plan"}}))
    with pytest.raises(RunbookError, match="not the journal of a chaos run") as raised:
        rollback(path)
    assert raised.value.exit_code == 2


def test_every_stack_healthy_leaves_out_a_pilot_light_standby_at_rest(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A pilot-light standby (none at rest, none running) does not fail the steady state; the
    same standby once started, and a primary, do when they do not answer ready."""
    from unittest import mock

    from chaos.serving import probes
    from sandbox.target import SandboxTarget

    def with_levels(levels: dict[str, tuple[int, int, bool]]) -> bool:
        """`all_healthy` over stacks given as (at rest, running, healthy)."""
        target = mock.create_autospec(SandboxTarget, instance=True)
        target.stacks.return_value = list(levels)
        target.health.side_effect = lambda stack: levels[stack][2]
        target.level.side_effect = lambda stack: {
            "at_rest": levels[stack][0],
            "running": levels[stack][1],
        }
        monkeypatch.setattr(probes, "resolve", lambda _configuration=None: target)
        return probes.all_healthy()

    assert with_levels({"aws-primary": (2, 2, True), "azure-standby": (0, 0, False)})
    assert not with_levels({"aws-primary": (2, 2, True), "azure-standby": (0, 1, False)})
    assert not with_levels({"aws-primary": (2, 1, False), "azure-standby": (0, 0, False)})
