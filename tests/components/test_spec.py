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
