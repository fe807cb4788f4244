"""`exitplan cost`: what the stacks cost a month, priced from their planned resources; the
standby trade-off; `cost tco`, the cost of leaving one stack for another."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from runbooks.commands.options import JsonOption, ProjectOption

cost_app = typer.Typer(
    help="What the stacks cost, priced from their planned resources (`exitplan cost`), and "
    "what leaving one costs (`exitplan cost tco`).",
    invoke_without_command=True,
)


@cost_app.callback()
def cost(
    ctx: typer.Context,
    stacks: Annotated[
        list[str] | None,
        typer.Argument(help="Stacks to price (default: all).", show_default=False),
    ] = None,
    utilisation: Annotated[
        Path | None,
        typer.Option(
            "--utilisation",
            help="Hourly profile of the inference nodes (YAML: `unit: fraction|nodes`, "
            "`hours:` 24 values; see README). Default: around the clock at the minimum.",
            dir_okay=False,
            show_default=False,
        ),
    ] = None,
    html: Annotated[
        Path | None,
        typer.Option(
            "--html",
            help="Also write the report (tables, plot) to this HTML file.",
            dir_okay=False,
            show_default=False,
        ),
    ] = None,
    output_format: Annotated[
        str | None,
        typer.Option(
            "--format",
            help="`focus`: the lines as FinOps FOCUS 1.2 rows (CSV).",
            show_default=False,
        ),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            help="With --format focus: write the CSV here, not to stdout.",
            dir_okay=False,
            show_default=False,
        ),
    ] = None,
    project: ProjectOption = None,
    as_json: JsonOption = False,
) -> None:
    """Price every planned resource of the stacks: GPU and system nodes (at the utilisation
    profile, at min and at max, under each pricing model), control planes, load balancers,
    model storage, DNS health checks and model replication egress; then each standby at hot,
    warm and pilot-light against the RTO each level achieves. Every price is a catalog row
    with its source and date; rows older than 180 days are flagged."""
    if ctx.invoked_subcommand is not None:
        return
    raise NotImplementedError("exitplan cost: being built (issue 17)")
