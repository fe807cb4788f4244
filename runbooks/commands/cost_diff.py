"""`exitplan cost diff BASE HEAD`: the monthly change between two previews, states or stacks,
per resource and in total, as Markdown for a pull request or as `--json`; `--max-increase`
and `--budget` gate it (exit 1 naming the resources that breached them)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from runbooks.commands.options import JsonOption, ProjectOption, file_option, print_json, project_of

if TYPE_CHECKING:
    from components.cost.lines import StackCost
    from components.cost.profile import Profile


def diff(
    base: Annotated[
        str,
        typer.Argument(
            help="The base: a `pulumi preview --json` or `pulumi stack export` file, or a stack.",
            show_default=False,
        ),
    ],
    head: Annotated[str, typer.Argument(help="The head, as the base.", show_default=False)],
    max_increase: Annotated[
        float | None,
        typer.Option(
            "--max-increase",
            help="Fail (exit 1) when the head adds more than this many USD a month.",
            show_default=False,
        ),
    ] = None,
    budget: Annotated[
        float | None,
        typer.Option(
            "--budget",
            help="Fail (exit 1) when the head costs more than this many USD a month.",
            show_default=False,
        ),
    ] = None,
    utilisation: Annotated[
        Path | None, file_option("--utilisation", "Hourly profile (as for `exitplan cost`).")
    ] = None,
    project: ProjectOption = None,
    as_json: JsonOption = False,
) -> None:
    """The monthly cost change from BASE to HEAD, per resource (added, removed, changed) and
    in total, as Markdown fit for a pull request comment. BASE and HEAD are each a preview or
    state file of any Pulumi program, or a stack of this project."""
    from components.cost.diff import check_limit, cost_diff
    from components.cost.profile import Profile, load_profile
    from runbooks.reports.cost_diff import markdown

    limit = check_limit(max_increase, "--max-increase")
    ceiling = check_limit(budget, "--budget")
    profile = load_profile(utilisation) if utilisation else Profile()
    result = cost_diff(
        (base, _estimates(base, "BASE", project, profile)),
        (head, _estimates(head, "HEAD", project, profile)),
    )
    breaches = result.breaches(limit, ceiling)
    if as_json:
        print_json(
            "cost.diff",
            {
                "base": {"source": base, "monthly_usd": round(result.base_total, 2)},
                "head": {"source": head, "monthly_usd": round(result.head_total, 2)},
                "change_monthly_usd": round(result.delta, 2),
                "changes": [c.as_dict() for c in result.changes],
                "gates": {"max_increase_usd": limit, "budget_usd": ceiling},
                "passed": not breaches,
                "breaches": [b.as_dict() for b in breaches],
                "unpriced": [u.as_dict() for u in result.unpriced],
            },
        )
    else:
        typer.echo(markdown(result, breaches, limit is not None or ceiling is not None), nl=False)
    if breaches:
        raise typer.Exit(1)


def _estimates(
    which: str, argument: str, project: Path | None, profile: Profile
) -> list[StackCost]:
    """A preview or state file priced as a program, or a stack of the project estimated."""
    from components.cost.estimate import estimate_stacks
    from components.cost.program import price_program
    from components.cost.pulumi_json import read_program

    path = Path(which)
    if path.suffix == ".json" or path.exists():
        return [price_program(read_program(path), profile)]
    proj = project_of(project)
    proj.stack(which, field=argument)
    return estimate_stacks(proj, [which], profile)
