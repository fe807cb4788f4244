"""Every field of every shipped stack file changes what is planned, or says what reads it.

Each leaf of each stack's exitplan config (service, standby, edge, traffic) is changed to
another valid value, one at a time, and the stack re-planned under mocks (the other stacks'
plans reused, as deployed); when its own plan is unchanged, the stacks that derive from it
(standbys and edges of a service) are re-planned too. A leaf whose change leaves every plan
as it was must be listed in `components.spec.NOT_PLANNED` with what reads it, and in the
README's spec reference.
"""

from __future__ import annotations

import copy
import json
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.errors import InputError
from components.planning.runner import Plan, plan_stack
from components.spec import CONFIG_KEYS, NOT_PLANNED
from components.stack_config import Project
from tests.conftest import ALL_STACKS, ROOT

Path_ = tuple[str | int, ...]
# A second service to point references at: aws-primary's service under another name.
OTHER_SERVICE = "other-service"
# Values to try for leaves no generic rule changes validly (dotted path, `*` any index).
ALTERNATIVES: dict[str, list[Any]] = {
    "exitplan:service.name": ["fraud-scoring-b"],
    "exitplan:service.role": ["standby"],
    "exitplan:service.region": ["us-west-2"],
    "exitplan:service.kubernetes_version": ["1.34"],
    "exitplan:service.gpu.model": ["A10G"],
    "exitplan:service.gpu.capacity_type": ["spot"],
    "exitplan:service.gpu.min_memory_gib": [15],
    "exitplan:service.gpu.gpus_per_node": [4],
    "exitplan:traffic.ttl_s": [30],
    "exitplan:traffic.health_check.interval_s": [30],
    "exitplan:traffic.failover.secondary": ["azure-standby"],
    "exitplan:standby.level": ["hot", "pilot-light"],
    "exitplan:standby.primary": [OTHER_SERVICE],
    "exitplan:edge.service": [OTHER_SERVICE],
    "exitplan:standby.gpu.min_memory_gib": [16],
    "exitplan:edge.load_balancer_pools.*": ["192.0.2.30-192.0.2.40"],
}
# Leaves no other value of their own can change: each picks the cloud, region or zone (or the
# router's cloud and primary) that the other leaves of the file were written for, so any
# other value alone is refused by the spec or the catalog (a test elsewhere shows each
# refusal). Every resource of the stack is built there, so they change everything.
SELECTORS = {
    "exitplan:service.provider",
    "exitplan:standby.provider",
    "exitplan:edge.provider",
    "exitplan:standby.region",
    "exitplan:edge.zone",
    "exitplan:traffic.dns_provider",
    "exitplan:traffic.failover.primary",
    "exitplan:standby.gpu.model",
}


