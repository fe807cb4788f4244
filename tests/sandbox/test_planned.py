"""The sandbox runs each stack's planned Triton: the command line is the planned container's
with only the listed substitutions, and a plan that would not serve fails `sandbox up`, naming
the stack and the cause (review J1, a rejected argument, a dropped S3 permission), with
nothing left running."""

from __future__ import annotations

import csv
import json
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from components.planning.runner import Plan
from components.stack_config import Project
from runbooks.targets import sandbox_plan
from runbooks.targets.sandbox_plan import triton_of
from runbooks.targets.sandbox_setup import sandbox_for, start_sandbox
from sandbox import copy_step
from sandbox.errors import PlannedTritonFailed, SandboxError
from sandbox.planned import (
    SUBSTITUTIONS,
    PlannedTriton,
    Ports,
    planned_failure,
    sandbox_command,
)
from sandbox.sync import sync_once
from sandbox.target import SandboxTarget
from tests.conftest import copied_project

pytestmark = pytest.mark.xdist_group("sandbox-timing")

PLANNED = PlannedTriton(
    stack="s",
    args=(
        "tritonserver",
        "--model-repository=gs://models/repo",
        "--model-control-mode=poll",
        "--http-port=8000",
        "--grpc-port=8001",
        "--metrics-port=8002",
        "--http-restricted-api=model-repository:key=$(ADMIN)",
    ),
    env={"A": "1"},
    secret_env=("ADMIN",),
    store_uri="gs://models",
    identity={"kind": "gke-workload-identity", "principal": "sa@p.iam.gserviceaccount.com"},
    grants={"models": ("roles/storage.objectViewer",)},
    source="components/triton.py:1",
)


def _command(planned: PlannedTriton = PLANNED, env: dict[str, str] | None = None) -> list[str]:
    return list(
        sandbox_command(
            planned,
            binary=Path("/bin/tritonserver"),
            backends=Path("/b"),
            ports=Ports(1, 2, 3),
            repository="gs://models/repo",
            env={"ADMIN": "k"} if env is None else env,
        ).argv
    )


def test_every_planned_argument_is_kept_in_order_and_only_listed_ones_change() -> None:
    argv = _command()
    assert argv == [
        "/bin/tritonserver",
        "--model-repository=gs://models/repo",
        "--model-control-mode=poll",
        "--http-port=1",
        "--grpc-port=2",
        "--metrics-port=3",
        "--http-restricted-api=model-repository:key=k",  # $(VAR) expanded as the kubelet does
        "--http-address=127.0.0.1",
        "--grpc-address=127.0.0.1",
        "--metrics-address=127.0.0.1",
        "--backend-directory=/b",
    ]


def test_every_substitution_has_its_reason_in_the_table() -> None:
    command = sandbox_command(
        PLANNED,
        binary=Path("/bin/tritonserver"),
        backends=Path("/b"),
        ports=Ports(1, 2, 3),
        repository="gs://models/repo",
        env={"ADMIN": "k"},
    )
    with SUBSTITUTIONS.open(newline="") as handle:
        rows = {row["what"]: row["reason"] for row in csv.DictReader(handle)}
    assert all(rows[s.what] == s.reason and s.reason for s in command.substitutions)
    assert {"binary", "--http-port", "--model-repository gs://", "$(VAR)"} <= {
        s.what for s in command.substitutions
    }
    assert all("=k" not in s.sandbox for s in command.substitutions)  # the secret is masked


def test_a_planned_variable_that_the_env_does_not_set_is_refused() -> None:
    with pytest.raises(SandboxError, match=r"names \$\(ADMIN\)"):
        _command(env={})


def test_a_planned_container_that_is_not_tritonserver_is_refused() -> None:
    with pytest.raises(SandboxError, match="does not run tritonserver"):
        _command(replace(PLANNED, args=("sh", "-c", "true")))


@pytest.mark.parametrize(
    ("log", "names"),
    [
        ("tritonserver: unrecognized option '--bogus=1'", ["rejects the planned argument"]),
        (
            'E1207 tritonserver.cc:2607] "Internal: Could not get MetaData for bucket with name '
            "models : Permanent error in GetBucketMetadata: {...sa@p does not have "
            "storage.buckets.get access to the Google Cloud Storage bucket. Permission "
            "'storage.buckets.get' denied on resource (or it may not exist).",
            ["refused storage.buckets.get", "sa@p.iam.gserviceaccount.com", "roles/storage"],
        ),
        (
            "Internal: Unable to create S3 filesystem client. Check account credentials.",
            ["cannot read gs://models", "Unable to create S3 filesystem client"],
        ),
    ],
)
def test_a_failed_start_names_the_stack_the_cause_and_where_it_is_planned(
    log: str, names: list[str]
) -> None:
    error = planned_failure(PLANNED, log)
    assert isinstance(error, PlannedTritonFailed) and error.exit_code == 1
    assert error.cause.startswith("s: ") and "components/triton.py:1" in error.cause
    assert all(name in error.cause for name in names), error.cause
    assert error.fix


