"""`exitplan tabletop run|template|facts`: war-room rehearsals of an exit, with the project's
live facts, judged into After-Action Report minutes."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from runbooks import render
from runbooks.commands.options import (
    JsonOption,
    ProjectOption,
    file_option,
    folder_option,
    print_json,
    project_of,
    run_folder,
)

if TYPE_CHECKING:
    from runbooks.rehearsal.tabletop import Inject, Scenario
    from runbooks.rehearsal.tabletop_drill import LiveDrills
    from runbooks.rehearsal.tabletop_facts import ProjectFacts
    from runbooks.rehearsal.tabletop_step import StepRun

tabletop_app = typer.Typer(
    help="Tabletop rehearsals: timed injects, live facts, judged minutes.", no_args_is_help=True
)

ScenarioArgument = Annotated[
    Path, typer.Argument(help="Scenario file (YAML; see examples/tabletop/).", dir_okay=False)
]
InventoryOption = Annotated[
    Path | None,
    typer.Option(
        "--inventory",
        help="Inventory (CSV or YAML) for the exit clause, export "
        "path, owner, escalation and RTO target.",
        dir_okay=False,
        show_default=False,
    ),
]
JournalsOption = Annotated[
    Path | None,
    typer.Option(
        "--journals",
        help="Folder holding drills/*/journal.json (default: the project's .exitplan).",
        file_okay=False,
        show_default=False,
    ),
]


def _facts_of(
    scenario: Scenario, project: Path | None, inventory: Path | None, journals: Path | None
) -> ProjectFacts:
    from runbooks.rehearsal.tabletop_facts import FACTS, ProjectFacts, Where

    scenario.check_facts(set(FACTS))
    where = Where(
        project_of(project),
        scenario.service,
        scenario.primary,
        scenario.standby,
        inventory,
        journals,
        str(scenario.path),
    )
    return ProjectFacts(where)


@tabletop_app.command("run")
def tabletop_run(
    scenario_file: ScenarioArgument,
    answers_file: Annotated[
        Path | None,
        file_option(
            "--answers",
            "Answers file (exitplan tabletop template); without it, the rehearsal runs live in "
            "this terminal.",
        ),
    ] = None,
    inventory: InventoryOption = None,
    journals: JournalsOption = None,
    out: Annotated[
        Path | None,
        folder_option(
            "--out", "Folder for the minutes (default: .exitplan/tabletop/<time>-<scenario>)."
        ),
    ] = None,
    min_score: Annotated[
        float | None,
        typer.Option(
            "--min-score",
            min=0,
            max=1,
            help="Exit 1 when the score (covered ÷ expected actions) is below this.",
            show_default=False,
        ),
    ] = None,
    project: ProjectOption = None,
    as_json: JsonOption = False,
) -> None:
    """Run a rehearsal: each inject on the exercise clock, its situation with the project's
    live facts, each role's question; the answers (from --answers, or typed live), a decision
    and an owner per inject, action items. Steps an inject names run in-process: `exitplan
    drill exit-plan --dry` (dry: true), or the drill itself on the running sandbox (dry:
    false; checked, and the sandbox's lock taken, before the first inject: exit 2 when it
    cannot run), its journal and report in --out/steps/<inject>/ and its measured figures in
    the minutes (a failed drill, rolled back, is a gap). Writes minutes.md, minutes.html,
    minutes.json (an After-Action Report: timeline, answers by role, decisions, time to
    decision, strengths, gaps, the Improvement Plan, the score) and answers.yaml (to replay
    it) into --out."""
    from components.errors import InputError
    from runbooks.rehearsal.minutes import minutes_data, write_minutes
    from runbooks.rehearsal.tabletop import load_scenario
    from runbooks.rehearsal.tabletop_answers import dump, load_answers
    from runbooks.rehearsal.tabletop_judge import judge
    from runbooks.rehearsal.tabletop_session import Session

    scenario = load_scenario(scenario_file)
    if answers_file is None and (as_json or not sys.stdin.isatty()):
        why = "--json prints one object" if as_json else "stdin is not a terminal"
        raise InputError(
            f"no --answers, and the rehearsal cannot run live: {why}",
            field="--answers",
            fix="pass --answers FILE (exitplan tabletop "
            f"template {scenario_file} > answers.yaml), or run it in a terminal",
        )
    facts = _facts_of(scenario, project, inventory, journals)
    used = [facts.get(name) for name in scenario.facts_used()]
    values = {f.name: f.value for f in used}
    folder = out or run_folder(facts.project, "tabletop", scenario.name)
    given = None if answers_file is None else load_answers(answers_file, scenario)
    with _Steps(scenario, facts, folder, show=not as_json) as steps:
        if given is not None:
            answers = given
            for inject in scenario.injects:
                if inject.step:
                    steps(inject)
        else:
            answers = Session(scenario, values, render.out, steps).run()
    outcomes = {i: o for i, run in steps.done.items() if (o := run.outcome()) is not None}
    result = judge(scenario, answers, values, outcomes)
    data = minutes_data(scenario, answers, result, used, steps.done, min_score)
    files = write_minutes(folder, data, dump(scenario, answers))
    if as_json:
        print_json("tabletop.run", {**data, "files": files})
    else:
        _summary(data, files)
    if data["passed"] is False:
        raise typer.Exit(1)


class _Steps:
    """The steps of one rehearsal, run as their injects come (`steps(inject)`), what each gave
    in `done`: dry ones planned, real ones (`tabletop_drill`) checked and the sandbox's lock
    taken on entering, before the first inject, and the lock given back on leaving."""

    def __init__(
        self, scenario: Scenario, facts: ProjectFacts, folder: Path, *, show: bool
    ) -> None:
        self.scenario, self.facts, self.folder, self.show = scenario, facts, folder, show
        self.source = facts.primary.name
        self.dest = facts.standby.name if facts.standby else ""
        self.done: dict[str, StepRun] = {}
        self.live: LiveDrills | None = None

    def __enter__(self) -> _Steps:
        from runbooks.rehearsal.tabletop_drill import prepare

        real = any(i.step and not i.step.dry for i in self.scenario.injects)
        row = self.facts.inventory_row[0] if real else None  # its rto: the drill's target
        rto_s = float(row.rto_s) if row is not None else None
        self.live = prepare(self.facts.project, self.scenario, self.source, self.dest, rto_s)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.live is not None:
            self.live.close()

    def __call__(self, inject: Inject) -> StepRun:
        """Run the inject's step (it has one), drawing a real drill's progress unless --json."""
        from runbooks.progress import display
        from runbooks.rehearsal.tabletop_step import run_step

        step = inject.step
        assert step is not None
        if step.dry:
            run = run_step(self.facts.project, inject.id, step, self.source, self.dest)
        else:
            assert self.live is not None
            with display(enabled=self.show) as progress:
                run = self.live.run(inject.id, self.folder / "steps" / inject.id, progress)
        self.done[inject.id] = run
        return run


def _summary(data: dict[str, Any], files: dict[str, str]) -> None:
    from runbooks.rehearsal.minutes import headline
    from runbooks.rehearsal.tabletop import duration_text
    from runbooks.rehearsal.tabletop_step import lines

    render.out.print(f"[bold]{escape(headline(data))}[/]")
    table = Table("time", "inject", "decision", "owner", "to decide", **render.COMPACT)
    for i in data["timeline"]:
        decision = i["decision"] or {}
        seconds = i["time_to_decision_s"]
        table.add_row(
            i["time"],
            escape(i["title"]),
            escape(decision.get("text", "none")),
            escape(decision.get("owner", "-")),
            "-" if seconds is None else duration_text(seconds),
        )
    render.out.print(table)
    for inject in data["timeline"]:
        if inject["step"] and inject["step"]["drill"]:
            render.out.print(f"[bold]drill[/] at {inject['id']}:")
            for label, text in lines(inject["step"]):
                if not label.isdigit():  # the measured figures, not the planned steps
                    render.out.print(f"  {label} {escape(text)}", soft_wrap=True)
    for gap in data["gaps"]:
        render.out.print(f"[yellow]gap[/] {gap['inject']}: {escape(gap['text'])}", soft_wrap=True)
    render.out.print(f"wrote {files['markdown']}, {files['html']} and {files['json']}")


@tabletop_app.command("template")
def tabletop_template(
    scenario_file: ScenarioArgument,
    inventory: InventoryOption = None,
    journals: JournalsOption = None,
    project: ProjectOption = None,
) -> None:
    """Print an answers file for the scenario (YAML): every inject and role's prompt, with
    the live facts filled in, and empty answers for the facilitator to fill."""
    from runbooks.rehearsal.tabletop import load_scenario
    from runbooks.rehearsal.tabletop_answers import template

    scenario = load_scenario(scenario_file)
    facts = _facts_of(scenario, project, inventory, journals)
    typer.echo(template(scenario, facts.values(scenario.facts_used())), nl=False)


@tabletop_app.command("facts")
def tabletop_facts(
    service: Annotated[
        str | None,
        typer.Option(
            "--service", help="The service (default: the first primary's).", show_default=False
        ),
    ] = None,
    standby: Annotated[
        str | None,
        typer.Option(
            "--standby",
            help="Its standby stack (default: the router's failover "
            "secondary, else its first standby).",
            show_default=False,
        ),
    ] = None,
    inventory: InventoryOption = None,
    journals: JournalsOption = None,
    project: ProjectOption = None,
    as_json: JsonOption = False,
) -> None:
    """Every fact a scenario may name as `{{ fact }}`, with its current value and where it
    comes from."""
    from runbooks.rehearsal.tabletop_facts import FACTS, ProjectFacts, Where

    proj = project_of(project)
    name = service or next(
        s.spec.name for s in map(proj.stack, proj.stack_names()) if s.kind == "service"
    )
    facts = ProjectFacts(Where(proj, name, None, standby, inventory, journals, "--service"))
    rows = [facts.get(n) for n in FACTS]
    if as_json:
        print_json("tabletop.facts", {"service": name, "facts": [f.as_dict() for f in rows]})
        return
    notes = render.Footnotes()
    table = Table("fact", "value", "source", **render.COMPACT)
    for f in rows:
        table.add_row(f.name, escape(f.value), notes.cell(f.source, 30))
    render.out.print(table)
    notes.print()
