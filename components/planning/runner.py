"""Run a stack's real Pulumi program offline, under mocks, and collect what it would create."""

from __future__ import annotations

import asyncio
import json
import runpy
import warnings
from dataclasses import dataclass, field
from typing import Any

import pulumi
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import settings
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

from components.planning.mocks import PlanMocks
from components.stack_config import Project, Stack

ORGANIZATION = "organization"  # the Pulumi organization stack references resolve in


@dataclass(frozen=True)
class PlannedResource:
    """One resource the program would register: type, name, parent and its inputs."""

    type: str
    name: str
    parent: str
    custom: bool
    inputs: dict[str, Any]


@dataclass(frozen=True)
class Plan:
    """Everything a stack would create, plus its stack outputs (secrets marked)."""

    stack: str
    resources: list[PlannedResource]
    outputs: dict[str, Any]
    secret_outputs: set[str] = field(default_factory=set)

    def of_type(self, typ: str) -> list[PlannedResource]:
        """The planned resources of one Pulumi type token."""
        return [r for r in self.resources if r.type == typ]


class _RecordingMonitor(pulumi_mocks.MockMonitor):
    """The mock monitor, also recording each registration's parent and inputs in order."""

    def __init__(self, mocks: PlanMocks) -> None:
        super().__init__(mocks)
        self.plan_mocks = mocks
        self.records: list[PlannedResource] = []
        self.names: dict[str, str] = {}

    def RegisterResource(self, request: Any) -> Any:
        response = super().RegisterResource(request)
        if request.type != "pulumi:pulumi:Stack":
            self.names[response.urn] = request.name
            self.records.append(
                PlannedResource(
                    type=request.type,
                    name=request.name,
                    parent=self.names.get(request.parent, ""),
                    custom=bool(request.custom),
                    inputs=self.plan_mocks.last_inputs,
                )
            )
        return response


def plan_stack(project: Project, stack: Stack) -> Plan:
    """Validate the stack, then run its program under mocks and return the plan."""
    stack.validate()  # spec, references and catalog first, for errors that name the file
    _ensure_event_loop()
    mocks = PlanMocks(stack.config)
    monitor = _RecordingMonitor(mocks)
    settings.ROOT.set(None)
    pulumi.runtime.set_all_config(_engine_config(stack.config), [])
    pulumi.runtime.set_mocks(
        mocks,
        project=project.name,
        stack=stack.name,
        preview=False,
        monitor=monitor,
        organization=ORGANIZATION,
    )
    program = str(project.program)

    def run_program() -> None:
        runpy.run_path(program, run_name="__main__")

    _sync_await(run_pulumi_func(run_program))
    outputs, secrets = _stack_outputs()
    return Plan(
        stack=stack.name, resources=monitor.records, outputs=outputs, secret_outputs=secrets
    )


def _ensure_event_loop() -> None:
    """Pulumi's runtime runs on the thread's current event loop; an `asyncio.run` earlier in
    the process (the load generator's) leaves none set."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            asyncio.get_event_loop()
        except RuntimeError:
            asyncio.set_event_loop(asyncio.new_event_loop())


def _engine_config(config: dict[str, Any]) -> dict[str, str]:
    """Stack config as the engine hands it to a program: objects as JSON strings."""
    return {k: v if isinstance(v, str) else json.dumps(v) for k, v in config.items()}


def _stack_outputs() -> tuple[dict[str, Any], set[str]]:
    root = settings.get_root_resource()
    exported: dict[str, Any] = getattr(root, "outputs", {})
    values: dict[str, Any] = {}
    secrets: set[str] = set()
    for key, value in exported.items():
        output = pulumi.Output.from_input(value)
        values[key] = _sync_await(output.future())
        if _sync_await(output.is_secret()):
            secrets.add(key)
    return values, secrets
