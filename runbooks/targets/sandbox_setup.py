"""Starting the sandbox for a project: which stacks, what weights, the demo model packaged (once)
and served by one Triton per stack behind the HAProxy front door; and the running sandbox as a
`Target` (`build`, for `target_for`).

The only runbooks module that imports the sandbox (with `target_for`, which imports it when a
sandbox target is built). A stack runs in the sandbox when its cloud's store URI scheme (a
catalog fact) has an emulator there (`sandbox.stores.EMULATORS`); others are skipped, saying why.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import sandbox
from components.catalog.clouds import facts
from components.deploy_order import deploy_order, reads_source_store
from components.stack_config import Project, Stack
from sandbox import demo_model, minilm_model
from sandbox.errors import SandboxError
from sandbox.first_deploy import Step
from sandbox.manager import Sandbox, SandboxSettings, StackPlan, stack_weights
from sandbox.state import SandboxState
from sandbox.stores import EMULATORS
from sandbox.target import SandboxTarget

if TYPE_CHECKING:
    from components.planning.runner import Plan

__all__ = [
    "SandboxSettings",
    "SandboxTarget",
    "build",
    "default_stacks",
    "sandbox_for",
    "sandbox_target",
    "start_sandbox",
    "unemulated",
]

# Edge deployments run too (their own Tritons, ready and answering), but the front door sends
# them no traffic unless the service's router routes them (a zone's users reach them directly).
SANDBOX_ROLES = ("primary", "standby", "edge")
# The models the sandbox can serve (`sandbox up --model`): the stacks' own model name for the
# demo fraud scorer (fast), and the MiniLM sentence encoder (~87 MiB: a download and a load
# that take measurable time, for the failover drill).
MODELS = ("demo", "minilm")
# Built by `make bootstrap` in the exitplan checkout: Triton's python backend runs models there.
TRITON_ENV = Path(sandbox.__file__).resolve().parents[1] / ".exitplan" / "triton-env"


def sandbox_for(project: Project) -> Sandbox:
    """The project's sandbox (state in `.exitplan/sandbox/`)."""
    return Sandbox(project.root / ".exitplan" / "sandbox", TRITON_ENV)


def sandbox_target(project: Project) -> SandboxTarget:
    """The project's running sandbox as a `Target` (a `SandboxError` when none runs)."""
    return SandboxTarget(sandbox_for(project))


def build(
    project: Project, *, router: str | None = None, stacks: Sequence[str] = ()
) -> SandboxTarget:
    """`target_for("sandbox", ...)`: the running sandbox (it has one front door: `router` and
    `stacks` choose nothing here)."""
    return sandbox_target(project)


def running_sandbox(project: Project) -> tuple[SandboxTarget | None, str]:
    """The running sandbox as a `Target`, or None and why there is none (for callers that
    plan on it when it runs and fall back to the configuration when it does not)."""
    try:
        return sandbox_target(project), ""
    except SandboxError as exc:
        return None, str(exc).splitlines()[0]


def store_scheme(stack: Stack) -> str:
    """The URI scheme of the stack's model store (`s3`, `as`, `gs`, ...): a catalog fact."""
    return facts(stack.spec.provider).store_scheme


def unemulated(stack: Stack) -> str | None:
    """Why the stack cannot run in the sandbox (no emulator for its store scheme), or None."""
    scheme = store_scheme(stack)
    if scheme in EMULATORS:
        return None
    return (
        f"{stack.name} is skipped: {facts(stack.spec.provider).display_name} stores models at "
        f"{scheme}://, which no sandbox emulator serves "
        f"(emulated: {', '.join(f'{s}://' for s in EMULATORS)})"
    )


def default_stacks(project: Project) -> list[str]:
    """Every stack with role primary, standby or edge."""
    return [
        name for name in project.stack_names() if project.stack(name).spec.role in SANDBOX_ROLES
    ]


def primary_min_replicas(project: Project, stack: Stack) -> int:
    """The Tritons a stack must run to carry the primary's load: the primary's minimum
    replicas (a pilot-light standby's own spec plans 0 at rest; its level says what runs)."""
    primary = project.stack(stack.standby.primary) if stack.standby else stack
    return max(1, primary.spec.triton.min_replicas)


