"""`exitplan sandbox explain STACK`: the stack's planned Triton beside the command line the
sandbox runs for it, each substitution with its reason (`sandbox/substitutions.csv`)."""

from __future__ import annotations

from typing import Any

from components.stack_config import Project
from runbooks.targets.sandbox_plan import planned_triton
from runbooks.targets.sandbox_setup import sandbox_for
from sandbox.planned import (
    ADDED_FLAGS,
    PREVIEW_PORTS,
    VARIABLE,
    PlannedTriton,
    preview_repository,
    sandbox_command,
)
from sandbox.triton import triton_install

# Who holds the planned identity's grants in the sandbox, by store scheme.
STAND_INS = {
    "s3": "an IAM user on moto holding the planned role's policy documents (its key in the "
    "vault, given to this stack's Triton and copy step only)",
    "gs": "a permission gate holding the planned role bindings in front of the GCS emulator, "
    "reached by this stack's Triton and copy step only",
    "as": "a permission gate holding the planned role assignments in front of Azurite, "
    "reached by this stack's copy step only",
}


def explain(project: Project, name: str) -> dict[str, Any]:
    """The explain report of one stack (the `sandbox.explain` JSON contract)."""
    stack = project.stack(name, field="STACK")
    planned = planned_triton(project, stack, {})
    state = sandbox_for(project).running()
    running = bool(state and name in state.planned)
    if state and running:
        substitutions = state.substitutions.get(name, [])
    else:
        substitutions = [s.as_dict() for s in _preview(planned).substitutions]
    kind = planned.store_uri.split("://", 1)[0]
    return {
        "stack": name,
        "running": running,
        "planned": planned.as_dict(),
        "sandbox_argv": _argv(planned, substitutions),
        "substitutions": substitutions,
        "identity_stand_in": STAND_INS.get(kind, "none: the sandbox cannot run this stack"),
    }


def _preview(planned: PlannedTriton) -> Any:
    install = triton_install()
    env = {**planned.env, **{name: "<secret>" for name in planned.secret_env}}
    return sandbox_command(
        planned,
        binary=install.binary,
        backends=install.python_backend.parent / "<stack backends>",
        ports=PREVIEW_PORTS,
        repository=preview_repository(planned),
        env=env,
    )


def _argv(planned: PlannedTriton, substitutions: list[dict[str, str]]) -> list[str]:
    """The sandbox's command line: the planned args with each substitution applied (secret
    values masked), the flags the sandbox adds at the end."""
    replaced = {s["planned"]: s["sandbox"] for s in substitutions}
    argv = [replaced.get(arg, VARIABLE.sub("<secret>", arg)) for arg in planned.args]
    added = [f"{s['what']}={s['sandbox']}" for s in substitutions if s["what"] in ADDED_FLAGS]
    return argv + added
