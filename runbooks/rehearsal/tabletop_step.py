"""The real step an inject may run: `exitplan drill exit-plan --dry`, in-process, through the
drill's own dry planning (`runbooks.drills.exit_plan.planned_steps`), so the room sees the
exact steps the drill would take. On the running sandbox the steps start from its weights and
its capabilities (whether it can revoke the leaving stack's key); with no sandbox running they
start from the router's configured weights, and the minutes say the target was not checked.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from components.errors import InputError
from components.stack_config import Project
from runbooks.errors import RunbookError
from runbooks.rehearsal.tabletop import Step


@dataclass(frozen=True)
class StepRun:
    """What a step printed and the figures it planned."""

    inject: str
    command: str
    steps: tuple[str, ...]
    basis: str
    figures: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        """The step for the minutes and `--json`."""
        return {
            "inject": self.inject,
            "command": self.command,
            "steps": list(self.steps),
            "basis": self.basis,
            "figures": self.figures,
        }


def run_step(project: Project, inject: str, step: Step, source: str, dest: str) -> StepRun:
    """Plan the drill dry from `source` to `dest` (the step's own --from/--to when it names
    them) and return its steps."""
    from runbooks.drills.exit_plan import ExitPlanOptions, needs, planned_steps, revoke_gap
    from runbooks.targets.sandbox_setup import running_sandbox
    from runbooks.targets.target import require

    options = ExitPlanOptions(step.source or source, step.dest or dest)
    for name, flag in ((options.source, "from"), (options.dest, "to")):
        project.stack(name, field=f"injects ({inject}).step.{flag}")
    command = f"exitplan drill exit-plan --from {options.source} --to {options.dest} --dry"
    try:
        target, absent = running_sandbox(project)
        if target is None:
            raise RunbookError(absent)
        require(target, needs(target, options), "the exit-plan drill")
        before, skipped = target.weights(), revoke_gap(target, options)
        basis = "the running sandbox: its weights and what it can do"
        revoke = f"skipped: {skipped}" if skipped else f"revokes {options.source}'s key"
    except RunbookError as exc:
        before, skipped = _configured_weights(project, options.source, options.dest, inject), None
        why = str(exc).splitlines()[0]
        basis = (
            f"the router's configured weights; no sandbox to plan on ({why}), so the "
            "target's capabilities were not checked"
        )
        revoke = f"revokes {options.source}'s key where the target can"
    steps = planned_steps(options, before, skipped)
    figures = {
        "steps": len(steps),
        "canary_percent": list(options.canary),
        "hold_s": options.hold_s,
        "rate_per_s": options.rate,
        "weights_before": before,
        "vendor_exit": revoke,
    }
    return StepRun(inject, command, tuple(steps), basis, figures)


def _configured_weights(project: Project, source: str, dest: str, inject: str) -> dict[str, int]:
    for stack in map(project.stack, project.stack_names()):
        traffic = stack.traffic
        if traffic and {source, dest} <= set(traffic.stacks):
            return {name: int(traffic.weights.get(name, 0)) for name in traffic.stacks}
    raise InputError(
        f"no router routes both {source} and {dest}",
        field=f"injects ({inject}).step",
        fix="name two stacks of one router's exitplan:traffic (from:, to:)",
    )
