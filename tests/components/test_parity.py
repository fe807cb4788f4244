"""Parity: equal stacks pass; another Triton version, GPU memory or model version is drift;
a Triton other than the sandbox's is a named gap."""

from __future__ import annotations

import asyncio
import copy
import threading
from typing import Any

import pytest

from components import catalog
from components.planning.parity import UNVERIFIED_TRITON_GAP, compare
from components.planning.runner import Plan, plan_stack
from components.stack_config import Project
from tests.conftest import ALL_STACKS, MakeProject, service, service_config


def test_shipped_stacks_are_equivalent(plans: dict[str, Plan]) -> None:
    report = compare([plans[s] for s in ALL_STACKS])
    assert report.drift == []
    statuses = {r.row: r.status for r in report.rows}
    assert statuses["triton version"] == "equal"
    assert statuses["ports"] == "equal" and statuses["probes"] == "equal"
    assert statuses["identity kind"] == "expected"
    assert statuses["serving"] == "expected", "edge zones without GPUs serve on CPU"
    assert statuses["models"] == "equal"
    assert statuses["estimated RTO (s)"] == "info"
    assert {r.row for r in report.rows} >= {
        "triton version",
        "models",
        "GPU model",
        "GPU memory (GiB)",
        "max GPUs",
        "Kubernetes minor",
        "ports",
        "probes",
        "identity kind",
        "encryption",
        "public exposure",
    }


def _edit_triton(config: dict[str, Any]) -> None:
    service(config)["triton"]["version"] = "2.59.0"


def _edit_gpu_memory(config: dict[str, Any]) -> None:
    gpu = service(config)["gpu"]
    gpu.update(model="A100-80GB", min_memory_gib=80)


def _edit_model_version(config: dict[str, Any]) -> None:
    service(config)["triton"]["models"][0]["version"] = 4


@pytest.mark.parametrize(
    ("edit", "row"),
    [
        (_edit_triton, "triton version"),
        (_edit_gpu_memory, "GPU memory (GiB)"),
        (_edit_model_version, "models"),
    ],
)
def test_a_differing_stack_is_drift_naming_the_row_and_stack(
    make_project: MakeProject, plans: dict[str, Plan], edit: Any, row: str
) -> None:
    changed = service_config()
    service(changed).update(provider="azure", region="eastus", model_repository="drifted-models")
    edit(changed)
    project = make_project({"azure-drifted": changed})
    drifted = plan_stack(project, project.stack("azure-drifted"))
    report = compare([plans["aws-primary"], drifted, plans["gcp-standby"]])
    drift = {r.row: r for r in report.drift}
    assert row in drift
    assert "azure-drifted" in drift[row].reason
    assert report.as_dict()["ok"] is False


def test_per_cloud_rows_still_must_agree_within_a_cloud(plans: dict[str, Plan]) -> None:
    aws = plans["aws-primary"]
    other = Plan(
        stack="aws-other",
        resources=aws.resources,
        outputs={
            **aws.outputs,
            "parity": {**aws.outputs["parity"], "identity kind": "pod-identity"},
        },
    )
    report = compare([aws, other])
    assert [r.row for r in report.drift] == ["identity kind"]


def test_an_edge_stack_cannot_hide_drift_among_the_regional_stacks(plans: dict[str, Plan]) -> None:
    aws = plans["aws-primary"]
    odd = Plan(
        stack="aws-odd",
        resources=aws.resources,
        outputs={**aws.outputs, "parity": {**aws.outputs["parity"], "GPU model": "A10G"}},
    )
    report = compare([aws, odd, plans["azure-edge"]])
    assert [r.row for r in report.drift] == ["GPU model"]
    assert "aws-odd" in report.drift[0].reason or "aws-primary" in report.drift[0].reason


def test_the_models_row_shows_each_stacks_model_digest(make_project: MakeProject) -> None:
    pinned = service_config()
    digest = "sha256:" + "ab" * 32
    service(pinned)["triton"]["models"][0]["digest"] = digest
    other = service_config()
    service(other)["triton"]["models"][0]["digest"] = "sha256:" + "cd" * 32
    project = make_project({"pinned": pinned, "other": other})
    report = compare([plan_stack(project, project.stack(n)) for n in ("pinned", "other")])
    models = next(r for r in report.rows if r.row == "models")
    assert models.values["pinned"] == "fraud-scorer:3@sha256:abababababab"
    assert models.status == "drift", "two stacks serving different model bytes"


