"""The sandbox end to end: two stacks' real Tritons behind the real HAProxy front door,
driven through `SandboxTarget`. One sandbox per module; it is stopped even when a test fails."""

from __future__ import annotations

import json
import os
import signal
import time
import urllib.request
from collections import Counter
from dataclasses import replace
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

from chaos.credentials.refusals import auth_refusal
from chaos.traffic.probes import wait_for_rotation
from components.stack_config import Project
from runbooks.targets.sandbox_setup import sandbox_for, start_sandbox
from sandbox.errors import SandboxError
from sandbox.frontdoor import private_socket_path
from sandbox.gate import revocation_marker
from sandbox.processes import STOPPED, group_members, pid_alive, process_start, thread_states
from sandbox.state import Component, SandboxState
from sandbox.stores import EMULATORS
from sandbox.target import SandboxTarget
from sandbox.triton import server_metadata
from tests.conftest import copied_project, sandbox_fixtures

# latency- and timing-sensitive sandbox modules run one after another on one worker
pytestmark = pytest.mark.xdist_group("sandbox-timing")

STACKS = ["aws-primary", "gcp-standby"]


project_fixture, target_fixture = sandbox_fixtures("sandbox-project", STACKS)


def infer(endpoint: str, features: np.ndarray) -> tuple[np.ndarray, str]:
    body = json.dumps(
        {
            "inputs": [
                {
                    "name": "input",
                    "shape": list(features.shape),
                    "datatype": "FP32",
                    "data": features.ravel().tolist(),
                }
            ]
        }
    ).encode()
    request = urllib.request.Request(f"{endpoint}/v2/models/fraud-scorer/infer", data=body)
    with urllib.request.urlopen(request, timeout=5) as response:
        output = json.loads(response.read())["outputs"][0]
        served_by = response.headers.get("x-served-by", "")
    return np.array(output["data"], dtype=np.float32).reshape(output["shape"]), served_by


def shares(target: SandboxTarget, count: int = 120) -> Counter[str]:
    features = np.ones((1, 16), dtype=np.float32)
    return Counter(infer(target.endpoint(), features)[1] for _ in range(count))


def test_inference_through_the_front_door_matches_onnx_runtime(
    target: SandboxTarget, project: Project
) -> None:
    model = project.root / ".exitplan" / "sandbox-model" / "repository" / "fraud-scorer"
    session = ort.InferenceSession(str(model / "3" / "model.onnx"))
    features = np.random.default_rng(3).standard_normal((5, 16)).astype(np.float32)
    got, served_by = infer(target.endpoint(), features)
    np.testing.assert_allclose(got, session.run(None, {"input": features})[0], atol=1e-6)
    assert served_by in STACKS
    assert (
        server_metadata(f"http://127.0.0.1:{target._component('aws-primary').port}")["name"]
        == "triton"
    )
    assert target.model_digest("aws-primary") == target.model_digest("gcp-standby")


def test_weights_shift_traffic_without_a_restart(target: SandboxTarget) -> None:
    door_pid = next(c.pid for c in target.state.components if c.kind == "frontdoor")
    target.set_weights({"aws-primary": 50, "gcp-standby": 50})
    seen = shares(target)
    assert 0.3 <= seen["aws-primary"] / 120 <= 0.7
    target.set_weights({"aws-primary": 0, "gcp-standby": 100})
    assert shares(target, 40) == Counter({"gcp-standby": 40})
    assert target.weights() == {"aws-primary": 0, "gcp-standby": 100}
    assert pid_alive(door_pid)
    target.set_weights({"aws-primary": 100, "gcp-standby": 0})


def test_kill_sends_everything_to_the_other_stack_then_restart(target: SandboxTarget) -> None:
    target.set_weights({"aws-primary": 50, "gcp-standby": 50})
    server = target._component("gcp-standby").pid
    assert len(group_members(server)) >= 2, "Triton and its python-backend stub"
    target.kill("gcp-standby")
    assert group_members(server) == [], "kill returns once the stub is gone with the server"
    assert not target.health("gcp-standby")
    assert shares(target, 60) == Counter({"aws-primary": 60}), "retries hide the dead stack"
    target.restart("gcp-standby")
    assert target.health("gcp-standby")
    deadline = time.monotonic() + 5
    while shares(target, 20)["gcp-standby"] == 0 and time.monotonic() < deadline:
        time.sleep(0.3)
    assert shares(target, 80)["gcp-standby"] > 0
    target.set_weights({"aws-primary": 100, "gcp-standby": 0})


