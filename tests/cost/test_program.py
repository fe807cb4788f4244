"""Any Pulumi program priced from its preview or state (issue 27 item 1): hand-made previews of
programs that are not exitplan's, priced line by line and recomputed here from the catalog's
rows; a state prices as its preview does; what cannot be priced is listed with why; exitplan's
own plans, written as previews, price as `exitplan cost` prices the stacks."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from components.catalog.pricing import instance_price
from components.catalog.service_prices import service_price
from components.cost.estimate import estimate
from components.cost.lines import StackCost
from components.cost.profile import HOURS_PER_MONTH as H
from components.cost.profile import Profile
from components.cost.program import price_program, region_of
from components.cost.pulumi_json import read_program
from components.errors import InputError
from components.planning.runner import Plan
from components.stack_config import Project
from runbooks.cli import app
from runbooks.reports.preview import preview_digest, region_config
from tests.conftest import ALL_STACKS
from tests.cost import pulumi_files as pf
from tests.runbooks.json_contract import validated


def od(cloud: str, kind: str, region: str, model: str = "on-demand") -> float:
    """An instance's hourly rate from the catalog."""
    return instance_price(cloud, kind, region, model).usd_per_hour


def svc(cloud: str, item: str, scope: str) -> float:
    """A service price from the catalog."""
    return service_price(cloud, item, scope).usd


def priced(path: Path) -> StackCost:
    """The program in a preview or state file, priced at the default profile."""
    return price_program(read_program(path), Profile())


def refused(*args: str) -> InputError:
    """The input error (exit 2) `exitplan ARGS` stops with."""
    result = CliRunner().invoke(app, list(args))
    assert isinstance(result.exception, InputError), (result.output, result.exception)
    assert result.exception.exit_code == 2
    return result.exception


def by_resource(cost: StackCost) -> dict[str, float]:
    """$ a month per resource (a resource may have several lines)."""
    found: dict[str, float] = {}
    for line in cost.lines:
        found[line.resource] = found.get(line.resource, 0.0) + line.monthly
    return found


def test_an_ec2_gpu_instance_and_an_eks_node_group_line_by_line(tmp_path: Path) -> None:
    cost = priced(pf.write(tmp_path / "aws.json", pf.preview(pf.aws_program())))
    assert by_resource(cost) == pytest.approx(
        {
            "gpu-box": od("aws", "g5.xlarge", "us-east-1") * H,
            "eks": svc("aws", "control-plane", "eks-standard") * H,
            "gpu-nodes": 2 * od("aws", "g4dn.xlarge", "us-east-1") * H,  # at the minimum
            "nat": svc("aws", "nat-gateway", "nat-gateway") * H,
            "nat-ip": svc("aws", "public-ip", "ipv4") * H,
            "web": svc("aws", "load-balancer", "alb") * H,
            "zone": svc("aws", "dns-zone", "hosted-zone"),
            "assets": 0.0,  # its usage is not in the program: the rate is shown
        }
    )
    assert {line.region for line in cost.lines} == {"us-east-1"}  # the provider's region
    nodes = next(line for line in cost.lines if line.resource == "gpu-nodes")
    assert nodes.monthly_max == pytest.approx(5 * od("aws", "g4dn.xlarge", "us-east-1") * H)
    assert cost.monthly == pytest.approx(sum(by_resource(cost).values()))
    # The log group has no price and is listed; the IAM role is free and is not.
    assert [(u.resource, u.reason) for u in cost.unpriced] == [
        ("logs", "no price for this type in the catalog")
    ]
    assert (cost.stack, cost.kind, cost.cloud) == ("shop/dev", "program", "aws")


def test_a_gke_node_pool_in_zones_by_the_stack_config(tmp_path: Path) -> None:
    document = pf.preview(pf.gke_program(), config={"gcp:region": "us-central1"})
    cost = priced(pf.write(tmp_path / "gke.json", document))
    rate = od("gcp", "g2-standard-8", "us-central1")
    assert by_resource(cost) == pytest.approx(
        {
            "gke": svc("gcp", "control-plane", "gke") * H,
            "l4-pool": 2 * rate * H,  # 1 node per zone in 2 zones
            "nat": svc("gcp", "nat-gateway", "cloud-nat") * H,
        }
    )
    pool = next(line for line in cost.lines if line.resource == "l4-pool")
    assert pool.nodes == (2, 6)
    assert not cost.unpriced


def test_an_aks_spot_pool_in_the_programs_one_region(tmp_path: Path) -> None:
    cost = priced(pf.write(tmp_path / "aks.json", pf.preview(pf.aks_program())))
    system = 2 * od("azure", "Standard_D4s_v5", "eastus") * H
    spot = 3 * od("azure", "Standard_NC4as_T4_v3", "eastus", "spot") * H
    assert by_resource(cost) == pytest.approx(
        {"aks": svc("azure", "control-plane", "aks-standard") * H + system, "t4": spot}
    )
    assert {line.region for line in cost.lines} == {"eastus"}  # "East US", and the pool's
    assert next(line for line in cost.lines if line.resource == "t4").pricing_model == "spot"


def test_a_state_prices_as_its_preview(tmp_path: Path) -> None:
    states = pf.aws_program()
    from_preview = priced(pf.write(tmp_path / "p.json", pf.preview(states)))
    from_state = priced(pf.write(tmp_path / "s.json", pf.export(states)))
    assert read_program(tmp_path / "s.json").source == "state"
    assert by_resource(from_state) == pytest.approx(by_resource(from_preview))


