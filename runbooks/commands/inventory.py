"""`exitplan inventory check INVENTORY`: the exit readiness of every service in the inventory."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

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
)

if TYPE_CHECKING:
    from runbooks.rehearsal.readiness import Readiness

inventory_app = typer.Typer(
    help="The service inventory and its exit readiness.", no_args_is_help=True
)
STATUS_STYLE = {"pass": "green", "fail": "bold red", "n/a": "dim"}


@inventory_app.command("check")
def inventory_check(
    inventory: Annotated[
        Path, typer.Argument(help="The inventory, CSV or YAML (see examples/inventory.csv).")
    ],
    journals: Annotated[
        Path | None,
        folder_option(
            "--journals",
            "Folder holding drills/*/journal.json (or the drills folder itself; default: the "
            "project's .exitplan).",
        ),
    ] = None,
    html_out: Annotated[
        Path | None, file_option("--html", "Write the readiness and the RTO plot as an HTML page.")
    ] = None,
    project: ProjectOption = None,
    as_json: JsonOption = False,
) -> None:
    """Judge every service against the named rules (failover in another provider, achievable
    RTO within the rto, keyless auth, a recent passing failover drill, model parity, exit
    terms recorded, no model/cloud concentration): a table per service (rule, status,
    evidence, fix) and a score. Exit 1 when a critical rule fails, 2 on bad input (naming the
    row, the column and the fix)."""
    from components.catalog import today
    from runbooks.rehearsal.inventory import load_inventory
    from runbooks.rehearsal.readiness import Context, assess, overall_score, read_journals
    from runbooks.rehearsal.readiness_page import readiness_html
    from runbooks.reports.files import write_atomic

    proj = project_of(project)
    rows = load_inventory(inventory, proj)
    folder = journals or proj.root / ".exitplan"
    services = assess(rows, Context(proj, read_journals(folder)))
    score = overall_score(services)
    critical = [f for s in services for f in s.critical_failures]
    if html_out is not None:
        html_out.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(html_out, readiness_html(services, score, str(inventory)))
    if as_json:
        print_json(
            "inventory.check",
            {
                "inventory": str(inventory),
                "journals": str(folder),
                "today": today().isoformat(),
                "score": score,
                "passed": not critical,
                "critical_failed": len(critical),
                "services": [s.as_dict() for s in services],
                "html": str(html_out) if html_out else None,
            },
        )
    else:
        for service in services:
            _print_service(service)
        shown = "-" if score is None else f"{score:.0%}"
        verdict = "FAILED" if critical else "PASSED"
        render.out.print(
            f"{verdict}: score {shown} over {len(services)} services; "
            f"{len(critical)} critical rule(s) failed" + (f"\nwrote {html_out}" if html_out else "")
        )
    if critical:
        raise typer.Exit(1)


def _print_service(service: Readiness) -> None:
    """One service's readiness: a line, then its rules; fixes of failed rules below."""
    row, failover = service.row, service.failover
    score = "-" if service.score is None else f"{service.score:.0%}"
    judged = f"; failover {failover.stack} ({failover.rto_text})" if failover else ""
    render.out.print(
        f"\n[bold]{escape(row.service)}[/] ({row.criticality}, {row.provider}, owner "
        f"{escape(row.owner)}): {score}{escape(judged)}"
    )
    table = Table("rule", "severity", "status", "evidence", **render.COMPACT)
    notes = render.Footnotes()
    for finding in service.findings:
        style = STATUS_STYLE[finding.status]
        table.add_row(
            finding.rule,
            finding.severity,
            f"[{style}]{finding.status}[/]",
            escape(finding.evidence),
        )
        if finding.status == "fail":
            notes.texts.append(f"{finding.rule}: {finding.fix}")
    render.out.print(table)
    for text in notes.texts:
        render.out.print(f"  fix {escape(text)}", soft_wrap=True)
