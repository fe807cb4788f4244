"""`exitplan drill exit-plan|failover|rollback|report`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from runbooks import render
from runbooks.commands.options import (
    JsonOption,
    ProjectOption,
    print_json,
    print_written,
    project_of,
    run_folder,
)
from runbooks.progress import display

if TYPE_CHECKING:
    from components.stack_config import Project
    from model_packaging.progress import Progress
    from runbooks.reports.journal import Journal
    from runbooks.targets.target import Target

drill_app = typer.Typer(
    help="Exit-plan drills with journals, gates, rollback and reports.", no_args_is_help=True
)


@drill_app.command("exit-plan")
def drill_exit_plan(
    source: Annotated[str, typer.Option("--from", help="The stack to leave.")],
    dest: Annotated[str, typer.Option("--to", help="The stack (in another cloud) to move to.")],
    target: Annotated[
        str,
        typer.Option(
            "--target", help="sandbox, or live (deployed stacks, from pulumi stack output)."
        ),
    ] = "sandbox",
    rto: Annotated[float | None, typer.Option("--rto", help="RTO target, seconds.")] = None,
    rate: Annotated[float, typer.Option("--rate", min=1, help="Load, requests/s.")] = 200,
    canary: Annotated[str, typer.Option("--canary", help="Percent on --to per step.")] = (
        "1,10,50,100"
    ),
    hold: Annotated[float, typer.Option("--hold", min=0.5, help="Seconds per step.")] = 5,
    slo_p99_ms: Annotated[
        float | None, typer.Option("--slo-p99-ms", help="p99 SLO for every gate.")
    ] = None,
    max_error_rate: Annotated[
        float, typer.Option("--max-error-rate", min=0, max=1, help="Allowed failed share.")
    ] = 0.0,
    baseline_factor: Annotated[
        float,
        typer.Option(
            "--baseline-factor",
            min=1,
            help="A gate fails when its p99 is over this multiple of the baseline p99 (+1 ms); "
            "raise it for a standby that is farther away.",
        ),
    ] = 3.0,
    dry: Annotated[bool, typer.Option("--dry", help="Print every step; change nothing.")] = False,
    keep: Annotated[bool, typer.Option("--keep", help="Stay on --to (no rollback).")] = False,
    reference: Annotated[
        Path | None,
        typer.Option(
            "--reference",
            help="reference.json (exitplan package) every answer is checked against; default: "
            "the target's (the sandbox's demo package).",
        ),
    ] = None,
    max_lag_ms: Annotated[
        float,
        typer.Option(
            "--max-lag-ms",
            min=0,
            help="The verdict fails when the load generator's lag p99 behind its schedule is "
            "over this.",
        ),
    ] = 5.0,
    out: Annotated[
        Path | None, typer.Option("--out", help="Folder for journal and report.")
    ] = None,
    project: ProjectOption = None,
    as_json: JsonOption = False,
) -> None:
    """Rehearse leaving a cloud under load: pre-flight, baseline, gated canary steps to 100 %
    on --to, revoke --from's credentials, verify, roll back. Writes journal.json (after every
    step) and report.md/.html, holding the target's lock (.exitplan/locks/TARGET.lock). Exit 1
    when a check or gate fails (rolled back), 130 on Ctrl-C, SIGTERM or SIGHUP (rolled back), 2
    when another run holds the target's lock."""

    from runbooks.drills.canary import parse_canary
    from runbooks.drills.clean_start import require_clean_start
    from runbooks.drills.exit_options import ExitPlanOptions, planned_steps
    from runbooks.drills.exit_plan import run_exit_plan
    from runbooks.drills.exit_preflight import revoke_gap, validate
    from runbooks.reports.drill import write_report

    options = ExitPlanOptions(
        source,
        dest,
        rate,
        parse_canary(canary),
        hold,
        slo_p99_ms,
        max_error_rate,
        baseline_factor,
        rto_s=rto,
        keep=keep,
        max_lag_ms=max_lag_ms,
        reference=reference,
    )
    proj = project_of(project)
    drill_target = _drill_target(proj, target, source, dest)
    validate(proj, drill_target, options)
    if dry:
        require_clean_start(proj, drill_target, "the exit-plan drill")
        skipped = revoke_gap(drill_target, options)
        steps = planned_steps(options, drill_target.weights(), skipped)
        _print_steps("drill.exit-plan", steps, as_json)
        return
    folder = out or run_folder(proj, "drills", f"{source}-to-{dest}")
    journal = _run_in_folder(
        "drill.exit-plan",
        (target, proj, f"drill exit-plan --from {source} --to {dest}"),
        folder,
        lambda path, progress: run_exit_plan(proj, drill_target, options, path, progress),
        write_report,
        as_json,
    )
    if not as_json:
        render.drill_verdict(journal.data, folder)
    if not journal.exitplan["verdict"]["passed"]:
        raise typer.Exit(1)


