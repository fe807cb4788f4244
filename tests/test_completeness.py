"""Every cloud in the registry is complete: its builders and plan module, its facts and gaps
(with sources), catalog rows, a stack file, its tests, its SDK in the lock, a publish backend
for its store scheme and a row in the README's clouds table. Forgetting any of them fails
here, by name, instead of silently later."""

from __future__ import annotations

import importlib
import tomllib
from pathlib import Path

import pytest

from components import catalog
from components.catalog.clouds import clouds, facts
from components.errors import SpecError
from components.providers.registry import CLOUDS, builders
from components.spec import parse_spec
from components.stack_config import Project
from tests.conftest import service, stack_config

ROOT = Path(__file__).resolve().parents[1]
BUILDERS = ("MODEL_REPLICATION", "build_cluster", "build_router", "build_edge", "pulumi_provider")
PLAN_MODULE = ("identifiers", "COMPUTED", "INVOKES", "KEY_PROPERTIES")
# What components/cost/resources.py reads from each cloud's cost module.
COST_MODULE = ("PRICERS", "COMPUTE_SERVICE", "EDGE_NODE_NOTE", "LOAD_BALANCER")
RTO_FIGURES = ("gpu_node_provisioning", "image_pull", "model_download", "model_load")
# Store schemes model_packaging/publish.py serves itself; any other needs providers/<c>/publish.py.
BUILT_IN_STORES = ("s3", "as", "gs")


@pytest.mark.parametrize("name", sorted(CLOUDS))
def test_cloud_has_builders_and_a_plan_module(name: str) -> None:
    assert CLOUDS[name] == f"components.providers.{name}"
    module = builders(name)
    assert [m for m in BUILDERS if not hasattr(module, m)] == []
    plan = importlib.import_module(f"{CLOUDS[name]}.plan")
    assert [m for m in PLAN_MODULE if not hasattr(plan, m)] == []
    assert all(t.startswith(f"{facts(name).pulumi_package}:") for t in plan.COMPUTED)


@pytest.mark.parametrize("name", sorted(CLOUDS))
def test_cloud_has_facts_gaps_and_catalog_rows(name: str) -> None:
    cloud = facts(name)  # raises when a fact row is missing
    assert all(p.source.startswith("https://") for p in cloud.sources.values())
    for gap in cloud.gaps.values():
        assert len(gap.reason) > 20 and gap.provenance.source.startswith("https://")
    assert catalog.instance_types(name), "no instance rows"
    assert any(c == name for c, _ in catalog.regions()), "no regions"
    gpu_types = [t.instance_type for t in catalog.instance_types(name) if t.gpu_count]
    for figure in RTO_FIGURES:
        catalog.rto_figure(name, figure, gpu_types[0])  # raises when the row is missing


@pytest.mark.parametrize("name", sorted(CLOUDS))
def test_cloud_has_a_stack_tests_and_its_sdk(name: str, project: Project) -> None:
    assert any(project.stack(s).spec.provider == name for s in project.stack_names()), "no stack"
    assert (ROOT / "tests" / "components" / f"test_{name}.py").is_file(), "no tests"
    sdk = f"pulumi-{facts(name).pulumi_package}"
    dependencies = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    assert any(d.startswith(sdk) for d in dependencies), f"{sdk} not in pyproject.toml"
    assert f'name = "{sdk}"' in (ROOT / "uv.lock").read_text(), f"{sdk} not in uv.lock"


@pytest.mark.parametrize("name", sorted(CLOUDS))
def test_cloud_store_has_a_publish_backend(name: str) -> None:
    scheme = facts(name).store_scheme
    own = ROOT / "components" / "providers" / name / "publish.py"
    assert scheme in BUILT_IN_STORES or own.is_file(), f"nothing publishes to {scheme}://"


@pytest.mark.parametrize("name", sorted(CLOUDS))
def test_cloud_has_a_cost_module(name: str) -> None:
    assert (ROOT / "components" / "cost" / name / "__init__.py").is_file(), "no cost module"
    module = importlib.import_module(f"components.cost.{name}")
    assert isinstance(getattr(module, "PRICERS", None), dict), "no PRICERS"
    assert all(t.startswith(f"{facts(name).pulumi_package}:") for t in module.PRICERS)
    assert [m for m in COST_MODULE if not hasattr(module, m)] == []


@pytest.mark.parametrize("name", sorted(CLOUDS))
def test_cloud_is_in_the_readme_tables(name: str) -> None:
    readme = (ROOT / "README.md").read_text()
    assert f"| {name} |" in readme, f"README's clouds table has no row for {name}"


def test_every_stack_names_a_registered_cloud(project: Project) -> None:
    assert {project.stack(s).spec.provider for s in project.stack_names()} <= set(CLOUDS)
    assert clouds() == tuple(CLOUDS)


def test_the_spec_accepts_exactly_the_registered_clouds() -> None:
    config = service(stack_config("aws-primary"))
    with pytest.raises(SpecError) as caught:
        parse_spec({**config, "provider": "nimbus"}, source="x.yaml")
    assert caught.value.field == "exitplan:service.provider"
    assert all(name in caught.value.problem for name in CLOUDS)
