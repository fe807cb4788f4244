"""Every cloud in the registry has its module, a stack file, catalog rows and tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from components import catalog
from components.providers import PROVIDERS, cloud
from components.stack_config import Project

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("name", sorted(PROVIDERS))
def test_cloud_is_complete(name: str, project: Project) -> None:
    module = cloud(name)
    assert name == module.NAME
    assert (ROOT / "components" / "providers" / name / "__init__.py").is_file()
    assert any(project.stack(s).spec.provider == name for s in project.stack_names()), "no stack"
    assert catalog.instance_types(name), "no catalog rows"
    assert any(c == name for c, _ in catalog.regions()), "no regions"
    assert (ROOT / "tests" / "components" / f"test_{name}.py").is_file(), "no tests"
    assert callable(module.build_cluster) and callable(module.pulumi_provider)


def test_every_stack_names_a_registered_cloud(project: Project) -> None:
    assert {project.stack(s).spec.provider for s in project.stack_names()} <= set(PROVIDERS)


@pytest.mark.parametrize("name", sorted(PROVIDERS))
def test_gaps_are_data_with_reasons(name: str) -> None:
    for feature, reason in cloud(name).UNSUPPORTED.items():
        assert feature and len(reason) > 20