def test_hang_is_a_brownout_that_resume_ends(target: SandboxTarget) -> None:
    target.set_weights({"aws-primary": 50, "gcp-standby": 50})
    server = target._component("aws-primary").pid
    target.hang("aws-primary")
    try:
        assert set(thread_states(server)) <= STOPPED, "hang returns once every thread stopped"
        assert not target.health("aws-primary")
        features = np.ones((1, 16), dtype=np.float32)
        start = time.monotonic()
        served = [infer(target.endpoint(), features)[1] for _ in range(10)]
        assert set(served) == {"gcp-standby"}, "a stopped Triton answers nothing"
        # a request waits out at most one server timeout (its retry goes to the other stack)
        assert time.monotonic() - start < 10 * (target.state.server_timeout_ms / 1000 + 1)
    finally:
        target.resume("aws-primary")
    assert not set(thread_states(server)) & STOPPED, "resume returns once no thread is stopped"
    assert target.health("aws-primary")


def test_a_hung_stack_is_restarted_not_refused(target: SandboxTarget) -> None:
    """The chaos `restart` action restarts any stack that does not answer; a hung one too."""
    before = target._component("aws-primary").pid
    target.hang("aws-primary")
    target.restart("aws-primary")
    assert target._component("aws-primary").pid != before
    assert not pid_alive(before) and target.health("aws-primary")
    with pytest.raises(SandboxError, match="still running"):  # a serving one is refused
        target.restart("aws-primary")
    # The front door marked it down while it hung: the next tests need it back in rotation
    # (its health checks must pass `rise` times) before it takes all the weight again.
    wait_for_rotation(target, "aws-primary", True, 30)
    target.set_weights({"aws-primary": 100, "gcp-standby": 0})


def test_a_crashed_triton_is_restarted_with_back_off_and_a_lost_node_is_not(
    target: SandboxTarget,
) -> None:
    """gcp-standby's Triton crashes (its process group killed outside the target): the
    sandbox's kubelet restarts it as planned on its port after its 10 s back-off, counted as
    a restart. aws-primary, killed by the target (its node lost) just before, stays down: the
    kubelet leaves it to `restart`."""
    crashed = target._component("gcp-standby")
    old_pid, port, restarts = crashed.pid, crashed.port, target.restarts("gcp-standby")
    target.kill("aws-primary")
    try:
        os.killpg(old_pid, signal.SIGKILL)
        killed_at = time.monotonic()
        deadline = killed_at + 40
        while not target.health("gcp-standby") and time.monotonic() < deadline:
            time.sleep(0.2)
        back_after = time.monotonic() - killed_at
        now = target._component("gcp-standby")
        assert now.pid != old_pid and now.port == port and target.health("gcp-standby")
        assert back_after >= 10.0, f"restarted after {back_after:.1f} s: no back-off"
        assert target.restarts("gcp-standby") == restarts + 1
        assert not target._component("aws-primary").running()  # held: its node is lost
        log = (target.sandbox.root / "kubelet.log").read_text()
        assert f"triton-gcp-standby (pid {old_pid}) exited: restart in 10 s" in log
        assert f"triton-gcp-standby restarted as pid {now.pid}" in log
        assert "aws-primary" not in log
    finally:
        target.restart("aws-primary")
    assert target.health("aws-primary")
    wait_for_rotation(target, "aws-primary", True, 30)
    wait_for_rotation(target, "gcp-standby", True, 30)


def test_a_second_up_is_refused(target: SandboxTarget, project: Project) -> None:
    with pytest.raises(SandboxError) as caught:
        start_sandbox(project, STACKS, lambda _message: None)
    assert "already running" in caught.value.cause


def test_every_target_call_is_logged_with_its_time(target: SandboxTarget) -> None:
    before = time.time()
    target.set_weights({"aws-primary": 100, "gcp-standby": 0})
    target.hang("gcp-standby")
    target.resume("gcp-standby")
    lines = [json.loads(line) for line in target.log_file.read_text().splitlines()]
    recent = [e for e in lines if e["time"] >= before]
    assert [e["action"] for e in recent][-3:] == ["set_weights", "hang", "resume"]
    assert recent[-1]["stack"] == "gcp-standby"
    wait_for_rotation(target, "gcp-standby", True, 30)  # leave it as the next test expects


def test_status_and_load_json_follow_their_schemas(target: SandboxTarget, project: Project) -> None:
    """The running sandbox's `status --json` and `load --json`, validated (issue 13, item 5)."""
    from typer.testing import CliRunner

    from runbooks.cli import app
    from tests.runbooks.json_contract import validated

    wait_for_rotation(target, "aws-primary", True, 30)  # earlier tests froze and thawed it
    where = ["--project", str(project.root), "--json"]
    status = validated(CliRunner().invoke(app, ["sandbox", "status", *where]).stdout)
    assert status["running"] is True and set(status["stacks"]) == set(STACKS)
    load = CliRunner().invoke(app, ["load", "--rate", "20", "--duration", "0.5", *where])
    assert load.exit_code == 0, load.output
    assert validated(load.stdout)["failed"] == 0


def test_down_with_nothing_running_does_nothing(tmp_path: Path) -> None:
    assert sandbox_for(Project(tmp_path)).down() == []


