"""Edit planned stacks in memory (a copy of the session's `plans`, one property changed) and
run one rule of the pack over them."""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from components.planning.runner import Plan, PlannedResource
from components.policy.offline import Violation, check_plan
from components.policy.pack import POLICIES


def violations(plan: Plan, rule: str) -> list[Violation]:
    """The violations of one rule (by id) in a plan."""
    chosen = [p for p in POLICIES if p.name == rule]
    assert chosen, f"no rule {rule!r} in the pack"
    return check_plan(plan, chosen)


def set_path(inputs: dict[str, Any], path: str, value: Any) -> None:
    """Set a dotted path in nested dicts/lists (None deletes the key)."""
    *parents, last = path.split(".")
    node: Any = inputs
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node.setdefault(part, {})
    if value is None:
        node.pop(last, None)
    elif isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value


Pick = Callable[[PlannedResource], bool]


def edit(plan: Plan, typ: str, path: str, value: Any, pick: Pick = lambda _r: True) -> Plan:
    """A copy of the plan where every resource of `typ` (that `pick` accepts) has `path` set."""

    def change(resource: PlannedResource) -> PlannedResource:
        if resource.type != typ or not pick(resource):
            return resource
        inputs = copy.deepcopy(resource.inputs)
        set_path(inputs, path, value)
        return replace(resource, inputs=inputs)

    return replace(plan, resources=[change(r) for r in plan.resources])


def depend(
    plan: Plan, typ: str, dependencies: tuple[str, ...], pick: Pick = lambda _r: True
) -> Plan:
    """A copy of the plan where the resources of `typ` depend on exactly `dependencies`."""
    return replace(
        plan,
        resources=[
            replace(r, dependencies=dependencies) if r.type == typ and pick(r) else r
            for r in plan.resources
        ],
    )


def drop(plan: Plan, pick: Pick) -> Plan:
    """A copy of the plan without the resources `pick` accepts."""
    return replace(plan, resources=[r for r in plan.resources if not pick(r)])


def add(plan: Plan, *resources: PlannedResource) -> Plan:
    """A copy of the plan with more resources."""
    return replace(plan, resources=[*plan.resources, *resources])


def resource(typ: str, name: str, inputs: dict[str, Any], *dependencies: str) -> PlannedResource:
    """A planned resource made up for a test."""
    return PlannedResource(
        type=typ, name=name, parent="", custom=True, inputs=inputs, dependencies=dependencies
    )


def named(plan: Plan, typ: str) -> list[str]:
    """The names of a plan's resources of one type."""
    return [r.name for r in plan.of_type(typ)]
