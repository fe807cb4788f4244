"""`exitplan runbook render SERVICE`: the provider-incident runbook, in Markdown."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from runbooks import render
from runbooks.commands.options import ProjectOption, file_option, project_of

runbook_app = typer.Typer(help="The provider-incident runbook.", no_args_is_help=True)


@runbook_app.command("render")
def runbook_render(
    service: Annotated[str, typer.Argument(help="The service (its stacks' spec name).")],
    inventory: Annotated[
        Path | None,
        file_option(
            "--inventory",
            "The inventory (CSV or YAML) with the service's owner, escalation, exit clause and "
            "export path.",
        ),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Write the Markdown here (default: stdout).", dir_okay=False),
    ] = None,
    project: ProjectOption = None,
) -> None:
    """The provider-incident runbook of SERVICE from its stacks (and the inventory): contacts,
    exit clause and export path, the cutover plan with its exact commands in order (the steps
    `exitplan drill exit-plan --dry` prints), the DNS change, manual steps where automation is
    a gap, the checks that prove it worked, and the rollback. Exit 2 on an unknown service or
    a bad inventory."""
    from components.errors import InputError
    from runbooks.rehearsal.inventory import load_inventory
    from runbooks.rehearsal.runbook import render_runbook
    from runbooks.reports.files import write_atomic

    proj = project_of(project)
    row = None
    if inventory is not None:
        rows = {r.service: r for r in load_inventory(inventory, proj)}
        row = rows.get(service)
        if row is None:
            raise InputError(
                f"no row for service {service!r}",
                file=str(inventory),
                field="service",
                fix=f"add one, or render one of: {', '.join(rows) or '(no rows)'}",
            )
    source = f"inventory {inventory} (row {row.row})" if row else "no inventory"
    markdown = render_runbook(proj, service, row, source)
    if out is None:
        typer.echo(markdown, nl=False)
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(out, markdown)
    render.out.print(f"wrote {out}")