def test_the_shipped_plans_read_as_planned_tritons(plans: dict[str, Plan]) -> None:
    read = {stack: triton_of(plan) for stack, plan in plans.items()}
    assert all(t.args[0] == "tritonserver" for t in read.values())
    assert read["gcp-standby"].reads_store and read["gcp-standby"].copy is None
    assert read["gcp-standby"].grants["fraud-scoring-models-usc1"] == (
        "roles/storage.legacyBucketReader",
        "roles/storage.objectViewer",
    )
    aws = read["aws-primary"]
    assert aws.repository == "s3://fraud-scoring-models-use1" and aws.env["AWS_DEFAULT_REGION"]
    documents = [json.loads(d) for d in aws.grants["fraud-scoring-models-use1"]]
    actions = {a for d in documents for s in d["Statement"] for a in s["Action"]}
    assert {"s3:ListBucket", "s3:GetObject"} <= actions
    azure = read["azure-standby"]
    assert not azure.reads_store and azure.copy is not None and not azure.token_mounted
    # The managed identity federated to Triton's service account, found by what its role
    # assignments depend on (its principal ID is known only after deploy).
    assert azure.grants == {"fraudscoringmodelseus": ("Storage Blob Data Reader",)}
    assert read["azure-edge"].grants == {"fraudscoringmodelsla": ("Storage Blob Data Reader",)}
    oci = read["oci-standby"]
    assert oci.copy is not None and oci.copy.token_auth  # review J2: it signs in with the token
    assert oci.token_mounted
    assert azure.copy.token_auth is False and read["gcp-edge"].copy is not None
    assert not read["gcp-edge"].copy.token_auth
    assert all(t.readiness_urls and t.secret_env == ("TRITON_ADMIN_KEY",) for t in read.values())


Change = Callable[[PlannedTriton], PlannedTriton]


def _up_with(
    project: Project, monkeypatch: pytest.MonkeyPatch, stacks: list[str], change: Change
) -> PlannedTritonFailed:
    """`sandbox up` of `stacks` with each planned Triton changed; the failure it raised."""
    read = sandbox_plan.planned_triton
    monkeypatch.setattr(sandbox_plan, "planned_triton", lambda *a: change(read(*a)))
    sandbox = sandbox_for(project)
    try:
        with pytest.raises(PlannedTritonFailed) as caught:
            start_sandbox(project, stacks, lambda _line: None)
    finally:
        leftover = sandbox.down()
    assert leftover == [], f"a failed up left {leftover} running"
    assert sandbox.running() is None
    return caught.value


@pytest.fixture(scope="module")
def copied(tmp_path_factory: pytest.TempPathFactory) -> Project:
    return copied_project(tmp_path_factory.mktemp("planned-project"))


