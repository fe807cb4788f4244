"""Run a stack's real Pulumi program offline, under mocks, and collect what it would create."""

from __future__ import annotations

import asyncio
import json
import logging
import runpy
import sys
import warnings
from dataclasses import dataclass, field
from typing import Any

import pulumi
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import settings
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

from components.errors import SpecError
from components.planning.mocks import PlanMocks, cloud_plan
from components.stack_config import Project, Stack

ORGANIZATION = "organization"  # the Pulumi organization stack references resolve in
# The Kubernetes properties worth a glance in `exitplan plan` (each cloud adds its own types).
KUBERNETES_KEY_PROPERTIES: dict[str, tuple[str, ...]] = {
    "kubernetes:apps/v1:Deployment": ("spec.replicas", "spec.template.spec.containers.0.image"),
    "kubernetes:core/v1:Service": ("spec.type",),
    "kubernetes:autoscaling/v2:HorizontalPodAutoscaler": ("spec.minReplicas", "spec.maxReplicas"),
}


@dataclass(frozen=True)
class PlannedResource:
    """One resource the program would register: type, name, parent and its inputs."""

    type: str
    name: str
    parent: str
    custom: bool
    inputs: dict[str, Any]
    # Dotted paths into the inputs that `exitplan plan` shows for this type.
    key_paths: tuple[str, ...] = ()
    # Names of the resources it depends on (explicit `depends_on` and through its inputs), and
    # of its provider resource: what CrossGuard's stack policies see as dependencies/provider.
    dependencies: tuple[str, ...] = ()
    provider: str = ""
    # Input paths a later `pulumi up` leaves as they are (`ignore_changes`).
    ignore_changes: tuple[str, ...] = ()


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
                    key_paths=key_paths(request.type),
                    dependencies=tuple(
                        self.names[u] for u in request.dependencies if u in self.names
                    ),
                    # A provider reference is "<urn>::<id>".
                    provider=self.names.get(request.provider.rsplit("::", 1)[0], ""),
                    ignore_changes=tuple(request.ignoreChanges),
                )
            )
        return response


def key_paths(token: str) -> tuple[str, ...]:
    """The properties `exitplan plan` shows for a resource type (its cloud's display data)."""
    plan = cloud_plan(token)
    shown: dict[str, tuple[str, ...]] = plan.KEY_PROPERTIES if plan else KUBERNETES_KEY_PROPERTIES
    return shown.get(token, ())


def plan_stack(
    project: Project,
    stack: Stack,
    planned: dict[str, Plan] | None = None,
    *,
    preview: bool = False,
    resolve_references: bool = True,
) -> Plan:
    """Validate the stack, plan every stack it references first (their outputs answer its
    stack references, as a first `pulumi up` in that order would), then run its program
    under mocks and return the plan. `planned` caches plans across calls.

    `preview`: plan as `pulumi preview` of a first deploy sees it: what the clouds compute is
    unknown (referenced stacks count as deployed). `resolve_references=False`: plan only from
    `planned`, refusing a reference to a stack not planned (deployed) before."""
    cache = {} if planned is None else planned
    return _plan(project, stack, cache, (), preview=preview, resolve=resolve_references)


