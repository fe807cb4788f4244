"""A real step (`dry: false`): the exit-plan drill itself, on the running sandbox, under load,
in-process through the drill's public entry point (`runbooks.drills.exit_plan.run_exit_plan`,
what `exitplan drill exit-plan` runs), its measured figures for the minutes.

Before the room starts (`prepare`): every real step the scenario names must be able to run: a
running sandbox that holds both stacks and can do what the drill asks, and the sandbox's lock
(`runbooks.drills.lock.TargetLock`, as the drill command takes it), taken then and held for the
whole rehearsal, so that no other run takes the target between the check and the step.
Anything missing is an `InputError` naming the scenario file, the inject and the fix (exit 2):
the step is never faked.

At the inject (`LiveDrills.run`): the drill writes its journal and report into
`<out>/steps/<inject>/`. A drill that fails (a pre-flight check, a gate, an error) has rolled
itself back, as always; its cause is in the figures and the minutes record it as a gap. Only
an interrupt (Ctrl-C, SIGTERM: `DrillInterrupted`, rolled back too) stops the rehearsal.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import ExitStack
from functools import partial
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from components.errors import InputError
from components.stack_config import Project
from model_packaging.progress import Progress
from runbooks.errors import DrillInterrupted, RunbookError
from runbooks.rehearsal.tabletop import Scenario
from runbooks.rehearsal.tabletop_step import StepRun, command_of, drill_options, plan_of

if TYPE_CHECKING:
    from runbooks.drills.exit_options import ExitPlanOptions
    from runbooks.targets.target import Target

TARGET = "sandbox"
DRY_FIX = "or set dry: true on the step to plan the drill without running it"


class LiveDrills:
    """The real steps of one rehearsal, checked, holding the sandbox's lock until closed."""

    def __init__(
        self,
        project: Project,
        target: Target,
        options: dict[str, ExitPlanOptions],
        held: ExitStack,
    ) -> None:
        self.project, self.target, self.options, self.held = project, target, options, held

    def __enter__(self) -> LiveDrills:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Give the sandbox's lock back."""
        self.held.close()

    def run(self, inject: str, folder: Path, progress: Progress) -> StepRun:
        """Run the inject's drill with its journal and report in `folder`; its figures. A
        failed drill (rolled back) is a result, not an error; an interrupt is raised."""
        from runbooks.drills.exit_plan import run_exit_plan
        from runbooks.reports.drill import write_report
        from runbooks.reports.journal import Journal

        options = self.options[inject]
        steps, figures, _ = plan_of(options, self.target)
        folder.mkdir(parents=True, exist_ok=True)
        journal_path = folder / "journal.json"
        cause = None
        try:
            run_exit_plan(self.project, self.target, options, journal_path, progress)
        except DrillInterrupted:
            raise
        except RunbookError as exc:
            cause = exc.cause + (f" (fix: {exc.fix})" if exc.fix else "")
        except Exception as exc:  # the drill rolled back and raised it: the room sees why
            cause = f"{type(exc).__name__}: {exc}"
        finally:
            journal = Journal.load(journal_path).data if journal_path.exists() else None
            if journal is not None:
                write_report(journal, folder)
        basis = "the running sandbox: the drill ran under load (measured below)"
        command = command_of(options, folder)
        drill = measured(journal, journal_path, cause)
        return StepRun(inject, command, tuple(steps), basis, figures, False, drill)


