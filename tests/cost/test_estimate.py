"""Cost from the planned resources: totals are the sums of their lines, node lines follow the
pool bounds and the profile, and a price change on one cloud moves exactly that cloud's lines."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from components.catalog import instance_types, pricing, service_prices
from components.cost.estimate import estimate
from components.cost.lines import StackCost
from components.cost.profile import HOURS_PER_MONTH, Profile
from components.planning.runner import Plan
from components.stack_config import Project
from tests.conftest import ALL_STACKS


def costs_of(project: Project, plans: dict[str, Plan], profile: Profile) -> dict[str, StackCost]:
    """The estimate of every shipped stack at `profile`."""
    return {name: estimate(project.stack(name), plans[name], profile) for name in ALL_STACKS}


@pytest.fixture(scope="module")
def costs(project: Project, plans: dict[str, Plan]) -> dict[str, StackCost]:
    """Every shipped stack at the default profile (the minimum around the clock)."""
    return costs_of(project, plans, Profile())


@pytest.mark.parametrize("stack", ALL_STACKS)
def test_totals_equal_the_sum_of_their_lines(costs: dict[str, StackCost], stack: str) -> None:
    cost = costs[stack]
    assert cost.lines or cost.unpriced
    assert cost.monthly == pytest.approx(
        sum(line.unit_price * line.quantity for line in cost.lines)
    )
    assert cost.monthly_min == pytest.approx(sum(line.monthly_min for line in cost.lines))
    assert cost.monthly_max == pytest.approx(sum(line.monthly_max for line in cost.lines))
    assert cost.monthly_min <= cost.monthly <= cost.monthly_max


def test_primary_lines_follow_the_planned_resources(costs: dict[str, StackCost]) -> None:
    """aws-primary: GPU pool 1..4 g4dn.xlarge, system pool 2..3 m6i.large, one EKS control
    plane, one NLB, two NAT gateways, four Route 53 checks (two watching other clouds)."""
    lines = costs["aws-primary"].lines
    gpu = next(line for line in lines if line.description == "inference g4dn.xlarge")
    rate = instance_types("aws")[0].usd_per_hour  # g4dn.xlarge us-east-1, first catalog row
    assert gpu.nodes == (1, 4)
    assert gpu.monthly == pytest.approx(rate * 1 * HOURS_PER_MONTH)
    assert gpu.monthly_max == pytest.approx(rate * 4 * HOURS_PER_MONTH)
    assert set(gpu.models) == {"on-demand", "spot", "reserved-1y", "reserved-3y"}
    assert gpu.models["spot"] == pytest.approx(
        pricing.instance_price("aws", "g4dn.xlarge", "us-east-1", "spot").usd_per_hour * 730
    )
    system = next(line for line in lines if line.description == "system m6i.large")
    assert system.nodes == (2, 3) and system.quantity == 2 * HOURS_PER_MONTH
    kinds = [line.kind for line in lines]
    assert kinds.count("control-plane") == 1 and kinds.count("load-balancer") == 1
    assert kinds.count("nat-gateway") == 2 and kinds.count("dns-health-check") == 4
    checks = sorted(line.unit_price for line in lines if line.kind == "dns-health-check")
    # calculated 0.50; AWS endpoint 0.50 + fast interval 1.00; other clouds 0.75 + 2.00 each
    assert checks == [0.5, 1.5, 2.75, 2.75]


def test_a_pilot_light_standby_runs_no_gpu_node_at_the_minimum(
    costs: dict[str, StackCost],
) -> None:
    gpu = next(line for line in costs["azure-standby"].lines if "NC4as_T4" in line.description)
    assert gpu.nodes == (0, 4) and gpu.monthly == 0 and gpu.monthly_max > 0


def test_replication_egress_bills_at_the_source_schedule_times_model_size(
    costs: dict[str, StackCost],
) -> None:
    """gcp-standby's transfer job runs every 3600 s: 730 runs of 480 MiB leave S3."""
    egress = next(
        line for line in costs["gcp-standby"].lines if line.description == "egress S3->GCS"
    )
    assert egress.cloud == "aws" and egress.unit == "GB"
    assert egress.quantity == pytest.approx(730 * 480 / 1024)
    assert egress.unit_price == service_prices.service_price("aws", "egress", "internet").usd


def test_what_cannot_be_priced_is_listed_with_its_reason(costs: dict[str, StackCost]) -> None:
    reasons = [u.reason for u in costs["gcp-edge"].unpriced]
    assert any("subscription" in r for r in reasons)


def test_the_profile_moves_only_inference_pools(
    project: Project, plans: dict[str, Plan], costs: dict[str, StackCost]
) -> None:
    busy = costs_of(project, plans, Profile("fraction", (1.0,) * 24))["aws-primary"]
    for before, after in zip(costs["aws-primary"].lines, busy.lines, strict=True):
        if before.description.startswith("inference"):
            assert after.monthly == pytest.approx(before.monthly_max)
        else:
            assert after.monthly == pytest.approx(before.monthly)


@pytest.mark.parametrize("pct", [25.0, -10.0])
def test_a_price_change_on_one_cloud_moves_exactly_its_lines(
    project: Project,
    plans: dict[str, Plan],
    costs: dict[str, StackCost],
    monkeypatch: pytest.MonkeyPatch,
    pct: float,
) -> None:
    """Every AWS catalog row (instances and services) x (1 + pct/100): every line AWS bills
    moves by pct %, every other line stays."""
    factor = 1 + pct / 100
    aws_instances = tuple(
        dataclasses.replace(t, usd_per_hour=t.usd_per_hour * factor) for t in instance_types("aws")
    )
    rows = tuple(
        dataclasses.replace(p, usd=p.usd * factor) if p.cloud == "aws" else p
        for p in service_prices.service_prices()
    )
    real = pricing.instance_types
    monkeypatch.setattr(
        pricing, "instance_types", lambda c: aws_instances if c == "aws" else real(c)
    )
    monkeypatch.setattr(service_prices, "service_prices", lambda: rows)
    changed = costs_of(project, plans, Profile())
    moved = 0
    for name in ALL_STACKS:
        for before, after in zip(costs[name].lines, changed[name].lines, strict=True):
            expected = factor if before.cloud == "aws" else 1.0
            assert after.monthly == pytest.approx(before.monthly * expected), before
            assert after.models == pytest.approx(
                {m: None if v is None else v * expected for m, v in before.models.items()}
            )
            moved += before.cloud == "aws" and before.monthly > 0
    assert moved >= 10  # the check bites: aws-primary, the edge and gcp-standby's egress


def test_a_what_if_scales_exactly_one_clouds_lines(costs: dict[str, StackCost]) -> None:
    gcp = costs["gcp-standby"]
    scaled = gcp.scaled({"aws": 1.4})
    aws_part = sum(line.monthly for line in gcp.lines if line.cloud == "aws")
    assert aws_part > 0
    assert scaled.monthly == pytest.approx(gcp.monthly + 0.4 * aws_part)


def test_prices_older_than_180_days_warn(costs: dict[str, StackCost]) -> None:
    cost = costs["aws-primary"]
    assert cost.stale(dt.date(2026, 12, 1)) == []
    late = cost.stale(dt.date(2027, 6, 1))  # 2026-11-26 + 187 days
    assert late and all("older than 180 days" in w for w in late)
