"""`exitplan catalog refresh`: the instance catalog's offers and prices per region brought up to
date from gpuhunt, and service prices from the clouds' public price APIs; `--dry` prints the
diff of the data files and changes nothing. `exitplan catalog coverage`: per cloud, the regions
and instance families the catalog prices, and where a family's size ladder is incomplete."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from runbooks import render
from runbooks.commands.options import JsonOption, folder_option, print_json

if TYPE_CHECKING:
    from components.catalog.coverage import CloudCoverage
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
    per region) from gpuhunt's catalogs, and the service prices that
    `service_price_sources.csv` maps from the clouds' public price APIs (the GCP one needs
    GOOGLE_API_KEY). A changed price or an added region takes its source's URL and today's
    date; a row no source prices is kept and reported. Where a source needs network or
    credentials that are missing, it says so and changes nothing (exit 1)."""
    from components.catalog import DATA, gpuhunt_offers, price_apis, today
    from components.catalog.pricing import clouds as catalog_clouds
    from components.catalog.refresh import INSTANCES, SERVICES, refresh
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
    for name in [f"{INSTANCES}/{cloud}.csv" for cloud in chosen] + [SERVICES]:
        if not (folder / name).is_file():
            raise InputError(
                f"no {name} in {folder}",
                field="--data",
                fix="give the catalog's data folder (components/catalog/data)",
            )
    offers = gpuhunt_offers.offers(chosen)
    quotes = price_apis.quotes(chosen)
    result = refresh(folder, chosen, offers, quotes, today())
    written = [] if dry else result.changed_files
    for name in written:
        write_atomic(folder / name, result.after[name])
    if as_json:
        print_json(
            "catalog.refresh",
            {
                "sources": [gpuhunt_offers.NAME, *sorted({q.source.api for q in quotes})],
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
    """Counts per status, each row kept with why (unmapped service rows counted), and what
    was written."""
    counts = Counter(c.status for c in result.changes)
    typer.echo(
        f"{counts['changed']} prices changed, {counts['added']} regions added, "
        f"{result.confirmed} rows confirmed; kept: {counts['not-offered']} not offered, "
        f"{counts['unmatched']} unmatched, {counts['unmapped']} service prices no API maps"
    )
    for change in result.changes:
        if change.status in ("not-offered", "unmatched"):
            typer.echo(f"  {change.status}: {change.file} {change.row}: {change.why}")
    if dry:
        typer.echo("dry run: nothing written")
    else:
        typer.echo(f"wrote {', '.join(written)}" if written else "nothing to write")


@catalog_app.command("coverage")
def coverage(as_json: JsonOption = False) -> None:
    """Per cloud: the regions the instance catalog prices, and per instance family the regions
    where its whole size ladder is priced and the sizes missing elsewhere
    (components/catalog/data/instance_families.csv). A spec that asks for a size the catalog
    lacks is refused naming this command."""
    from components.catalog.coverage import coverage as catalog_coverage

    clouds = catalog_coverage()
    if as_json:
        print_json("catalog.coverage", {"clouds": [c.as_dict() for c in clouds]})
        return
    for cloud in clouds:
        _table(cloud)


def _table(cloud: CloudCoverage) -> None:
    """One cloud: a row per family, the regions it covers whole and the sizes missing where not."""
    table = Table("family", "whole ladder in", "sizes missing", **render.COMPACT)
    table.title = f"{cloud.cloud}: {', '.join(cloud.regions)}"
    table.title_justify = "left"
    for family in dict.fromkeys(f.family for f in cloud.families):
        rows = [f for f in cloud.families if f.family == family]
        whole = ", ".join(f.region for f in rows if f.complete) or "-"
        missing = "; ".join(f"{f.region}: {', '.join(f.missing)}" for f in rows if f.missing)
        table.add_row(family, whole, missing or "-")
    render.out.print(table)
    if cloud.unladdered:
        render.out.print(f"of no known family: {', '.join(cloud.unladdered)}", soft_wrap=True)
