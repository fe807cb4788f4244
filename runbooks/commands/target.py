"""`exitplan target reset`: put a target back in its configured state (the state a drill, a
failover or a chaos run must start from)."""

from __future__ import annotations

from typing import Annotated

import typer

from runbooks import render
from runbooks.commands.options import JsonOption, ProjectOption, print_json, project_of, run_folder

target_app = typer.Typer(
    help="The target drills and experiments act on: put it back as configured.",
    no_args_is_help=True,
)


@target_app.command("reset")
def target_reset(
    target: Annotated[
        str, typer.Option("--target", help="sandbox, or live (deployed stacks).")
    ] = "sandbox",
    project: ProjectOption = None,
    as_json: JsonOption = False,
) -> None:
    """Put the target back in its configured state: the router's weights as the stack files
    set them, each stack running what its standby level runs at rest, a new store key for
    each revoked one. Holds the target's lock (exit 2 while a run holds it); journaled under
    .exitplan/resets/; safe to run twice (the second finds nothing to do)."""
    from runbooks.drills.clean_start import reset
    from runbooks.drills.lock import TargetLock
    from runbooks.targets.target import KINDS, target_for

    if target not in KINDS:
        raise typer.BadParameter(f"{target!r}: use {' or '.join(KINDS)}", param_hint="--target")
    proj = project_of(project)
    journal = run_folder(proj, "resets", target) / "journal.json"
    with TargetLock(target, proj.root, f"target reset --target {target}"):
        done = reset(proj, target_for(target, proj.root), journal)
    if as_json:
        written = str(journal) if done else None
        print_json("target.reset", {"target": target, "reset": done, "journal": written})
    elif done:
        render.out.print(f"reset: {'; '.join(done)}\njournal: {journal}")
    else:
        render.out.print(f"the {target} target is already in its configured state")
