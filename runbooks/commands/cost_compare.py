"""`exitplan cost compare`: on-demand vs spot vs reserved vs savings plans for one job, and its
memo. Registered on the `cost` group by `runbooks/commands/cost.py`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from runbooks import render
from runbooks.commands.options import JsonOption, file_option, print_json


def compare(
    instance: Annotated[
        str,
        typer.Option("--instance", help="Instance type, e.g. p4d.24xlarge.", show_default=False),
    ],
    hours: Annotated[
        float, typer.Option("--hours", help="Hours the job runs.", show_default=False)
    ],
    gpus: Annotated[
        int | None,
        typer.Option(
            "--gpus", help="GPUs the job needs (default: one instance's).", show_default=False
        ),
    ] = None,
    cloud: Annotated[
        str | None,
        typer.Option(
            "--cloud", help="Cloud (default: the one listing the type).", show_default=False
        ),
    ] = None,
    region: Annotated[
        str | None,
        typer.Option(
            "--region",
            help="Region (default: the type's first catalog region).",
            show_default=False,
        ),
    ] = None,
    interruptible: Annotated[
        bool,
        typer.Option("--interruptible", help="The job checkpoints and resumes: spot is eligible."),
    ] = False,
    memo: Annotated[
        Path | None, file_option("--memo", "Write the one-page Markdown memo here.")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Price a job (an instance type for N hours) on demand, on spot, reserved for 1 or 3 years
    and under 1- or 3-year savings plans / committed use: job cost, savings against on-demand,
    the break-even utilisation of each commitment, and a recommendation with its reasons. The
    classic exercise: `--instance p4d.24xlarge --gpus 8 --hours 100 --memo memo.md`."""
    from components.catalog import today
    from components.cost.compare import Job
    from components.cost.compare import compare as price_job
    from runbooks.reports.files import write_atomic
    from runbooks.reports.memo import compare_memo

    comparison = price_job(Job(instance, hours, gpus, cloud, region, interruptible))
    if memo is not None:
        memo.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(memo, compare_memo(comparison, today().isoformat()))
    if as_json:
        print_json("cost.compare", {**comparison.as_dict(), "memo": str(memo) if memo else None})
        return
    table = Table(
        "model", "$/h", "job cost", "vs on-demand", "break-even", "basis", **render.COMPACT
    )
    for o in comparison.options:
        be = "-" if o.break_even_utilisation is None else f"{o.break_even_utilisation:.1%}"
        cost_change = f"{0.0 - o.savings_pct:+.1f}%"
        table.add_row(
            o.model, f"{o.usd_per_hour:,.2f}", f"{o.job_cost:,.2f}", cost_change, be, o.basis
        )
    title = (
        f"{comparison.instances}x {comparison.instance_type} ({comparison.cloud} "
        f"{comparison.region}) for {comparison.hours:g} h"
    )
    render.out.print(title)
    render.out.print(table)
    render.out.print(f"recommended: {comparison.recommended}")
    for reason in comparison.reasons:
        render.out.print(f"  - {reason}", soft_wrap=True)
    if memo is not None:
        render.out.print(f"wrote {memo}")
