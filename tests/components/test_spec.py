"""The service spec: valid stacks parse; bad fields fail naming the dotted path and a fix."""

from __future__ import annotations

from typing import Any

import pytest

from components.errors import SpecError
from components.spec import parse_spec
from tests.conftest import service, stack_config


def test_the_primary_service_parses() -> None:
    spec = parse_spec(service(stack_config("aws-primary")), source="Pulumi.aws-primary.yaml")
    assert spec.tags["owner"] and spec.tags["cost-center"]
    assert spec.triton.models[0].name == "fraud-scorer"
    assert spec.triton.model_size_mib == 480


def _with(edit: Any) -> dict[str, Any]:
    raw = service(stack_config("aws-primary"))
    edit(raw)
    return raw


@pytest.mark.parametrize(
    ("edit", "field", "words"),
    [
        (lambda s: s["gpu"].update(min_nodes=5), "exitplan:service.gpu", "above max_nodes"),
        (
            lambda s: s["gpu"].update(min_nodes=-1),
            "exitplan:service.gpu.min_nodes",
            "greater than or equal",
        ),
        (lambda s: s["tags"].pop("cost-center"), "exitplan:service.tags", "cost-center"),
        (lambda s: s.update(gpus={}), "exitplan:service.gpus", "Extra inputs"),
        (
            lambda s: s["triton"].update(replicas=2),
            "exitplan:service.triton.replicas",
            "Extra inputs",
        ),
        (
            lambda s: s.update(provider="oracle"),
            "exitplan:service.provider",
            "unknown cloud 'oracle'",
        ),
        (
            lambda s: s["network"].update(api_allowed_cidrs=["0.0.0.0/0"]),
            "exitplan:service.network.api_allowed_cidrs",
            "internet",
        ),
        (
            lambda s: s["triton"].update(min_replicas=3, max_replicas=2),
            "exitplan:service.triton",
            "min_replicas",
        ),
        (lambda s: s.pop("region"), "exitplan:service.region", "Field required"),
    ],
)
def test_bad_fields_name_the_path_and_a_fix(edit: Any, field: str, words: str) -> None:
    with pytest.raises(SpecError) as caught:
        parse_spec(_with(edit), source="stacks/Pulumi.x.yaml")
    error = caught.value
    assert error.field == field
    assert words in error.problem
    assert error.file == "stacks/Pulumi.x.yaml"
    assert error.fix


def test_unknown_key_fix_lists_the_allowed_keys() -> None:
    with pytest.raises(SpecError) as caught:
        parse_spec(_with(lambda s: s["gpu"].update(modle="T4")), source="f")
    assert "min_memory_gib" in caught.value.fix and "capacity_type" in caught.value.fix


def test_stack_file_holes_of_the_ux_review_are_refused_by_name() -> None:
    """Review I9: an absurd model size, a YAML float for the Kubernetes version (fix: quote
    it), and a misspelt key that also leaves its field missing (the typo is named, not the
    missing field)."""
    with pytest.raises(SpecError) as caught:
        parse_spec(
            _with(lambda s: s["triton"]["models"][0].update(size_mib=999999999999)), source="f"
        )
    assert caught.value.field == "exitplan:service.triton.models.0.size_mib"
    assert "less than or equal to 1048576" in caught.value.problem
    with pytest.raises(SpecError) as caught:
        parse_spec(_with(lambda s: s.update(kubernetes_version=1.3)), source="f")
    assert caught.value.fix.startswith("quote it: YAML read it as the number 1.3")

    def typo(s: dict[str, Any]) -> None:
        s["gpu"]["modle"] = s["gpu"].pop("model")

    with pytest.raises(SpecError) as caught:
        parse_spec(_with(typo), source="f")
    assert caught.value.field == "exitplan:service.gpu.modle", caught.value
    assert "Extra inputs" in caught.value.problem


def test_a_failover_whose_secondary_is_its_primary_is_refused() -> None:
    """Review I9: `failover.secondary: aws-primary` on aws-primary's router was accepted."""
    from components.spec import TrafficSpec, parse_config

    raw = dict(stack_config("aws-primary")["config"]["exitplan:traffic"])
    raw["failover"] = {"primary": "aws-primary", "secondary": "aws-primary"}
    with pytest.raises(SpecError) as caught:
        parse_config(TrafficSpec, "exitplan:traffic", raw, source="f")
    assert caught.value.field == "exitplan:traffic.failover"
    assert "is the primary itself" in caught.value.problem
