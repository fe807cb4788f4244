"""GPU driver against Triton's CUDA (review M9): the catalog's sourced driver branches per cloud
setting and per NGC release, and the policy rule that fails a stack whose GPU node image's driver
cannot run its Triton image."""

from __future__ import annotations

from dataclasses import replace

import pytest

from components.catalog import drivers
from components.planning.runner import Plan
from components.policy import driver_rules
from tests.policy.helpers import edit, violations

DEPLOYMENT = "kubernetes:apps/v1:Deployment"
NODE_SELECTOR = "spec.template.spec.nodeSelector"
EKS_GPU = ("aws", "AL2023_x86_64_NVIDIA")


def test_the_catalog_holds_sourced_branches_for_the_shipped_settings() -> None:
    rows = drivers.gpu_drivers()
    assert rows[EKS_GPU].branch == 580
    assert rows[("azure", "Install")].branch == 580
    assert rows[("gcp", "LATEST")].branch == 570
    need = drivers.driver_requirements()["24.10"]
    assert (need.cuda, need.min_branch, need.compat_branches) == ("12.6.2", 560, (470, 525, 535))
    assert all(r.provenance.source.startswith("https://") for r in rows.values())


@pytest.mark.parametrize(
    ("branch", "gpu", "runs"),
    [
        (580, "T4", True),  # native: at or above R560
        (560, "T4", True),
        (535, "T4", True),  # forward compatibility on a data-centre GPU
        (535, "RTX-4090", False),  # forward compatibility needs a data-centre GPU
        (550, "T4", False),  # below R560 and not a forward-compatible branch
        (545, "A10", False),  # left out: the notes also call R545 not forward-compatible
    ],
)
def test_driver_requirement_native_or_forward_compatible(branch: int, gpu: str, runs: bool) -> None:
    problem = drivers.driver_requirements()["24.10"].problem(branch, gpu)
    assert (problem is None) is runs, problem
    if not runs:
        assert f"R{branch}" in str(problem) and "R560" in str(problem)


def test_every_shipped_stack_passes_and_only_oke_is_unverified(plans: dict[str, Plan]) -> None:
    for stack, plan in plans.items():
        assert violations(plan, "gpu-driver-meets-triton") == [], stack
    unverified = {
        stack: [v.resource for v in violations(plan, "gpu-driver-sourced")]
        for stack, plan in plans.items()
    }
    assert {s: r for s, r in unverified.items() if r} == {
        "oci-standby": ["fraud-scoring-standby-gpu"]
    }


def _older(monkeypatch: pytest.MonkeyPatch, branch: int) -> None:
    """The EKS NVIDIA AMI row of the catalog, with an older driver branch."""
    rows = dict(drivers.gpu_drivers())
    rows[EKS_GPU] = replace(rows[EKS_GPU], branch=branch)
    monkeypatch.setattr(driver_rules, "driver_rows", lambda: rows)


def test_an_older_driver_row_fails_the_stack(
    plans: dict[str, Plan], monkeypatch: pytest.MonkeyPatch
) -> None:
    _older(monkeypatch, 550)
    found = violations(plans["aws-primary"], "gpu-driver-meets-triton")
    assert [v.resource for v in found] == ["fraud-scoring-gpu"]
    assert "R550" in found[0].message and "tritonserver:24.10-py3" in found[0].message
    assert found[0].enforcement == "mandatory"


def test_a_forward_compatible_driver_passes_only_on_a_data_centre_gpu(
    plans: dict[str, Plan], monkeypatch: pytest.MonkeyPatch
) -> None:
    _older(monkeypatch, 535)
    assert violations(plans["aws-primary"], "gpu-driver-meets-triton") == []
    consumer = edit(
        plans["aws-primary"],
        DEPLOYMENT,
        NODE_SELECTOR,
        {"exitplan.io/gpu-model": "RTX-4090"},
        lambda r: "tritonserver" in str(r.inputs),
    )
    found = violations(consumer, "gpu-driver-meets-triton")
    assert found and "RTX-4090" in found[0].message
