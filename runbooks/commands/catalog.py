"""`exitplan catalog coverage`: per cloud, the regions and instance families the catalog
prices, and where a family's size ladder is incomplete."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer
from rich.table import Table

from runbooks import render
from runbooks.commands.options import JsonOption, print_json

if TYPE_CHECKING:
    from components.catalog.coverage import CloudCoverage

catalog_app = typer.Typer(help="What the catalog covers.", no_args_is_help=True)


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
