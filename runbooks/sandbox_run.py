"""Starting the sandbox for a project: which stacks, what weights, the demo model packaged (once)
and served by one Triton per stack behind the HAProxy front door."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import sandbox
from components.stack_config import Project
from model_packaging.package import PackageOptions, package
from sandbox import demo_model
from sandbox.errors import SandboxError
from sandbox.manager import Sandbox, SandboxSettings, SandboxState, StackPlan, stack_weights

SANDBOX_ROLES = ("primary", "standby")
# Built by `make bootstrap` in the exitplan checkout: Triton's python backend runs models there.
TRITON_ENV = Path(sandbox.__file__).resolve().parents[1] / ".exitplan" / "triton-env"


def sandbox_for(project: Project) -> Sandbox:
    """The project's sandbox (state in `.exitplan/sandbox/`)."""
    return Sandbox(project.root / ".exitplan" / "sandbox", TRITON_ENV)


def default_stacks(project: Project) -> list[str]:
    """Every stack with role primary or standby."""
    return [
        name for name in project.stack_names() if project.stack(name).spec.role in SANDBOX_ROLES
    ]


def start_sandbox(
    project: Project,
    stacks: list[str],
    progress: Callable[[str], None],
    settings: SandboxSettings | None = None,
) -> SandboxState:
    """Validate the stacks, package the demo model if needed, and start the sandbox."""
    running = sandbox_for(project).running()
    if running:
        raise SandboxError(
            f"a sandbox is already running (front door {running.endpoint})",
            fix="exitplan sandbox status, or exitplan sandbox down first",
        )
    loaded = [project.stack(name, field="--stacks") for name in stacks]
    for stack in loaded:
        stack.validate()
    router = next((s.traffic for s in loaded if s.traffic), None)
    weights = stack_weights(router.weights if router else {}, stacks)
    spec = loaded[0].spec
    model = spec.triton.models[0]
    progress(f"packaging the demo model as {model.name}:{model.version} (reused when unchanged)")
    packaged = package(
        PackageOptions(
            source=f"{demo_model.__file__}:build",
            out=project.root / ".exitplan" / "sandbox-model",
            name=model.name,
            version=str(model.version),
            max_batch=spec.triton.max_batch_size,
        )
    )
    settings = settings or SandboxSettings()
    if router:
        settings = replace(settings, dns_zone=router.zone, dns_name=spec.dns_name)
    plans = [
        StackPlan(s.name, s.spec.provider, weights[s.name], s.spec.model_repository) for s in loaded
    ]
    return sandbox_for(project).up(
        plans,
        Path(packaged.repository) / model.name,
        f"sha256:{packaged.onnx_sha256}",
        settings,
        progress,
    )
