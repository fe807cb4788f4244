"""AWS zones come from AWS at deploy time (review N2): the plan mocks answer
`get_availability_zones` and `get_instance_type_offerings` as EC2 would, and the subnets follow
their answers."""

from __future__ import annotations

import ipaddress
from typing import Any

import pytest

from components.errors import SpecError
from components.planning.runner import plan_stack
from components.providers.aws import plan as aws_plan
from components.providers.aws.zones import EKS_REFUSED_ZONE_IDS
from tests.conftest import MakeProject, service_config

ZONES_TOKEN = "aws:index/getAvailabilityZones:getAvailabilityZones"
OFFERINGS_TOKEN = "aws:ec2/getInstanceTypeOfferings:getInstanceTypeOfferings"
GPU_TYPE = "g4dn.xlarge"


def _subnet_zones(make_project: MakeProject) -> list[str]:
    project = make_project({"aws-primary": service_config()})
    plan = plan_stack(project, project.stack("aws-primary"))
    private = [
        s
        for s in plan.of_type("aws:ec2/subnet:Subnet")
        if s.inputs["tags"].get("kubernetes.io/role/internal-elb") == "1"
    ]
    # Resources register concurrently, so the plan's order is not the program's: the CIDR
    # blocks are handed out in zone order, so they give the order the zones were chosen in.
    private.sort(key=lambda s: ipaddress.ip_network(s.inputs["cidrBlock"]))
    return [s.inputs["availabilityZone"] for s in private]


def test_mock_answers_like_ec2_names_ids_and_exclusions() -> None:
    answer = aws_plan.INVOKES[ZONES_TOKEN](
        {"region": "us-east-1", "excludeZoneIds": ["use1-az3"], "state": "available"}, {}
    )
    assert answer["names"] == ["us-east-1a", "us-east-1b", "us-east-1d", "us-east-1e", "us-east-1f"]
    assert answer["zoneIds"][:2] == ["use1-az1", "use1-az2"]
    assert "use1-az3" not in answer["zoneIds"]
    offered = aws_plan.INVOKES[OFFERINGS_TOKEN](
        {
            "region": "us-east-1",
            "filters": [
                {"name": "instance-type", "values": [GPU_TYPE]},
                {"name": "location", "values": ["us-east-1a", "us-east-1b"]},
            ],
        },
        {},
    )
    assert list(zip(offered["locations"], offered["instanceTypes"], strict=True)) == [
        ("us-east-1a", GPU_TYPE),
        ("us-east-1b", GPU_TYPE),
    ]


def _spy(token: str, calls: dict[str, dict[str, Any]]) -> aws_plan.Invoke:
    """The mock's answer to `token`, recording the arguments it was asked with."""
    answer = aws_plan.INVOKES[token]

    def spy(args: dict[str, Any], config: dict[str, Any]) -> dict[str, Any]:
        calls[token] = args
        return answer(args, config)

    return spy


def test_subnets_use_the_zones_aws_answers_with_eks_refused_ids_excluded(
    make_project: MakeProject, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: dict[str, dict[str, Any]] = {}
    for token in (ZONES_TOKEN, OFFERINGS_TOKEN):
        monkeypatch.setitem(aws_plan.INVOKES, token, _spy(token, calls))
    assert _subnet_zones(make_project) == ["us-east-1a", "us-east-1b"]
    assert calls[ZONES_TOKEN]["region"] == "us-east-1"
    assert set(EKS_REFUSED_ZONE_IDS) <= set(calls[ZONES_TOKEN]["excludeZoneIds"])
    assert calls[ZONES_TOKEN]["state"] == "available"
    asked = {f["name"]: f["values"] for f in calls[OFFERINGS_TOKEN]["filters"]}
    assert GPU_TYPE in asked["instance-type"]
    assert calls[OFFERINGS_TOKEN]["locationType"] == "availability-zone"


def test_a_zone_without_the_gpu_type_is_skipped(
    make_project: MakeProject, monkeypatch: pytest.MonkeyPatch
) -> None:
    # us-east-1c is use1-az3 in the mocked account (EKS refuses it), b lacks the GPU type.
    monkeypatch.setattr(aws_plan, "MISSING_OFFERINGS", {("us-east-1b", GPU_TYPE)})
    assert _subnet_zones(make_project) == ["us-east-1a", "us-east-1d"]


def test_fewer_than_two_zones_with_the_gpu_type_is_a_clear_error(
    make_project: MakeProject, monkeypatch: pytest.MonkeyPatch
) -> None:
    lacking = {(f"us-east-1{z}", GPU_TYPE) for z in "bdef"}
    monkeypatch.setattr(aws_plan, "MISSING_OFFERINGS", lacking)
    with pytest.raises(SpecError) as failed:
        _subnet_zones(make_project)
    message = str(failed.value)
    assert "us-east-1" in message and GPU_TYPE in message
    assert "only 1 zone(s)" in message and "us-east-1a" in message
