"""The real step an inject may run, and what it shows the room. A dry step (`dry: true`) is
`exitplan drill exit-plan --dry`, in-process, through the drill's own dry planning
(`runbooks.drills.exit_options.planned_steps`), so the room sees the exact steps the drill would
take. On the running sandbox the steps start from its weights and its capabilities (whether it
can revoke the leaving stack's key); with no sandbox running they start from the router's
configured weights, and the minutes say the target was not checked. A real step (`dry: false`)
runs the drill itself (`tabletop_drill`); its `StepRun` carries the measured figures too.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from components.errors import InputError
from components.stack_config import Project
from runbooks.errors import RunbookError
from runbooks.rehearsal.tabletop import Step
from runbooks.rehearsal.tabletop_judge import Outcome
from runbooks.reports.kit import format_ms, format_secs

if TYPE_CHECKING:
    from runbooks.drills.exit_options import ExitPlanOptions
    from runbooks.targets.target import Target

T = TypeVar("T")
# A real step's load and hold when the scenario sets none: the whole drill (8 holds and the
# settles between them) takes ~20 s, so a rehearsal is not held up for minutes.
REAL_RATE = 50.0
REAL_HOLD_S = 2.0
# The command's flags for the options a step may set, as `exitplan drill exit-plan` takes them.
FLAGS = (
    ("--rate", "rate"),
    ("--hold", "hold_s"),
    ("--rto", "rto_s"),
    ("--baseline-factor", "baseline_factor"),
    ("--max-lag-ms", "max_lag_ms"),
)


@dataclass(frozen=True)
class StepRun:
    """What a step printed, the figures it planned and, for a real step, what it measured
    (`drill`: the verdict, RTO, requests, p99 per phase, journal; `tabletop_drill.measured`)."""

    inject: str
    command: str
    steps: tuple[str, ...]
    basis: str
    figures: dict[str, Any]
    dry: bool = True
    drill: dict[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        """The step for the minutes and `--json`."""
        return {
            "inject": self.inject,
            "command": self.command,
            "dry": self.dry,
            "steps": list(self.steps),
            "basis": self.basis,
            "figures": self.figures,
            "drill": self.drill,
        }

    def outcome(self) -> Outcome | None:
        """A real drill's verdict as a strength or a gap of the minutes; None for a dry step."""
        if self.drill is None:
            return None
        d = self.drill
        ran = f"the exit-plan drill ({self.command})"
        if d["passed"]:
            return Outcome(True, f"{ran} PASSED: {d['summary']}")
        undo = f"; undo what it left with: exitplan drill rollback {d['journal']}"
        return Outcome(
            False,
            f"{ran} FAILED: {d['cause'] or d['summary']}",
            f"fix what failed the drill and rerun it: {self.command}"
            + (f"; its report: {d['report']}" if d["report"] else "")
            + (undo if d["left_changed"] else ""),
        )


def lines(step: dict[str, Any]) -> list[tuple[str, str]]:
    """A step (`StepRun.as_dict`) as (label, text) lines, the same in the minutes and on the
    terminal: the command, what it was planned on, the measured figures of a real drill (each
    path whole), then every planned step."""
    found = [("run", step["command"]), ("on", step["basis"])]
    drill = step.get("drill")
    if drill:
        found += _measured_lines(drill)
    return found + [(str(n), s) for n, s in enumerate(step["steps"], 1)]


def _measured_lines(d: dict[str, Any]) -> list[tuple[str, str]]:
    found = [("verdict", f"{d['verdict']}: {d['summary']}")]
    if d["cause"] and d["cause"] not in d["summary"]:
        found.append(("cause", d["cause"]))
    measured, target = d["rto_measured_s"], d["rto_target_s"]
    rto = "not measured" if measured is None else f"measured {format_secs(measured)}"
    if target is not None:
        met = measured is not None and measured <= target
        rto += f" vs target {format_secs(target)} ({'met' if met else 'missed'})"
    else:
        rto += " (no RTO target: set rto: on the step, or pass --inventory)"
    if d["rto_estimate_s"] is not None:
        rto += f"; standby estimate {format_secs(d['rto_estimate_s'])}"
    found.append(("RTO", rto))
    if d["requests_sent"] is not None:
        found.append(
            (
                "requests",
                f"{d['requests_sent']:,} sent, {d['requests_failed']:,} failed "
                f"({d['wrong_answers']:,} wrong answers, {d['lost']:,} lost)",
            )
        )
    if d["phases"]:
        found.append(
            ("p99", ", ".join(f"{p['name']} {format_ms(p['p99_ms'])}" for p in d["phases"]))
        )
    if d["left_changed"]:
        found.append(("left changed", "; ".join(d["left_changed"])))
    found += [(what, d[what]) for what in ("journal", "report") if d[what]]
    return found


