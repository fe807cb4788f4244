"""The achievable-RTO estimate against figures computed by hand from the catalog rows."""

from __future__ import annotations

import csv
import math
from pathlib import Path

from components.planning.runner import Plan
from components.stack_config import Project

FIGURES = (
    Path(__file__).resolve().parents[2] / "components" / "catalog" / "data" / "rto_figures.csv"
)


def _row(cloud: str, figure: str, scope: str = "") -> float:
    with FIGURES.open() as handle:
        for row in csv.DictReader(handle):
            if row["cloud"] == cloud and row["figure"] == figure and row["scope"] == scope:
                return float(row["value"])
    raise AssertionError(f"no {cloud} {figure} {scope} row")


def test_warm_standby_of_a_one_node_primary_waits_only_for_dns(project: Project) -> None:
    # aws-primary runs one GPU node minimum, which a warm standby already has ready: the
    # recovery is Route 53 detecting the failure (10 s x 3) and the 60 s TTL running out.
    rto = project.stack("gcp-standby").rto
    assert rto is not None
    assert [p.name for p in rto.phases] == ["DNS failure detection", "DNS TTL expiry"]
    assert rto.total_s == 10 * 3 + 60


def test_pilot_light_adds_node_image_model_download_and_load(project: Project) -> None:
    rto = project.stack("azure-standby").rto
    assert rto is not None
    size_mib = 480
    phases = [
        10 * 3,
        60,
        _row("azure", "gpu_node_provisioning", "Standard_NC"),
        _row("all", "triton_image") / _row("azure", "image_pull"),
        _row("all", "pod_start"),
        size_mib / _row("azure", "model_download"),
        _row("azure", "model_load") * size_mib / 1024,
    ]
    assert [p.seconds for p in rto.phases] == [round(p, 1) for p in phases]
    assert rto.total_s == math.ceil(sum(round(p, 1) for p in phases)) == 635
    assert all(p.source.startswith(("https://", "stack config")) for p in rto.phases)


def test_the_estimate_is_a_stack_output_and_listed(plans: dict[str, Plan]) -> None:
    output = plans["azure-standby"].outputs["rto_estimate"]
    assert output["level"] == "pilot-light"
    assert output["total_s"] == math.ceil(sum(p["seconds"] for p in output["phases"]))
    assert "rto_estimate" not in plans["aws-primary"].outputs