def _leaves(value: Any, path: Path_) -> Iterator[tuple[Path_, Any]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _leaves(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _leaves(item, (*path, index))
    else:
        yield path, value


def dotted(path: Path_) -> str:
    """`exitplan:service.triton.models.*.size_mib`: the path as NOT_PLANNED names it."""
    return ".".join("*" if isinstance(p, int) else str(p) for p in path)


def _alternatives(path: Path_, value: Any) -> list[Any]:
    """Other valid-looking values for one leaf, tried in order."""
    if dotted(path) in ALTERNATIVES:
        return ALTERNATIVES[dotted(path)]
    if isinstance(value, bool):
        return [not value]
    if isinstance(value, int):
        return [value + 1, value - 1]
    text = str(value)
    if text.startswith("arn:"):
        return [f"{text}b"]
    if "/" in text:  # a CIDR: another of the same size
        first, second, *rest = text.split(".")
        return [".".join([first, str((int(second) + 1) % 256), *rest])]
    if "." in text:  # a DNS name
        return [f"b{text}"]
    return [f"{text}b"]


def _changed(config: dict[str, Any], path: Path_, value: Any) -> dict[str, Any]:
    """The config with one leaf set; a router weight moves from or to another stack."""
    edited = copy.deepcopy(config)
    parent = edited
    for part in path[:-1]:
        parent = parent[part]
    if path[-2:-1] == ("weights",):
        moved = value - parent[path[-1]]
        other = next((k for k in parent if k != path[-1] and 0 <= parent[k] - moved <= 100), None)
        if other is None or not 0 <= value <= 100:
            raise InputError(f"no weight to move {moved} to or from")
        parent[other] -= moved
    parent[path[-1]] = value
    return edited


def fingerprint(plan: Plan) -> str:
    """The plan as comparable text: resources in a fixed order, the admin key's generated
    value left out."""
    resources = sorted(
        (
            r.type,
            r.name,
            r.parent,
            {k: v for k, v in r.inputs.items() if k != "stringData"},
            sorted(r.dependencies),
        )
        for r in plan.resources
    )
    return json.dumps([resources, plan.outputs], sort_keys=True, default=str)


class Planner:
    """A copy of the project whose stack files are edited one at a time and re-planned, the
    unedited stacks' plans reused."""

    def __init__(self, root: Path) -> None:
        shutil.copy(ROOT / "Pulumi.yaml", root / "Pulumi.yaml")
        shutil.copytree(ROOT / "stacks", root / "stacks")
        primary = yaml.safe_load((root / "stacks" / "Pulumi.aws-primary.yaml").read_text())
        del primary["config"]["exitplan:traffic"]
        primary["config"]["exitplan:service"]["name"] = "fraud-scoring-b"
        (root / "stacks" / f"Pulumi.{OTHER_SERVICE}.yaml").write_text(yaml.safe_dump(primary))
        self.root = root
        project = Project(root)
        self.baseline: dict[str, Plan] = {}
        for name in project.stack_names():
            plan_stack(project, project.stack(name), self.baseline)
        self.prints = {name: fingerprint(plan) for name, plan in self.baseline.items()}
        self.derived = {
            name: [
                other
                for other in project.stack_names()
                if (source := project.stack(other).source) is not None and source.name == name
            ]
            for name in project.stack_names()
        }

    def changes_a_plan(self, stack: str, config: dict[str, Any]) -> bool:
        """Whether the stack file with this config changes its plan or, failing that, the
        plan of a stack derived from it. Raises `InputError` if the config is refused."""
        path = self.root / "stacks" / f"Pulumi.{stack}.yaml"
        original = path.read_text()
        path.write_text(yaml.safe_dump({"config": config}))
        try:
            for name in (stack, *self.derived[stack]):
                project = Project(self.root)
                reused = {k: v for k, v in self.baseline.items() if k not in (stack, name)}
                if (
                    fingerprint(plan_stack(project, project.stack(name), reused))
                    != self.prints[name]
                ):
                    return True
            return False
        finally:
            path.write_text(original)


@pytest.fixture(scope="module")
def planner(tmp_path_factory: pytest.TempPathFactory) -> Planner:
    return Planner(tmp_path_factory.mktemp("spec-effects"))


def test_every_leaf_changes_the_plan_or_is_listed(planner: Planner) -> None:
    started = time.monotonic()
    silent, refused, replans = [], [], 0
    for stack in ALL_STACKS:
        config = yaml.safe_load((ROOT / "stacks" / f"Pulumi.{stack}.yaml").read_text())["config"]
        for path, value in _leaves({k: v for k, v in config.items() if k in CONFIG_KEYS}, ()):
            outcome = "refused"
            for alternative in _alternatives(path, value):
                replans += 1
                try:
                    edited = _changed(config, path, alternative)
                    changed = planner.changes_a_plan(stack, edited)
                except InputError:
                    continue
                outcome = "changed" if changed else "silent"
                if changed:
                    break
            if outcome == "silent" and dotted(path) not in NOT_PLANNED:
                silent.append(f"{stack}: {dotted(path)}")
            if outcome == "refused" and dotted(path) not in SELECTORS:
                refused.append(f"{stack}: {dotted(path)} (add a valid value to ALTERNATIVES)")
    print(f"{replans} re-plans in {time.monotonic() - started:.1f} s")
    assert not silent, "fields that change no plan and are not in NOT_PLANNED:\n" + "\n".join(
        silent
    )
    assert not refused, "\n".join(refused)


def test_a_listed_field_is_in_the_readme() -> None:
    readme = (ROOT / "README.md").read_text()
    assert [path for path in NOT_PLANNED if f"`{path}`" not in readme] == []