@drill_app.command("failover")
def drill_failover(
    source: Annotated[str, typer.Option("--from", help="The primary to kill.")],
    dest: Annotated[str, typer.Option("--to", help="Its standby (another provider).")],
    level: Annotated[
        str | None,
        typer.Option("--level", help="hot, warm or pilot-light (default: the standby's own)."),
    ] = None,
    model: Annotated[
        str | None, typer.Option("--model", help="The model the stacks serve (checked).")
    ] = None,
    rate: Annotated[float, typer.Option("--rate", min=1, help="Load, requests/s.")] = 50,
    router: Annotated[
        str,
        typer.Option(
            "--router",
            help="frontdoor (L7 retries and redispatch) or dns (none: failures show as a DNS "
            "router's clients see them).",
        ),
    ] = "frontdoor",
    hold: Annotated[
        float, typer.Option("--hold", min=0.5, help="Seconds of baseline and after rotation.")
    ] = 3,
    target: Annotated[str, typer.Option("--target", help="sandbox (live is refused).")] = (
        "sandbox"
    ),
    dry: Annotated[bool, typer.Option("--dry", help="Print every step; change nothing.")] = False,
    out: Annotated[
        Path | None, typer.Option("--out", help="Folder for journal and report.")
    ] = None,
    project: ProjectOption = None,
    as_json: JsonOption = False,
) -> None:
    """Unplanned failover under load: SIGKILL --from's Triton, do what --to's standby level
    requires (pilot-light: start, download, load; warm: scale), join the rotation; measure
    every phase from the kill, and the achievable RTO (measured + the catalog's estimates of
    what the sandbox cannot reproduce). Rolled back at the end (primary restarted, weights and
    the standby's level restored). Exit 1 when the standby never served all traffic correctly,
    2 on bad input or while another run holds the target's lock."""

    from runbooks.drills.failover import (
        FailoverOptions,
        others_of,
        planned_steps,
        run_failover,
        served_model,
        validate,
    )
    from runbooks.reports.failover import write_report

    if target == "live":
        raise typer.BadParameter(
            "the failover drill SIGKILLs the primary and scales the standby: on live stacks it "
            "would be a real outage; rehearse it on the sandbox",
            param_hint="--target",
        )
    options = FailoverOptions(source, dest, level, model, rate, router, hold)
    proj = project_of(project)
    validate(proj, options)
    drill_target = _drill_target(proj, target, source, dest)
    if dry:
        from runbooks.drills.clean_start import require_clean_start
        from runbooks.drills.exit_preflight import require_on_target
        from runbooks.targets.target import ScalableTarget

        for stack in (source, dest):
            require_on_target(drill_target, proj.stack(stack))
        served_model(drill_target, options)
        require_clean_start(proj, drill_target, "the failover drill")
        own = drill_target.level(dest)["level"] if isinstance(drill_target, ScalableTarget) else "?"
        others = others_of(drill_target, options)
        steps = planned_steps(options, level or own, drill_target.weights(), others)
        _print_steps("drill.failover", steps, as_json)
        return
    folder = out or run_folder(proj, "drills", f"failover-{source}-to-{dest}")
    journal = _run_in_folder(
        "drill.failover",
        (target, proj, f"drill failover --from {source} --to {dest}"),
        folder,
        lambda path, progress: run_failover(proj, drill_target, options, path, progress),
        write_report,
        as_json,
    )
    if not as_json:
        verdict = journal.exitplan["verdict"]
        render.out.print(
            f"{'PASSED' if verdict['passed'] else 'FAILED'}: {verdict['summary']}\n"
            f"report: {folder / 'report.html'}"
        )
    if not journal.exitplan["verdict"]["passed"]:
        raise typer.Exit(1)


def _print_steps(command: str, steps: list[str], as_json: bool) -> None:
    """A dry run's steps: numbered lines, or with --json one object `{"dry": true, "steps"}`."""
    from runbooks.drills.canary import steps_text

    if as_json:
        print_json(command, {"dry": True, "steps": steps})
    else:
        render.out.print(steps_text(steps))


def _run_in_folder(
    schema: str,
    lock: tuple[str, Project, str],
    folder: Path,
    run: Callable[[Path, Progress], Journal],
    report: Callable[[dict[str, Any], Path], object],
    as_json: bool,
) -> Journal:
    """Run a drill under the target's lock (`lock`: target kind, project, the command that
    holds it) with its progress display; whatever happens, the journal it wrote gets its
    report, what is left on the target is named, and with --json the run is printed (a failed
    or interrupted drill reports too, then exits 1 or 130)."""
    from runbooks.drills.lock import TargetLock
    from runbooks.reports.journal import Journal

    kind, proj, command = lock
    journal = folder / "journal.json"
    with TargetLock(kind, proj.root, command), display(enabled=not as_json) as progress:
        try:
            return run(journal, progress)
        finally:
            if journal.exists():
                written = Journal.load(journal)
                report(written.data, folder)
                _tell_what_is_left(written)
                if as_json:
                    print_json(schema, _run_json(written))