def drill_options(
    step: Step, source: str, dest: str, rto_s: float | None = None
) -> ExitPlanOptions:
    """The drill's options for a step: its from/to (else `source`/`dest`) and the numbers it
    sets; else the drill's defaults for a dry step, REAL_RATE and REAL_HOLD_S for a real one
    (and `rto_s`, the inventory's RTO, as its target)."""
    from runbooks.drills.exit_options import ExitPlanOptions

    options = ExitPlanOptions(step.source or source, step.dest or dest)
    if not step.dry:
        options = replace(options, rate=REAL_RATE, hold_s=REAL_HOLD_S, rto_s=rto_s)
    return replace(
        options,
        rate=_given(step.rate, options.rate),
        hold_s=_given(step.hold_s, options.hold_s),
        rto_s=_given(step.rto_s, options.rto_s),
        baseline_factor=_given(step.baseline_factor, options.baseline_factor),
        max_lag_ms=_given(step.max_lag_ms, options.max_lag_ms),
    )


def _given(value: T | None, default: T) -> T:
    return default if value is None else value


def command_of(options: ExitPlanOptions, out: Path | None = None) -> str:
    """The command a person would type for the same drill: `--dry` without `out`."""
    from runbooks.drills.exit_options import ExitPlanOptions

    defaults = ExitPlanOptions(options.source, options.dest)
    parts = [f"exitplan drill exit-plan --from {options.source} --to {options.dest}"]
    for flag, attr in FLAGS:
        value = getattr(options, attr)
        if value is not None and value != getattr(defaults, attr):
            parts.append(f"{flag} {value:g}")
    parts.append("--dry" if out is None else f"--out {out}")
    return " ".join(parts)


def plan_of(
    options: ExitPlanOptions, target: Target
) -> tuple[list[str], dict[str, Any], str | None]:
    """The drill's planned steps on `target` (from its weights and what it can revoke), the
    planned figures, and why it cannot revoke --from's key (None when it can)."""
    from runbooks.drills.exit_preflight import revoke_gap

    skipped = revoke_gap(target, options)
    revoke = f"skipped: {skipped}" if skipped else f"revokes {options.source}'s key"
    return *_planned(options, target.weights(), skipped, revoke), skipped


def _planned(
    options: ExitPlanOptions, before: dict[str, int], skipped: str | None, revoke: str
) -> tuple[list[str], dict[str, Any]]:
    from runbooks.drills.exit_options import planned_steps

    steps = planned_steps(options, before, skipped)
    figures = {
        "steps": len(steps),
        "canary_percent": list(options.canary),
        "hold_s": options.hold_s,
        "rate_per_s": options.rate,
        "weights_before": before,
        "vendor_exit": revoke,
    }
    return steps, figures


def run_step(project: Project, inject: str, step: Step, source: str, dest: str) -> StepRun:
    """Plan the drill dry from `source` to `dest` (the step's own --from/--to when it names
    them) and return its steps."""
    from runbooks.drills.exit_preflight import needs
    from runbooks.targets.sandbox_setup import running_sandbox
    from runbooks.targets.target import require

    options = drill_options(step, source, dest)
    for name, flag in ((options.source, "from"), (options.dest, "to")):
        project.stack(name, field=f"injects ({inject}).step.{flag}")
    try:
        target, absent = running_sandbox(project)
        if target is None:
            raise RunbookError(absent)
        require(target, needs(target, options), "the exit-plan drill")
        steps, figures, _ = plan_of(options, target)
        basis = "the running sandbox: its weights and what it can do"
    except RunbookError as exc:
        before = _configured_weights(project, options.source, options.dest, inject)
        why = str(exc).splitlines()[0]
        basis = (
            f"the router's configured weights; no sandbox to plan on ({why}), so the "
            "target's capabilities were not checked"
        )
        revoke = f"revokes {options.source}'s key where the target can"
        steps, figures = _planned(options, before, None, revoke)
    return StepRun(inject, command_of(options), tuple(steps), basis, figures)


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
