"""$ per 1M inferences and the Pareto front: the front of a hand-made set, the cost formula, GPU
rows expanded across clouds, sandbox figures kept apart, bad rows named."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from components.catalog.pricing import instance_price
from components.cost.inference import (
    SANDBOX,
    Point,
    pareto,
    price_points,
    read_measurements,
    sandbox_points,
)
from components.errors import InputError
from runbooks.reports.inference import html
from tests.conftest import ROOT

HEADER = "instance_type,gpu_model,model,throughput_per_s,p99_ms,per,basis,source,as_of\n"
SRC = "https://example.org/bench,2026-11-01"


def point(key: str, cost: float, p99: float, model: str = "m") -> Point:
    return Point(model, "", key, "r", "T4", 1, 1.0, p99, 1.0, cost, "measured", "", "", "on-demand")


def test_front_of_a_hand_made_set() -> None:
    """a (1, 30) and c (3, 10) and d (5, 5) trade cost for latency: the front. b (2, 40) is
    beaten by a on both; e (5, 20) by c; f (1, 30) ties a: neither dominates the other."""
    points = [point("a", 1, 30), point("b", 2, 40), point("c", 3, 10), point("d", 5, 5),
              point("e", 5, 20), point("f", 1, 30), point("x", 0.5, 1, model="other")]  # fmt: skip
    front = pareto(points)
    assert sorted(front.front["m"]) == ["a", "c", "d", "f"]
    assert front.dominated["m"] == {"b": "a", "e": "c"}
    assert front.front["other"] == ["x"]  # another ML model is never compared with these


def test_cost_per_million_from_the_catalog_price(tmp_path: Path) -> None:
    csv_file = tmp_path / "m.csv"
    csv_file.write_text(HEADER + f"g4dn.xlarge,,resnet,500,9,instance,measured,{SRC}\n")
    [p] = price_points(read_measurements(csv_file))
    rate = instance_price("aws", "g4dn.xlarge", "us-east-1", "on-demand").usd_per_hour
    assert p.region == "us-east-1"  # the cheapest of its catalog regions
    assert p.usd_per_million == pytest.approx(rate / (500 * 3600) * 1e6)


def test_a_gpu_row_applies_to_every_cloud_scaled_by_gpu_count(tmp_path: Path) -> None:
    csv_file = tmp_path / "m.csv"
    csv_file.write_text(HEADER + f",T4,resnet,100,9,gpu,estimate,{SRC}\n")
    points = {p.instance_type: p for p in price_points(read_measurements(csv_file))}
    assert {"g4dn.xlarge", "Standard_NC4as_T4_v3", "n1-standard-4"} <= set(points)
    assert points["g4dn.12xlarge"].throughput_per_s == 400  # 4 T4s
    assert {p.cloud for p in points.values()} == {"aws", "azure", "gcp"}


def test_the_shipped_example_ranks_and_plots() -> None:
    front = pareto(price_points(read_measurements(ROOT / "examples" / "measurements.csv")))
    keys = front.front["resnet50-onnx"]
    assert keys and all(k not in front.dominated["resnet50-onnx"] for k in keys)
    page = html(front, "example")
    assert page.count('class="front"') >= len(keys) and "<svg" in page


@pytest.mark.parametrize(
    ("row", "field"),
    [
        ("g4dn.xlarge,,m,-3,9,instance,measured", "throughput_per_s"),
        ("g4dn.xlarge,,m,3,abc,instance,measured", "p99_ms"),
        ("g4dn.xlarge,,m,3,9,instance,guessed", "basis"),
        (",T4,m,3,9,instance,measured", "per"),
    ],
)
def test_bad_rows_name_the_line_and_column(tmp_path: Path, row: str, field: str) -> None:
    csv_file = tmp_path / "m.csv"
    csv_file.write_text(HEADER + f"{row},{SRC}\n")
    with pytest.raises(InputError) as caught:
        read_measurements(csv_file)
    assert caught.value.field == field and caught.value.file == f"{csv_file}:2"


def test_sandbox_figures_are_labelled_and_never_priced(tmp_path: Path) -> None:
    rows = [(0, 10, 2000, 12.0, {"a": 1.0}), (10, 20, 2000, 30.0, {"a": 0.5, "b": 0.5}),
            (20, 25, 1000, 14.0, {"b": 1.0})]  # fmt: skip
    phases = [
        {"start_s": s, "end_s": e, "sent": n, "p99_ms": p99, "share": share}
        for s, e, n, p99, share in rows
    ]
    folder = tmp_path / "drills" / "d1"
    folder.mkdir(parents=True)
    ex = {"target": "sandbox", "from": "a", "to": "b", "phases": phases}
    (folder / "journal.json").write_text(json.dumps({"exitplan": ex}))
    points = {p.instance_type: p for p in sandbox_points([folder / "journal.json"])}
    assert points["sandbox:a"].throughput_per_s == 200 and points["sandbox:b"].p99_ms == 14.0
    assert all(p.basis == SANDBOX and p.usd_per_million is None for p in points.values())
    front = pareto([point("g", 1, 5)], list(points.values()))
    assert front.front == {"m": ["g"]}  # the sandbox is not on the front