def _tell_what_is_left(journal: Journal) -> None:
    """After a drill that did not complete (its own rollback failed too), name the changes
    still on the target and the command that undoes them."""
    changes = journal.exitplan["changes"]
    left = [c["detail"] for c in changes if c["restored"] is False]
    if left and journal.data["status"] != "completed":
        render.error(
            f"still changed on the target: {'; '.join(left)}\n"
            f"  undo with: exitplan drill rollback {journal.path}"
        )


def _run_json(journal: Journal) -> dict[str, Any]:
    """`drill exit-plan --json` of a drill that ran: the journal's status, where the journal
    and the report are, and exitplan's measurements and verdict."""
    return {
        "dry": False,
        "status": journal.data["status"],
        "journal": str(journal.path),
        "report": str(journal.path.parent / "report.html"),
        **journal.exitplan,
    }


def _drill_target(proj: Project, kind: str, source: str, dest: str) -> Target:
    """The Target a drill acts on (`target_for`: the running sandbox, or the live stacks from
    `pulumi stack output` and the router config of the stack that routes both)."""
    from runbooks.targets.target import KINDS, target_for

    if kind not in KINDS:
        raise typer.BadParameter(f"{kind!r}: use {' or '.join(KINDS)}", param_hint="--target")
    return target_for(kind, proj.root, stacks=[source, dest])


@drill_app.command("rollback")
def drill_rollback(
    journal_path: Annotated[Path, typer.Argument(help="The drill's journal.json.")],
    project: ProjectOption = None,
    as_json: JsonOption = False,
) -> None:
    """Undo what a drill's journal says it changed and did not restore (safe to run twice), on
    the target the journal names (the sandbox, or the live stacks), holding that target's lock:
    exit 2 while another run (the drill itself, a chaos run) holds it; the lock of a drill that
    was killed is taken over."""
    from runbooks.drills.clean_start import RESET, differences
    from runbooks.drills.failover import restore_failover
    from runbooks.drills.lock import TargetLock
    from runbooks.drills.restore import restore
    from runbooks.errors import RunbookError
    from runbooks.reports.journal import Journal

    journal = Journal.load(journal_path)
    ep = journal.exitplan
    proj = project_of(project)
    with TargetLock(ep["target"], proj.root, f"drill rollback {journal_path}"):
        drill_target = _drill_target(proj, ep["target"], ep["from"], ep["to"])
        undo = restore_failover if ep.get("drill") == "failover" else restore
        done = undo(drill_target, journal)
        if journal.data["status"] == "running":  # the run was killed: it ends here
            journal.finish("interrupted", False, "killed mid-run; rolled back from its journal")
        try:
            still = differences(proj, drill_target)
        except RunbookError as exc:  # the rollback is done; only the look after it failed
            still = []
            render.error(f"could not compare the target with its configured state: {exc}")
    if still and not as_json:  # a later run's changes, or another run's leftovers
        render.error(
            "the target still differs from its configured state (another run's changes?): "
            + "; ".join(d.detail for d in still)
            + f"\n  fix: roll that run back, or {RESET} --target {ep['target']}"
        )
    if as_json:
        print_json("drill.rollback", {"journal": str(journal_path), "restored": done})
    else:
        render.out.print(f"restored: {', '.join(done)}" if done else "nothing left to restore")


@drill_app.command("report")
def drill_report(
    journal_path: Annotated[Path, typer.Argument(help="The drill's journal.json.")],
    as_json: JsonOption = False,
) -> None:
    """Render report.md and a self-contained report.html from a journal."""
    from runbooks.reports import drill, failover
    from runbooks.reports.journal import Journal

    journal = Journal.load(journal_path)
    failed_over = journal.exitplan.get("drill") == "failover"
    write_report = failover.write_report if failed_over else drill.write_report
    md, html = write_report(journal.data, journal_path.parent)
    print_written("drill.report", md, html, as_json=as_json)
    if journal.data.get("status") == "running":  # review U9: reported like a finished drill
        render.err.print(
            f"[yellow]note:[/] {render.escape(str(journal_path))} is of a drill that never "
            "finished (killed, or still running): the report holds what it recorded, no "
            f"verdict\n  fix: exitplan drill rollback {render.escape(str(journal_path))}",
            soft_wrap=True,
        )
