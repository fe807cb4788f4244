"""`exitplan catalog refresh`: the instance catalog's offers and prices per region brought up to
date from gpuhunt; `--dry` prints the diff of the data files and changes nothing."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from runbooks.commands.options import JsonOption, folder_option, print_json

if TYPE_CHECKING:
    from components.catalog.refresh import Refresh

catalog_app = typer.Typer(
    help="The catalog's data files (a source and a date on every row).", no_args_is_help=True
)


@catalog_app.command("refresh")
def refresh(
    clouds: Annotated[
        list[str] | None,
        typer.Option(
            "--cloud", help="A cloud to refresh (repeat; default: every cloud).", show_default=False
        ),
    ] = None,
    dry: Annotated[
        bool, typer.Option("--dry", help="Print the diff of the data files; change nothing.")
    ] = False,
    data: Annotated[
        Path | None,
        folder_option(
            "--data", "The catalog data folder to refresh (default: the installed catalog's)."
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Update the instance catalog (GPU and general-purpose types: offers and on-demand prices
    per region) from gpuhunt's catalogs. A changed price or an added region takes gpuhunt's
    catalog URL as its source and today's date; a row gpuhunt does not list is kept and
    reported. Without network access it says so and changes nothing (exit 1)."""
    from components.catalog import DATA, gpuhunt_offers, today
    from components.catalog.pricing import clouds as catalog_clouds
    from components.catalog.refresh import INSTANCES, refresh_instances
    from components.errors import InputError
    from runbooks.reports.files import write_atomic

    folder = data or DATA
    known = catalog_clouds()
    chosen = clouds or known
    for cloud in chosen:
        if cloud not in known:
            raise InputError(
                f"cloud {cloud!r} has no instance catalog",
                field="--cloud",
                fix=f"use one of: {', '.join(known)}",
            )
        if not (folder / INSTANCES / f"{cloud}.csv").is_file():
            raise InputError(
                f"no {INSTANCES}/{cloud}.csv in {folder}",
                field="--data",
                fix="give the catalog's data folder (components/catalog/data)",
            )
    result = refresh_instances(folder, chosen, gpuhunt_offers.offers(chosen), today())
    written = [] if dry else result.changed_files
    for name in written:
        write_atomic(folder / name, result.after[name])
    if as_json:
        print_json(
            "catalog.refresh",
            {
                "source": gpuhunt_offers.NAME,
                "as_of": today().isoformat(),
                "dry": dry,
                "clouds": list(chosen),
                "confirmed": result.confirmed,
                "changes": [c.as_dict() for c in result.changes],
                "written": written,
                "diff": result.diff(),
            },
        )
        return
    if dry:
        typer.echo(result.diff(), nl=False)
    _summary(result, written, dry)


def _summary(result: Refresh, written: list[str], dry: bool) -> None:
    """Counts per status, the rows the source does not list, and what was written."""
    by_status = {s: [c for c in result.changes if c.status == s] for s in ("changed", "added")}
    missing = [c for c in result.changes if c.status == "not-offered"]
    typer.echo(
        f"{len(by_status['changed'])} prices changed, {len(by_status['added'])} regions added, "
        f"{result.confirmed} rows confirmed, {len(missing)} rows not offered by the source (kept)"
    )
    for row in missing:
        typer.echo(f"  not offered: {row.file} {row.instance_type} {row.region}")
    if dry:
        typer.echo("dry run: nothing written")
    else:
        typer.echo(f"wrote {', '.join(written)}" if written else "nothing to write")