def start_sandbox(
    project: Project,
    stacks: list[str],
    progress: Callable[[str], None],
    settings: SandboxSettings | None = None,
    model: str = "demo",
    first_deploy: bool = False,
) -> SandboxState:
    """Validate the stacks, skip (saying why) those whose store no emulator serves, package
    `model` (one of MODELS) if needed, and start the sandbox (with `first_deploy`, from empty
    stores in `exitplan stacks order`: `sandbox.first_deploy`)."""
    if model not in MODELS:
        raise SandboxError(f"unknown sandbox model {model!r}", fix=f"use {' or '.join(MODELS)}")
    sandbox = sandbox_for(project)
    if sandbox.proxy_note:
        progress(sandbox.proxy_note)
    running = sandbox.running()
    if running:
        raise SandboxError(
            f"a sandbox is already running (front door {running.endpoint})",
            fix="exitplan sandbox status, or exitplan sandbox down first",
        )
    loaded = [project.stack(name, field="--stacks") for name in stacks]
    for stack in loaded:
        stack.validate()
    skipped = {stack.name: unemulated(stack) for stack in loaded}
    for reason in filter(None, skipped.values()):
        progress(reason)
    loaded = [stack for stack in loaded if not skipped[stack.name]]
    if not loaded:
        raise SandboxError(
            f"none of the stacks {', '.join(stacks)} can run in the sandbox",
            fix="pick stacks whose model stores the sandbox emulates (sandbox up --stacks ...)",
        )
    names = [stack.name for stack in loaded]
    router = next((s.traffic for s in loaded if s.traffic), None)
    weights = stack_weights(router.weights if router else {}, names)
    spec = loaded[0].spec
    served = spec.triton.models[0]
    name, version = (served.name, str(served.version)) if model == "demo" else (model, "1")
    factory = demo_model if model == "demo" else minilm_model
    # Imported here: packaging and planning load the ONNX exporters and the Pulumi SDK, which
    # `sandbox down`, `status` and every drill's target lookup do not need (~0.7 s a command).
    from model_packaging.package import PackageOptions, package
    from runbooks.targets.sandbox_plan import planned_triton

    progress(f"packaging the {model} model as {name}:{version} (reused when unchanged)")
    packaged = package(
        PackageOptions(
            source=f"{factory.__file__}:build",
            out=project.root
            / ".exitplan"
            / ("sandbox-model" + ("" if model == "demo" else f"-{model}")),
            name=name,
            version=version,
            max_batch=spec.triton.max_batch_size,
            dynamic_batching=spec.triton.dynamic_batching,
        ),
        progress,
    )
    settings = settings or SandboxSettings()
    if router:
        settings = replace(settings, dns_zone=router.zone, dns_name=spec.dns_name)
    progress("reading each stack's planned Triton (exitplan plan; cached)")
    planned: dict[str, Plan] = {}
    plans = [
        StackPlan(
            s.name,
            store_scheme(s),
            weights[s.name],
            s.spec.model_repository,
            planned_triton(project, s, planned),
            s.standby.level if s.standby else ("edge" if s.edge else "primary"),
            primary_min_replicas(project, s),
        )
        for s in loaded
    ]
    return sandbox.up(
        plans,
        Path(packaged.repository) / name,
        f"sha256:{packaged.onnx_sha256}",
        settings,
        progress,
        first_deploy_steps(project) if first_deploy else None,
    )


def first_deploy_steps(project: Project) -> list[Step]:
    """`exitplan stacks order` as the sandbox runs it: each stack's first deploy (a router's
    second deploy is the front door, started last), each publish, and for a standby whose
    store gets the service's models by a managed copy, the stack it copies from."""
    steps: list[Step] = []
    for step in deploy_order(project):
        stack = project.stack(step.stack)
        if step.action == "publish":
            steps.append(Step("publish", step.stack))
        elif not step.router or stack.traffic is None:
            source = stack.source if stack.standby is not None else None
            copies = source.name if source is not None and reads_source_store(stack) else ""
            steps.append(Step("deploy", step.stack, copies_from=copies))
    return steps