def measured(journal: dict[str, Any] | None, path: Path, cause: str | None) -> dict[str, Any]:
    """A drill's measured figures from its journal (None: it failed before writing one) and
    the error it raised (`cause`, None when it returned): the verdict and its summary, RTO
    measured, target and estimate, requests sent and failed, p99 per gated phase, what it left
    changed on the target, where its journal and report are."""
    ep: dict[str, Any] = (journal or {}).get("exitplan") or {}
    verdict = ep.get("verdict") or {}
    passed = (
        cause is None
        and journal is not None
        and journal.get("status") == "completed"
        and verdict.get("passed") is True
    )
    load = ep.get("load") or {}
    return {
        "verdict": "PASSED" if passed else "FAILED",
        "passed": passed,
        "status": journal.get("status") if journal else "not started",
        "summary": str(verdict.get("summary") or cause or "no verdict"),
        "cause": cause,
        "rto_measured_s": ep.get("rto_measured_s"),
        "rto_target_s": ep.get("rto_target_s"),
        "rto_estimate_s": ep.get("rto_estimate_s"),
        "requests_sent": load.get("scheduled"),
        "requests_failed": load.get("failed"),
        "wrong_answers": load.get("wrong_answers"),
        "lost": load.get("lost"),
        "phases": [
            {key: p.get(key) for key in ("name", "sent", "failed", "p50_ms", "p99_ms")}
            for p in ep.get("phases") or []
            if p.get("kind") == "phase"
        ],
        "left_changed": [c["detail"] for c in ep.get("changes") or [] if c["restored"] is False],
        "journal": str(path) if journal is not None else None,
        "report": str(path.parent / "report.html") if journal is not None else None,
    }


def prepare(
    project: Project, scenario: Scenario, source: str, dest: str, rto_s: float | None
) -> LiveDrills | None:
    """Check, before the first inject, that every real step can run, and take the sandbox's
    lock for the rehearsal (module docstring); None when no inject runs a real step. `source`
    and `dest`: the scenario's primary and standby; `rto_s`: the inventory's RTO target."""
    from runbooks.drills.lock import TargetLock
    from runbooks.targets.sandbox_setup import running_sandbox

    live = [(n, i) for n, i in enumerate(scenario.injects) if i.step and not i.step.dry]
    if not live:
        return None
    options = {}
    for n, inject in live:
        assert inject.step is not None
        options[inject.id] = drill_options(inject.step, source, dest, rto_s)
        for stack, key in ((options[inject.id].source, "from"), (options[inject.id].dest, "to")):
            project.stack(stack, field=f"injects[{n}] ({inject.id}).step.{key}")
    n, first = live[0]

    def refuse(problem: str, fix: str, at: int = n, inject: str = first.id) -> InputError:
        return InputError(
            f"inject {inject} runs the exit-plan drill for real (dry: false), but {problem}",
            file=str(scenario.path),
            field=f"injects[{at}] ({inject}).step",
            fix=f"{fix}; {DRY_FIX}",
        )

    target, absent = running_sandbox(project)
    if target is None:
        stacks = sorted({s for o in options.values() for s in (o.source, o.dest)})
        raise refuse(
            f"there is no sandbox to run it on ({absent})",
            "start it: exitplan sandbox up " + " ".join(f"--stacks {s}" for s in stacks),
        )
    for at, inject in live:
        _check(target, options[inject.id], partial(refuse, at=at, inject=inject.id))
    held = ExitStack()
    try:
        held.enter_context(TargetLock(TARGET, project.root, f"tabletop run {scenario.path}"))
    except RunbookError as exc:  # TargetLocked: another run holds the sandbox
        raise refuse(exc.cause, exc.fix) from None
    return LiveDrills(project, target, options, held)


def _check(
    target: Target, options: ExitPlanOptions, refuse: Callable[[str, str], InputError]
) -> None:
    """Refuse what the drill would refuse before changing anything: a stack the sandbox does
    not run, an operation it cannot do (a pilot-light standby is scaled by the drill first, so
    only its stacks are checked)."""
    from runbooks.drills.exit_plan import short_of_replicas
    from runbooks.drills.exit_preflight import needs
    from runbooks.errors import UnsupportedOperation
    from runbooks.targets.target import require

    running = target.stacks()
    for stack in (options.source, options.dest):
        if stack not in running:
            raise refuse(
                f"{stack} is not one of the sandbox's stacks ({', '.join(running)})",
                f"restart the sandbox with it: exitplan sandbox down; exitplan sandbox up "
                f"--stacks {options.source} --stacks {options.dest}",
            )
    if short_of_replicas(target, options.dest):
        return
    try:
        require(target, needs(target, options), "the exit-plan drill")
    except UnsupportedOperation as exc:
        raise refuse(exc.cause, exc.fix) from None