def _plan(
    project: Project,
    stack: Stack,
    planned: dict[str, Plan],
    chain: tuple[str, ...],
    *,
    preview: bool = False,
    resolve: bool = True,
) -> Plan:
    if stack.name in planned and not preview:
        return planned[stack.name]
    if stack.name in chain:
        raise SpecError(
            f"stacks reference each other in a cycle: {' -> '.join([*chain, stack.name])}",
            file=stack.relative,
            fix="a stack may read the outputs only of stacks deployed before it",
        )
    stack.validate()  # spec, references and catalog first, for errors that name the file
    references = {
        name: _reference(project, stack, name, planned, (*chain, stack.name), resolve).outputs
        for name in stack.references
    }
    _ensure_event_loop()
    mocks = PlanMocks(stack.name, stack.config, stack.spec.provider, references, preview=preview)
    monitor = _RecordingMonitor(mocks)
    settings.ROOT.set(None)
    pulumi.runtime.set_all_config(_engine_config(stack.config), [])
    pulumi.runtime.set_mocks(
        mocks,
        project=project.name,
        stack=stack.name,
        preview=preview,
        monitor=monitor,
        organization=ORGANIZATION,
        logger=_program_log(project.stack_file(stack.name)),
    )
    if not project.program.is_file():
        raise SpecError(
            f"the project has no Pulumi program at {project.program} (Pulumi.yaml's `main`)",
            file="Pulumi.yaml",
            field="main",
            fix="copy exitplan's stacks/__main__.py into the project's stacks/ folder (it builds "
            "each stack from its exitplan:service config), or set `main` to the program's folder",
        )
    program = str(project.program)

    def run_program() -> None:
        runpy.run_path(program, run_name="__main__")

    try:
        _sync_await(run_pulumi_func(run_program))
    except BaseException:
        _cancel_pending_tasks()
        raise
    outputs, secrets = _stack_outputs()
    plan = Plan(
        stack=stack.name, resources=monitor.records, outputs=outputs, secret_outputs=secrets
    )
    if not preview:
        planned[stack.name] = plan
    return plan


def _reference(
    project: Project,
    stack: Stack,
    name: str,
    planned: dict[str, Plan],
    chain: tuple[str, ...],
    resolve: bool,
) -> Plan:
    """The deployed (planned) stack `stack` reads, planned now unless `resolve` is off."""
    if name in planned:
        return planned[name]
    if not resolve:
        raise SpecError(
            f"{stack.name} reads the outputs of {name}, which is not deployed yet",
            file=stack.relative,
            fix=f"deploy {name} before {stack.name} (`exitplan stacks order`)",
        )
    return _plan(project, project.stack(name), planned, chain)


def _program_log(stack_file: str) -> logging.Logger:
    """Where the program's `pulumi.log` messages go under the mocks: stderr, each naming its
    level and the stack file, as the stack's own warnings do (review U12: they came out bare,
    from the root logger, on every plan, parity, policy and scorecard run)."""
    log = logging.getLogger(f"exitplan.plan.{stack_file}")
    if not log.handlers:
        log.addHandler(_StderrNow(stack_file))
        log.propagate = False
        log.setLevel(logging.INFO)
    return log


class _StderrNow(logging.Handler):
    """`warning FILE: message` on whatever sys.stderr is when it is written (a handler bound
    to the stderr of its creation would write to a stream replaced since)."""

    def __init__(self, stack_file: str) -> None:
        super().__init__()
        self.stack_file = stack_file

    def emit(self, record: logging.LogRecord) -> None:
        try:
            sys.stderr.write(
                f"{record.levelname.lower()} {self.stack_file}: {record.getMessage()}\n"
            )
        except Exception:  # logging must never break the plan
            self.handleError(record)


def _ensure_event_loop() -> None:
    """Pulumi's runtime runs on the thread's current event loop; an `asyncio.run` earlier in
    the process (the load generator's) leaves none set."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            asyncio.get_event_loop()
        except RuntimeError:
            asyncio.set_event_loop(asyncio.new_event_loop())


def _cancel_pending_tasks() -> None:
    """After a failed plan, cancel what the program left running and forget its outputs and
    RPCs: `set_mocks` does not reset them, so the next plan would await them and fail with
    this plan's error."""
    loop = asyncio.get_event_loop()
    pending = [task for task in asyncio.all_tasks(loop) if not task.done()]
    for task in pending:
        task.cancel()
    if pending:
        loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
    with settings.SETTINGS.lock:
        settings.SETTINGS.outputs.clear()
    settings.SETTINGS.rpc_manager.clear()


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