def test_review_j1_reverted_fails_sandbox_up_naming_the_missing_permission(
    copied: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    """gcp-standby's identity with objectViewer only (the plan before the J1 fix): Triton's
    GCS client is refused storage.buckets.get by the gate and the server cannot start."""

    def viewer_only(planned: PlannedTriton) -> PlannedTriton:
        grants = {b: tuple(r for r in g if "legacy" not in r) for b, g in planned.grants.items()}
        return replace(planned, grants=grants)

    failed = _up_with(copied, monkeypatch, ["gcp-standby"], viewer_only)
    assert failed.cause.startswith("gcp-standby: ")
    assert "refused storage.buckets.get" in failed.cause
    assert "components/triton.py:" in failed.cause and "storage.buckets.get" in failed.fix


def test_a_planned_argument_triton_rejects_fails_sandbox_up_naming_it(
    copied: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    def bogus(planned: PlannedTriton) -> PlannedTriton:
        return replace(planned, args=(*planned.args, "--model-contrl-mode=poll"))

    failed = _up_with(copied, monkeypatch, ["aws-primary"], bogus)
    assert "aws-primary: Triton rejects the planned argument '--model-contrl-mode=poll'" in (
        failed.cause
    )


def test_a_dropped_s3_permission_fails_sandbox_up_naming_the_stack(
    copied: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The planned IRSA policy without s3:ListBucket: moto refuses Triton's HeadBucket."""

    def no_list(planned: PlannedTriton) -> PlannedTriton:
        def drop(document: str) -> str:
            parsed = json.loads(document)
            parsed["Statement"] = [
                s for s in parsed["Statement"] if "s3:ListBucket" not in s["Action"]
            ]
            return json.dumps(parsed)

        grants = {b: tuple(map(drop, g)) for b, g in planned.grants.items()}
        return replace(planned, grants=grants)

    failed = _up_with(copied, monkeypatch, ["aws-primary"], no_list)
    assert failed.cause.startswith("aws-primary: Triton cannot read s3://fraud-scoring-models")


def test_a_dropped_azure_role_fails_sandbox_up_naming_the_stack(
    copied: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    """azure-edge's identity without its Storage Blob Data Reader assignment: the permission
    gate refuses the copy step's List Blobs with Azure's own 403, so the sidecar never finds
    the model and Triton is held."""
    monkeypatch.setattr(copy_step, "SYNC_TIMEOUT_S", 8.0)

    def no_reader(planned: PlannedTriton) -> PlannedTriton:
        return replace(planned, grants={})

    sandbox = sandbox_for(copied)
    read = sandbox_plan.planned_triton
    monkeypatch.setattr(sandbox_plan, "planned_triton", lambda *a: no_reader(read(*a)))
    try:
        with pytest.raises(SandboxError) as caught:
            start_sandbox(copied, ["azure-edge"], lambda _line: None)
    finally:
        leftover = sandbox.down()
    assert leftover == [] and sandbox.running() is None
    cause = caught.value.cause
    assert "azure-edge's model-sync sidecar found no fraud-scorer" in cause
    assert "AuthorizationPermissionMismatch" in cause, cause


def test_a_copy_signing_in_with_an_unmounted_token_fails_sandbox_up_naming_it(
    copied: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Review J2 on a stack the sandbox runs: azure-edge's copy step made to sign in with the
    pod's service-account token while the pod mounts none (oci-standby before its fix)."""

    def unmounted(planned: PlannedTriton) -> PlannedTriton:
        assert planned.copy is not None
        return replace(planned, copy=replace(planned.copy, token_auth=True), token_mounted=False)

    failed = _up_with(copied, monkeypatch, ["azure-edge"], unmounted)
    assert failed.cause.startswith("azure-edge: the copy step signs in with the pod's service-")
    assert (
        "automountServiceAccountToken" in failed.cause and "components/triton.py:" in failed.cause
    )
    assert "automountServiceAccountToken: true" in failed.fix


def test_the_token_file_exists_only_where_the_plan_mounts_it(
    copied: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    """azure-edge's copy made to sign in with a mounted token: the sandbox writes the pod's
    token file, the sidecar signs in with it (and fails a round once it is gone)."""

    def mounted(planned: PlannedTriton) -> PlannedTriton:
        if planned.stack != "azure-edge":
            return planned
        assert planned.copy is not None
        return replace(planned, copy=replace(planned.copy, token_auth=True), token_mounted=True)

    read = sandbox_plan.planned_triton
    monkeypatch.setattr(sandbox_plan, "planned_triton", lambda *a: mounted(read(*a)))
    sandbox = sandbox_for(copied)
    try:
        start_sandbox(copied, ["azure-edge", "aws-primary"], lambda _line: None)
        state = sandbox.running()
        assert state is not None
        token = sandbox.root / "stacks" / "azure-edge" / copy_step.TOKEN_FILE
        assert (
            token.is_file()
            and not (sandbox.root / "stacks" / "aws-primary" / "serviceaccount").exists()
        )
        sync = next(c for c in state.components if c.kind == "sync" and c.stack == "azure-edge")
        assert str(token) in Path(f"/proc/{sync.pid}/cmdline").read_bytes().decode().split("\0")
        whats = {s["what"] for s in state.substitutions["azure-edge"]}
        assert "service-account token" in whats
        assert "service-account token" not in {
            s["what"] for s in state.substitutions["aws-primary"]
        }
    finally:
        sandbox.down()
    assert sandbox.running() is None


def test_a_sync_round_without_its_token_cannot_sign_in(tmp_path: Path) -> None:
    """The sidecar's sign-in reads the token at every round: no file, or an empty one, fails
    the round before the store is asked."""
    token = tmp_path / "token"
    for _ in range(2):
        with pytest.raises(FileNotFoundError, match="no service-account token"):
            sync_once("gs://none", "m", tmp_path / "staging", tmp_path / "repository", token)
        token.write_text("  \n")
    assert not (tmp_path / "staging").exists()


def test_a_hung_triton_failing_its_liveness_probe_is_killed_and_restarted(
    copied: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    """aws-primary planned with a 1 s liveness period and a threshold of 2 (the shipped plan:
    10 s and 3), then frozen: the sandbox's kubelet kills it after two failed probes and
    restarts it after its 10 s back-off, ready again and counted as a restart."""

    def quick(planned: PlannedTriton) -> PlannedTriton:
        probes = dict(planned.probes)
        liveness = dict(probes["livenessProbe"], periodSeconds=1, failureThreshold=2)
        return replace(planned, probes={**probes, "livenessProbe": liveness})

    read = sandbox_plan.planned_triton
    monkeypatch.setattr(sandbox_plan, "planned_triton", lambda *a: quick(read(*a)))
    sandbox = sandbox_for(copied)
    try:
        start_sandbox(copied, ["aws-primary"], lambda _line: None)
        target = SandboxTarget(sandbox)
        frozen = target._component("aws-primary").pid
        target.hang("aws-primary")
        deadline = time.monotonic() + 45
        while time.monotonic() < deadline and not (
            target.restarts("aws-primary") == 1 and target.health("aws-primary")
        ):
            time.sleep(0.5)
        assert target.health("aws-primary") and target._component("aws-primary").pid != frozen
        log = (sandbox.root / "kubelet.log").read_text()
        assert f"(pid {frozen}) failed its liveness probe 2 times in a row: killed" in log
        assert f"(pid {frozen}) exited: restart in 10 s" in log
    finally:
        sandbox.down()
    assert sandbox.running() is None