def test_a_plan_runs_after_asyncio_run_cleared_the_event_loop(project: Project) -> None:
    def after_asyncio_run() -> None:
        asyncio.run(asyncio.sleep(0))  # as the load generator does: leaves no loop set
        results.append(len(plan_stack(project, project.stack("aws-primary")).resources))

    results: list[int] = []
    worker = threading.Thread(target=after_asyncio_run)  # a fresh thread: no loop of its own
    worker.start()
    worker.join()
    assert results and results[0] > 0


def test_a_standby_naming_its_own_gpu_is_expected_not_drift(plans: dict[str, Plan]) -> None:
    """OCI offers no T4: oci-standby names an A10 (exitplan:standby.gpu), which parity
    excuses with its reason; the same difference without that setting is drift."""
    rows = {r.row: r for r in compare([plans["aws-primary"], plans["oci-standby"]]).rows}
    assert rows["GPU model"].status == "expected"
    assert "names its own GPU" in rows["GPU model"].reason
    assert rows["standby GPU"].values["oci-standby"].startswith("1x A10")
    outputs = {**plans["oci-standby"].outputs, "standby_gpu": None}
    unexcused = Plan("oci-standby", plans["oci-standby"].resources, outputs)
    rows = {r.row: r for r in compare([plans["aws-primary"], unexcused]).rows}
    assert rows["GPU model"].status == "drift"


def test_shipped_stacks_run_the_triton_the_sandbox_verifies(plans: dict[str, Plan]) -> None:
    report = compare([plans[s] for s in ALL_STACKS])
    row = next(r for r in report.rows if r.row == "triton version")
    assert set(row.values.values()) == {catalog.sandbox_triton().triton_version}
    assert UNVERIFIED_TRITON_GAP not in report.gaps


def test_a_stack_pinning_another_triton_is_a_gap_naming_it(
    make_project: MakeProject, plans: dict[str, Plan]
) -> None:
    """Both stacks on 2.59.0 are equivalent to each other (no drift), but neither runs the
    Triton the sandbox verifies: parity names them in a gap."""
    pinned = service_config()
    service(pinned)["triton"]["version"] = "2.59.0"
    twin = copy.deepcopy(pinned)
    service(twin).update(provider="azure", region="eastus", model_repository="twin-models")
    project = make_project({"pinned": pinned, "twin": twin})
    report = compare([plan_stack(project, project.stack(n)) for n in ("pinned", "twin")])
    assert report.drift == []
    gap = report.gaps[UNVERIFIED_TRITON_GAP]
    assert "pinned runs 2.59.0" in gap and "twin runs 2.59.0" in gap
    assert f"verifies Triton {catalog.sandbox_triton().triton_version}" in gap
    mixed = compare([plans["aws-primary"], plan_stack(project, project.stack("pinned"))])
    assert [r.row for r in mixed.drift] == ["triton version"]
    assert "aws-primary" not in mixed.gaps[UNVERIFIED_TRITON_GAP]


def test_the_model_config_row_compares_what_stacks_promise_triton(
    plans: dict[str, Plan],
) -> None:
    """A stack whose Deployment promises Triton another model configuration is drift."""
    report = compare([plans["aws-primary"], plans["gcp-standby"]])
    row = next(r for r in report.rows if r.row == "model config")
    assert row.status == "equal"
    assert row.values["aws-primary"] == "max_batch_size=32 dynamic_batching=on"
    odd = copy.deepcopy(plans["gcp-standby"])
    deployment = next(iter(odd.of_type("kubernetes:apps/v1:Deployment")))
    deployment.inputs["metadata"]["annotations"]["exitplan.io/model-config"] = (
        "max_batch_size=32 dynamic_batching=off"
    )
    drift = next(r for r in compare([plans["aws-primary"], odd]).rows if r.row == "model config")
    assert (drift.status, drift.reason) == ("drift", "differs on gcp-standby")