def test_down_removes_the_front_doors_private_socket_folder(tmp_path: Path) -> None:
    sandbox = sandbox_for(Project(tmp_path))
    sandbox.root.mkdir(parents=True)
    socket_path = private_socket_path()
    socket_path.write_text("")
    sandbox.save(SandboxState(0.0, "m", "1", "sha256:0", admin_socket=str(socket_path)))
    assert sandbox.down() == []
    assert not socket_path.parent.exists() and not sandbox.state_file.exists()


def test_a_revoked_key_breaks_only_that_stacks_download_until_rotation(
    target: SandboxTarget,
) -> None:
    from model_packaging.errors import PublishError

    assert target.credential_state("aws-primary")["status"] == "active"
    target.revoke_credentials("aws-primary")
    try:
        assert target.credential_state("aws-primary")["status"] == "revoked"
        with pytest.raises(PublishError) as caught:
            target.redeploy("aws-primary")
        assert "refused the credentials" in caught.value.cause
        target.redeploy("gcp-standby")  # the other stack's store and credentials still work
        assert target.health("gcp-standby")
    finally:
        target.rotate_credentials("aws-primary")
    assert target.credential_state("aws-primary")["status"] == "active"
    target.redeploy("aws-primary")
    assert target.health("aws-primary")


def test_a_gated_identity_is_revoked_at_its_gate_until_rotation(target: SandboxTarget) -> None:
    """gcp-standby's Triton reads gs:// through the permission gate of its planned principal:
    revoking it refuses every request with GCS's 403 (a deny policy on the principal), so a
    redeploy fails on the store read while the running server keeps serving; rotating lifts
    it. Nothing is left unsupported but pilot-light operations."""
    from model_packaging.errors import PublishError

    assert target.unsupported == {}
    principal = target.sandbox.planned("gcp-standby", target.state).identity["principal"]
    assert target.credential_state("gcp-standby") == {"status": "active", "principal": principal}
    gate = target.state.gate("gcp-standby")
    assert gate is not None and target.state.gate("aws-primary") is None
    target.revoke_credentials("gcp-standby")
    try:
        assert target.credential_state("gcp-standby")["status"] == "revoked"
        with pytest.raises(PublishError) as caught:
            target.redeploy("gcp-standby")
        assert auth_refusal(caught.value) is not None  # what the chaos probe reads
        assert target.health("gcp-standby")  # the old pod keeps serving
        denied = [line for line in Path(gate.log).read_text().splitlines() if "revoked" in line]
        assert denied and all(line.startswith("deny ") for line in denied)
        # The state is what the store answers, not what was asked: a revocation the gate
        # does not apply (its marker gone) reads active.
        marker = revocation_marker(Path(gate.log))
        marker.unlink()
        assert target.credential_state("gcp-standby")["status"] == "active"
        marker.touch()
        target.redeploy("aws-primary")  # the other stack's credentials still work
    finally:
        target.rotate_credentials("gcp-standby")
    assert target.credential_state("gcp-standby")["status"] == "active"
    target.redeploy("gcp-standby")
    assert target.health("gcp-standby")
    log = [json.loads(line) for line in target.log_file.read_text().splitlines()]
    assert [e["action"] for e in log if e.get("stack") == "gcp-standby"][-3:] == [
        "revoke_credentials",
        "rotate_credentials",
        "redeploy",
    ]


def test_a_stack_whose_store_no_emulator_serves_is_skipped_saying_why(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A cloud whose store scheme has no emulator (here: gs:// taken away) is skipped by
    `sandbox up`, never given another cloud's store."""
    monkeypatch.delitem(EMULATORS, "gs")
    said: list[str] = []
    with pytest.raises(SandboxError, match="none of the stacks gcp-standby can run"):
        start_sandbox(copied_project(tmp_path), ["gcp-standby"], said.append)
    assert said == [
        "gcp-standby is skipped: Google Cloud stores models at gs://, which no sandbox "
        "emulator serves (emulated: s3://, as://)"
    ]


def test_the_image_is_in_the_registry_and_the_name_in_route_53(target: SandboxTarget) -> None:
    import subprocess

    ref, _, digest = target.state.image.partition("@")
    assert digest.startswith("sha256:")
    inspected = subprocess.run(
        ["skopeo", "inspect", "--tls-verify=false", f"docker://{ref}"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(inspected.stdout)["Digest"] == digest
    assert target.state.hosted_zone


def test_a_reused_pid_is_not_taken_for_a_recorded_process() -> None:
    """pid_max is 32768 here and tests start thousands of processes: a dead component's pid
    can come back as someone else's process, which `down` or a fault must never signal."""
    me = os.getpid()
    recorded = Component("x", "triton", me, 0, "", started=process_start(me))
    assert recorded.running()
    assert not replace(recorded, started=recorded.started + 1).running()  # same pid, other process
    assert replace(recorded, started=0).running()  # a state file from before `started` existed
    assert not replace(recorded, pid=2**22 + 1).running()
