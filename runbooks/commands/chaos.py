"""`exitplan chaos run|report|rollback`: Chaos Toolkit experiments with the load running, their
reports, and undoing a run from its journal."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from runbooks.commands.options import (
    JsonOption,
    ProjectOption,
    folder_option,
    print_json,
    print_written,
    project_of,
)

chaos_app = typer.Typer(
    help="Chaos Toolkit experiments (chaos/experiments/*.yaml) with the load generator running.",
    no_args_is_help=True,
)


@chaos_app.command("run")
def chaos_run(
    experiment: Annotated[Path, typer.Argument(help="Experiment file (Chaos Toolkit YAML/JSON).")],
    target: Annotated[
        str,
        typer.Option(
            "--target",
            help="sandbox, or live (deployed stacks, from pulumi stack output; process faults "
            "are refused there).",
        ),
    ] = "sandbox",
    dry: Annotated[
        bool, typer.Option("--dry", help="List the activities; change nothing.")
    ] = False,
    out: Annotated[
        Path | None, folder_option("--out", "Journal folder (default .exitplan/chaos/TIME-NAME/).")
    ] = None,
    rate: Annotated[
        float, typer.Option("--rate", min=1, help="Open-loop load during the run, requests/s.")
    ] = 50,
    project: ProjectOption = None,
    as_json: JsonOption = False,
) -> None:
    """Run an experiment through chaostoolkit-lib against the target, with open-loop load
    running; write the Chaos Toolkit journal plus exitplan's measurements (requests failed,
    when the front door marked the faulted stack down, revoke -> recovered, the production
    estimate) and report.md/.html with the timeline. The journal is written after every step
    and the target's lock held (a killed run: `exitplan chaos rollback JOURNAL`). Rollbacks
    always run and restore the weights recorded before the run. Exits 1 when the experiment
    deviated (the hypothesis after the method, or a claim of the method, was not met),
    failed, was interrupted (e.g. refused), an activity raised, or the load got a wrong
    answer or lost a request; 130 after Ctrl-C, SIGTERM or SIGHUP (rolled back)."""
    from runbooks.chaos_run import measurements
    from runbooks.chaos_run import runner as chaos

    options = chaos.ChaosOptions(experiment, project_of(project).root, target, out, rate)
    if dry:
        steps = chaos.planned_activities(*chaos.load(options))
        if as_json:
            print_json("chaos.run", {"dry": True, "steps": steps})
        else:
            for step in steps:
                args = json.dumps(step["arguments"], default=str)
                typer.echo(f"{step['phase']:<13} {step['type']:<7} {step['call']}({args})")
        return
    from chaos.claims import missed

    journal, path = chaos.run(options)
    failed = measurements.failed_activities(journal)
    summary = {
        "dry": False,
        "status": journal["status"],
        "deviated": journal["deviated"],
        "failed_activities": failed,
        "missed_claims": missed(journal),
        "journal": str(path),
        "report": str(path.parent / "report.html"),
        "exitplan": {
            k: v
            for k, v in journal["exitplan"].items()
            if k not in ("activities", "timeline", "load_epoch", "windows")
        },
    }
    if as_json:
        print_json("chaos.run", summary)
    else:
        from runbooks.reports.chaos import summary_lines

        for line in summary_lines(journal):
            typer.echo(line)
        typer.echo(f"journal: {path}")
        typer.echo(f"report: {path.parent / 'report.html'}")
    from runbooks import interrupts
    from runbooks.reports.chaos import uncounted

    if interrupts.received():  # the run ended `interrupted` and its rollbacks ran
        raise KeyboardInterrupt(f"{interrupts.received()}; the rollbacks ran")
    bad = failed or missed(journal) or uncounted(journal)
    if journal["status"] != "completed" or journal["deviated"] or bad:
        raise typer.Exit(1)


@chaos_app.command("report")
def chaos_report(
    journal_path: Annotated[Path, typer.Argument(help="The experiment's journal.json.")],
    as_json: JsonOption = False,
) -> None:
    """Render report.md and a self-contained report.html from an experiment's journal."""
    from runbooks.chaos_run.rollback import read_journal
    from runbooks.reports.chaos import write_report

    journal = read_journal(journal_path)
    md, html = write_report(journal, journal_path.parent)
    print_written("chaos.report", md, html, as_json=as_json)


@chaos_app.command("rollback")
def chaos_rollback(
    journal_path: Annotated[
        Path, typer.Argument(help="The journal.json of the run to undo (written after every step).")
    ],
    project: ProjectOption = None,
    as_json: JsonOption = False,
) -> None:
    """Put the target back as the run found it, from its journal (a run killed at any step,
    SIGKILL included): restart or resume the stacks it took down, a new key for a key it
    revoked, the weights recorded before it. Holds the target's lock; safe to run twice (the
    second finds nothing to do). Exits 1 when a step failed or the state still differs."""
    from runbooks.chaos_run.rollback import rollback

    root = project_of(project).root if project is not None else None
    result = rollback(journal_path, root)
    if as_json:
        print_json("chaos.rollback", result)
    else:
        for step in result["steps"]:
            where = f" {step['stack']}" if step["stack"] else ""
            status = step["status"] + (f": {step['error']}" if "error" in step else "")
            typer.echo(f"{step['what']}{where} ({step['detail']}): {status}")
        if not result["steps"] and result["restored"]:
            # one line: "nothing to undo", then "restored", contradicted each other (U9)
            why = result.get("note", "the target is as the run found it")
            typer.echo(f"nothing to undo: {why} (journal {result['journal']})")
        else:
            verdict = (
                "restored"
                if result["restored"]
                else "NOT restored: " + ", ".join(result["remaining"] or ["a step failed"])
            )
            typer.echo(f"{result['target']} target {verdict} (journal {result['journal']})")
    if not result["restored"]:
        raise typer.Exit(1)