def test_deleted_and_read_resources_are_not_priced_and_a_replacement_once(tmp_path: Path) -> None:
    states = pf.aws_program()
    document = pf.preview(states, ops={"gpu-box": "delete", "nat": "read"})
    eks = next(s for s in states if s["urn"].endswith("::eks"))
    document["steps"] += [
        {"op": "create-replacement", "urn": eks["urn"], "newState": eks},
        {"op": "replace", "urn": eks["urn"], "oldState": eks, "newState": eks},
        {"op": "delete-replaced", "urn": eks["urn"], "oldState": eks},
    ]
    cost = priced(pf.write(tmp_path / "p.json", document))
    resources = by_resource(cost)
    assert "gpu-box" not in resources and "nat" not in resources
    assert resources["eks"] == pytest.approx(svc("aws", "control-plane", "eks-standard") * H)
    assert [line.resource for line in cost.lines].count("eks") == 1


def test_unpriceable_resources_are_listed_with_why(tmp_path: Path) -> None:
    states = [
        pf.state("aws:ec2/instance:Instance", "no-region", {"instanceType": "g5.xlarge"}),
        pf.state("aws:ec2/instance:Instance", "unknown", {"region": "us-east-1"}),
        pf.state(
            "aws:ec2/instance:Instance",
            "far",
            {"instanceType": "g5.xlarge", "region": "ap-south-2"},
        ),
        pf.state("gcp:container/cluster:Cluster", "gke", {"location": "us-central1"}),
        pf.state("kubernetes:core/v1:Service", "lb", {"spec": {"type": "LoadBalancer"}}),
        pf.state("kubernetes:core/v1:Service", "internal", {"spec": {"type": "ClusterIP"}}),
    ]
    cost = priced(pf.write(tmp_path / "p.json", pf.preview(states)))
    reasons = {u.resource: u.reason for u in cost.unpriced}
    assert set(reasons) == {"no-region", "unknown", "far", "lb"}
    assert "aws:region" in reasons["no-region"]
    assert "instanceType" in reasons["unknown"]
    assert "ap-south-2" in reasons["far"]
    assert "2 clouds" in reasons["lb"]


@pytest.mark.parametrize(
    ("value", "region"),
    [
        ("us-east-1a", "us-east-1"),
        ("us-central1-a", "us-central1"),
        ("East US", "eastus"),
        ("us-ashburn-1", "us-ashburn-1"),
        ("04da6b54-80e4-46f7-96ec-b56ff0331ba9", ""),  # unknown until deployed
        ("[secret]", ""),
    ],
)
def test_region_of(value: str, region: str) -> None:
    assert region_of(value) == region


def test_bad_files_are_input_errors_naming_the_file(tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("not json", encoding="utf-8")
    other = pf.write(tmp_path / "other.json", {"resources": []})
    state = pf.write(tmp_path / "state.json", pf.export(pf.aws_program()))
    for path, source, message in (
        (text, None, "not JSON"),
        (other, None, "not Pulumi's JSON"),
        (state, "preview", "a Pulumi state, a preview was expected"),
        (tmp_path / "missing.json", None, "no such file"),
    ):
        with pytest.raises(InputError, match=message) as caught:
            read_program(path, source)  # type: ignore[arg-type]
        assert caught.value.file == str(path)


def test_the_cli_prices_a_preview_and_exits_2_on_bad_input(tmp_path: Path) -> None:
    path = pf.write(tmp_path / "aws.json", pf.preview(pf.aws_program()))
    result = CliRunner().invoke(app, ["cost", "--preview", str(path), "--json"])
    assert result.exit_code == 0, result.output
    data = validated(result.stdout)
    assert data["stacks"][0]["kind"] == "program"
    assert data["total_monthly_usd"] == pytest.approx(round(priced(path).monthly, 2))
    assert any("logs not priced" in w for w in data["warnings"])
    error = refused("cost", "--state", str(path))
    assert error.file == str(path) and "a Pulumi preview, a state was expected" in str(error)
    assert refused("cost", "aws-primary", "--preview", str(path)).field == "STACK"


def test_focus_rows_of_a_program(tmp_path: Path) -> None:
    path = pf.write(tmp_path / "gke.json", pf.preview(pf.gke_program(), {"gcp:region": "x"}))
    out = tmp_path / "focus.csv"
    result = CliRunner().invoke(
        app, ["cost", "--preview", str(path), "--format", "focus", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    rows = out.read_text(encoding="utf-8").splitlines()
    assert len(rows) == 1 + 3 and ",shop/dev," in rows[1]


@pytest.mark.parametrize("name", [s for s in ALL_STACKS if "edge" not in s])
def test_exitplans_own_plan_as_a_preview_prices_as_the_stack(
    name: str, project: Project, plans: dict[str, Plan], tmp_path: Path
) -> None:
    """Nodes, control planes, load balancers, gateways, addresses and keys: the same lines.
    (Storage and health checks differ by design: a preview does not say what a store holds
    or which stack a check watches.)"""
    stack = project.stack(name)
    plan = plans[name]
    package = {"aws": "aws", "azure": "azure-native", "gcp": "gcp", "oci": "oci"}
    config = region_config(package[str(stack.spec.provider)], str(stack.spec.region))
    path = pf.write(tmp_path / "p.json", preview_digest(plan, project.name, config))
    skip = {"storage", "dns-health-check", "egress"}

    def lines(cost: StackCost) -> list[tuple[str, str, float]]:
        return sorted(
            (line.resource, line.kind, round(line.monthly, 6))
            for line in cost.lines
            if line.kind not in skip
        )

    expected = lines(estimate(stack, plan, Profile()))
    assert expected
    assert lines(priced(path)) == expected
