"""`exitplan policy check`: the CrossGuard pack's rules over the planned stacks, offline."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from runbooks import render
from runbooks.commands.options import JsonOption, ProjectOption, print_json, project_of

if TYPE_CHECKING:
    from components.policy.offline import PolicyReport

CROSS_STACK = "(all stacks)"  # components.policy.offline.CROSS_STACK, without importing the pack

policy_app = typer.Typer(help="Check the stacks against the policy pack.", no_args_is_help=True)


@policy_app.command("check")
def check(
    stacks: Annotated[
        list[str] | None,
        typer.Argument(help="Stacks to check (default: all).", show_default=False),
    ] = None,
    project: ProjectOption = None,
    as_json: JsonOption = False,
) -> None:
    """Run the policy pack (`components/policy`, the rules `pulumi up --policy-pack
    components/policy` enforces) over each stack's offline plan, plus the globally unique
    names across all of them. Exits 1 on any mandatory violation; advisory ones are printed."""
    from components.planning.runner import Plan, plan_stack
    from components.policy.offline import check_plans

    proj = project_of(project)
    loaded = [proj.stack(name) for name in stacks or proj.stack_names()]
    for stack in loaded:
        stack.validate()  # report every bad stack before planning any
    planned: dict[str, Plan] = {}
    report = check_plans([plan_stack(proj, stack, planned) for stack in loaded])
    if as_json:
        print_json("policy.check", report.as_dict())
    else:
        _table(report)
    if report.mandatory:
        raise typer.Exit(1)


def _table(report: PolicyReport) -> None:
    """Per stack, a table of its violations (rule, severity, enforcement, resource), each with a
    numbered note below it: what is wrong, the fix and the rule's source. Fits 80 columns."""
    notes = render.Footnotes()
    for stack in [*report.stacks, CROSS_STACK]:
        found = [v for v in report.violations if v.stack == stack]
        if not found:
            continue
        table = Table("rule", "sev", "enf", "resource", "", **render.COMPACT, title=stack)
        table.title_justify = "left"
        for column in table.columns:
            column.no_wrap = True
        for v in found:
            note = notes.cell(f"{v.message}. Fix: {v.fix}. Source: {v.source}", 0)
            table.add_row(v.rule, v.severity[:4], v.enforcement[:3], notes.cell(v.resource), note)
        render.out.print(table)
    notes.print()
    render.out.print(
        f"{report.verdict}: {len(report.mandatory)} mandatory and "
        f"{len(report.violations) - len(report.mandatory)} advisory violations of "
        f"{len(report.policies)} rules over {', '.join(report.stacks)}",
        soft_wrap=True,
    )
