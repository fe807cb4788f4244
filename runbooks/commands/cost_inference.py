"""`exitplan cost inference`: $ per 1M inferences per instance type across clouds and the
Pareto front over (cost per 1M, p99). Registered on the `cost` group by
`runbooks/commands/cost.py`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from runbooks import render
from runbooks.commands.options import JsonOption, file_option, folder_option, print_json

TOP = 12  # rows per ML model in the terminal table (the --json and --html hold them all)


def inference(
    measurements: Annotated[
        Path | None,
        file_option(
            "--measurements", "CSV of throughput/p99 figures (see examples/measurements.csv)."
        ),
    ] = None,
    journals: Annotated[
        Path | None,
        folder_option(
            "--journals", "Folder of drill journals (*/journal.json): sandbox figures, shown apart."
        ),
    ] = None,
    pricing: Annotated[
        str,
        typer.Option(
            "--pricing", help="Pricing model: on-demand, spot, reserved-1y, reserved-3y, ..."
        ),
    ] = "on-demand",
    html_out: Annotated[
        Path | None, file_option("--html", "Write the report (tables and the Pareto plot) here.")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Cost per 1M inferences of each instance type a measurement applies to (a GPU model's
    figure applies to every catalog type carrying it, on every cloud, at its cheapest region),
    the Pareto front over (cost per 1M, p99) per ML model, and every dominated option with one
    that dominates it. Sandbox figures from drill journals are CPU figures: shown, labelled,
    never ranked with GPUs."""
    from components.catalog.pricing import ALL_MODELS
    from components.cost.inference import pareto, price_points, read_measurements, sandbox_points
    from components.errors import InputError
    from runbooks.reports.files import write_atomic
    from runbooks.reports.inference import html

    if measurements is None and journals is None:
        raise InputError(
            "nothing to rank",
            field="--measurements",
            fix="pass --measurements FILE (e.g. examples/measurements.csv) or --journals DIR",
        )
    if pricing not in ALL_MODELS:
        raise InputError(f"unknown pricing model {pricing!r}", field="--pricing",
                         fix=f"use one of: {', '.join(ALL_MODELS)}")  # fmt: skip
    rows = read_measurements(measurements) if measurements else []
    found = sorted(journals.glob("*/journal.json")) if journals else []
    front = pareto(price_points(rows, pricing), sandbox_points(found))
    if html_out is not None:
        html_out.parent.mkdir(parents=True, exist_ok=True)
        meta = (
            f"pricing: {pricing}; measurements: {measurements or '-'}; journals: {journals or '-'}"
        )
        write_atomic(html_out, html(front, meta))
    if as_json:
        print_json("cost.inference", {"pricing": pricing, **front.as_dict(),
                                      "html": str(html_out) if html_out else None})  # fmt: skip
        return
    for model, keys in front.front.items():
        table = Table("option", "$/1M", "p99 ms", "inf/s", "Pareto", **render.COMPACT, title=model)
        table.title_justify = "left"
        for p in [q for q in front.points if q.model == model][:TOP]:
            mark = "front" if p.key in keys else "dominated"
            table.add_row(p.key, f"{p.usd_per_million or 0:.4f}", f"{p.p99_ms:g}",
                          f"{p.throughput_per_s:,.0f}", mark)  # fmt: skip
        render.out.print(table)
        render.out.print(f"front: {', '.join(keys)}")
        for key, by in front.dominated[model].items():
            render.out.print(f"  dominated: {key} (by {by})")
    for p in front.sandbox:
        render.out.print(
            f"{p.key}: {p.throughput_per_s:,.1f} inf/s, p99 {p.p99_ms:g} ms "
            f"[{p.basis}: {p.scaling}]"
        )
    if html_out is not None:
        render.out.print(f"wrote {html_out}")
