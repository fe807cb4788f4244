"""`exitplan cost`: what the stacks cost a month, priced from their planned resources; the
standby trade-off; `cost tco`, the cost of leaving one stack for another."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from typer.core import TyperGroup

from runbooks import render
from runbooks.commands.cost_compare import compare
from runbooks.commands.cost_diff import diff
from runbooks.commands.cost_inference import inference
from runbooks.commands.options import JsonOption, ProjectOption, file_option, print_json, project_of

if TYPE_CHECKING:
    from components.cost.estimate import LevelCost
    from components.cost.lines import StackCost
    from components.cost.profile import Profile
    from components.cost.tco import Exit
    from components.stack_config import Project, Stack


class CostGroup(TyperGroup):
    """`exitplan cost [STACK...]` beside `exitplan cost tco ...`: a first word naming a
    subcommand runs it; otherwise every word is a stack to price (the group's variadic
    argument would otherwise take the subcommand's name for a stack)."""

    allow_interspersed_args = True  # `exitplan cost STACK --json`: options after the stacks

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        """Route a subcommand's name past the group's STACK arguments."""
        if args and args[0] in self.commands:
            super().parse_args(ctx, [])  # the group's own parameters, at their defaults
            ctx._protected_args, ctx.args = args[:1], args[1:]
            return ctx.args
        return super().parse_args(ctx, args)

    def get_params(self, ctx: Any) -> list[Any]:
        """The group's parameters; in a subcommand's usage line without the STACK arguments,
        which the subcommand does not take (review I6: `exitplan cost [stacks]... tco`)."""
        params = super().get_params(ctx)
        if ctx.command is not self:
            return [p for p in params if p.param_type_name != "argument"]
        return params


# Beyond these a TCO is a typo (I6: --months 100000000 ran 148 s; NaN printed "cheapest").
MAX_MONTHS = 600
MAX_DATA_GB = 1e9

cost_app = typer.Typer(
    cls=CostGroup,
    help="What the stacks cost, priced from their planned resources (`exitplan cost`), and "
    "what leaving one costs (`exitplan cost tco`).",
    invoke_without_command=True,
)
# Subcommands with their own modules: `cost compare` (one job under every pricing model),
# `cost inference` ($ per 1M inferences, the Pareto front) and `cost diff` (base against head,
# with budget gates).
cost_app.command("compare")(compare)
cost_app.command("inference")(inference)
cost_app.command("diff")(diff)


@cost_app.callback()
def cost(
    ctx: typer.Context,
    stacks: Annotated[
        list[str] | None,
        typer.Argument(help="Stacks to price (default: all).", show_default=False),
    ] = None,
    utilisation: Annotated[
        Path | None,
        file_option(
            "--utilisation",
            "Hourly profile of the inference nodes (YAML: `unit: fraction|nodes`, `hours:` 24 "
            "values; see README). Default: around the clock at the minimum.",
        ),
    ] = None,
    html: Annotated[
        Path | None,
        file_option("--html", "Also write the report (tables, plot) to this HTML file."),
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
        Path | None, file_option("--out", "With --format focus: write the CSV here, not to stdout.")
    ] = None,
    preview: Annotated[
        Path | None,
        file_option(
            "--preview",
            "Price any Pulumi program from its `pulumi preview --json` output (not the stacks).",
        ),
    ] = None,
    state: Annotated[
        Path | None,
        file_option("--state", "Price any Pulumi program from its `pulumi stack export` output."),
    ] = None,
    project: ProjectOption = None,
    as_json: JsonOption = False,
) -> None:
    """Price every planned resource of the stacks: GPU and system nodes (at the utilisation
    profile, at min and at max, under each pricing model), control planes, load balancers,
    model storage, DNS health checks and model replication egress; then each standby at hot,
    warm and pilot-light against the RTO each level achieves. Every price is a catalog row
    with its source and date; rows older than 180 days are flagged. With `--preview` or
    `--state`, price any Pulumi program instead, listing each resource it cannot price."""
    if ctx.invoked_subcommand is not None:
        return
    from components.catalog import today
    from components.cost.focus import focus_csv, focus_rows
    from components.errors import InputError
    from runbooks.reports import cost as report

    if output_format not in (None, "focus"):
        raise InputError(f"unknown format {output_format!r}", field="--format", fix="use focus")
    if out and output_format is None:
        raise InputError("--out writes FOCUS rows", field="--out", fix="add --format focus")
    profile = _profile(utilisation)
    if preview or state:
        account, costs, tradeoff = _program_costs(stacks, preview, state, profile)
    else:
        proj = project_of(project)
        account = proj.name
        costs, tradeoff = _stack_costs(proj, stacks or proj.stack_names(), profile)
    warnings = [w for c in costs for w in c.stale()]
    warnings += [
        f"{u.stack}: {u.resource} not priced: {u.reason}" for c in costs for u in c.unpriced
    ]
    if output_format == "focus":
        text = focus_csv(focus_rows(costs, account, today()))
        if out is None:
            typer.echo(text, nl=False)
            return
        out.write_text(text, encoding="utf-8")
    if html:
        report.write_html(html, costs, tradeoff, warnings)
    if as_json:
        print_json("cost", report.cost_json(costs, tradeoff, profile, warnings))
        return
    report.print_costs(costs, tradeoff, warnings)
    for path in (p for p in (out, html) if p):
        render.out.print(f"wrote {path}", soft_wrap=True)


def _stack_costs(
    proj: Project, names: list[str], profile: Profile
) -> tuple[list[StackCost], list[LevelCost]]:
    """The stacks' estimates and each standby's levels side by side."""
    from components.cost.estimate import estimate_stacks, standby_tradeoff

    costs = estimate_stacks(proj, names, profile)
    tradeoff = [
        row
        for stack in (proj.stack(name) for name in names)
        if stack.kind == "standby"
        for row in standby_tradeoff(proj, stack, profile)
    ]
    return costs, tradeoff


def _program_costs(
    stacks: list[str] | None, preview: Path | None, state: Path | None, profile: Profile
) -> tuple[str, list[StackCost], list[LevelCost]]:
    """The estimate of a Pulumi program from its preview or its state (one of them, no
    stacks), and the billing account its FOCUS rows name (its project and stack)."""
    from components.cost.program import price_program
    from components.cost.pulumi_json import read_program
    from components.errors import InputError

    if preview and state:
        raise InputError(
            "--preview and --state both given", field="--state", fix="price one program at a time"
        )
    if stacks:
        raise InputError(
            f"stacks given with {'--preview' if preview else '--state'}: {' '.join(stacks)}",
            field="STACK",
            fix="price the stacks or the program, not both",
        )
    if preview is not None:
        program = read_program(preview, "preview")
    else:
        assert state is not None
        program = read_program(state, "state")
    return program.name, [price_program(program, profile)], []


def _profile(path: Path | None) -> Profile:
    """The utilisation profile of `--utilisation`, or the default (minimum around the clock)."""
    from components.cost.profile import Profile, load_profile

    return load_profile(path) if path else Profile()


@cost_app.command("tco")
def tco(
    source: Annotated[str, typer.Option("--from", help="The stack to leave.", show_default=False)],
    targets: Annotated[
        list[str],
        typer.Option(
            "--to", help="A stack to move to (repeat to compare exits).", show_default=False
        ),
    ],
    months: Annotated[int, typer.Option("--months", help="Horizon in months.", show_default=False)],
    dual_run_months: Annotated[
        int, typer.Option("--dual-run-months", help="Months both stacks run side by side.")
    ] = 1,
    what_if: Annotated[
        list[str] | None,
        typer.Option(
            "--what-if",
            help="A price change on one cloud, e.g. aws:+40% (repeatable).",
            show_default=False,
        ),
    ] = None,
    data_gb: Annotated[
        float, typer.Option("--data-gb", help="GB of other data to move, besides the models.")
    ] = 0.0,
    utilisation: Annotated[
        Path | None, file_option("--utilisation", "Hourly profile (as for `exitplan cost`).")
    ] = None,
    project: ProjectOption = None,
    as_json: JsonOption = False,
) -> None:
    """The cost of leaving `--from` for each `--to` over `--months`: both run for the dual-run
    months, the models (and `--data-gb`) leave once at the source cloud's egress price, then
    the target runs alone (a standby at hot, the primary's capacity). Shows the break-even
    month, and with `--what-if` which exit a price change makes cheaper."""
    from components.catalog.service_prices import service_price
    from components.cost.estimate import at_level, estimate_stacks, estimate_variant
    from components.cost.resources import MIB_PER_GB
    from components.cost.tco import check_months, exit_cost, parse_what_if
    from components.errors import InputError
    from runbooks.reports import cost as report

    check_months(months, dual_run_months)
    if not 0 <= data_gb <= MAX_DATA_GB:  # NaN and inf fail too
        raise InputError(
            f"--data-gb must be 0 to {MAX_DATA_GB:g}, got {data_gb:g}",
            field="--data-gb",
            fix="give the GB of data to move besides the models, e.g. --data-gb 500",
        )
    if months > MAX_MONTHS:
        raise InputError(
            f"--months {months}: at most {MAX_MONTHS} (a {MAX_MONTHS // 12}-year horizon)",
            field="--months",
            fix="give the horizon in whole months, e.g. --months 24",
        )
    changes = [parse_what_if(text) for text in what_if or []]
    proj = project_of(project)
    profile = _profile(utilisation)
    leaving = proj.stack(source, field="--from")
    for target in targets:
        to = proj.stack(target, field="--to")
        if target == source:
            raise InputError(
                f"--to {target} is the stack being left", field="--to", fix="name another stack"
            )
        if to.kind == "edge":  # review I6: "gcp-edge cheapest" ($0.03 a month, rack unpriced)
            exits = [n for n in proj.stack_names() if proj.stack(n).kind != "edge" and n != source]
            raise InputError(
                f"--to {target} is an edge stack: it serves beside its service, near users, and "
                "cannot take its place (its rack or zone is not priced as a replacement)",
                field="--to",
                fix=f"leave for a stack that can replace {source}: {', '.join(exits)}",
            )
    base = {c.stack: c for c in estimate_stacks(proj, [source], profile)}
    for target in targets:
        stack = proj.stack(target)
        serving = at_level(stack, "hot") if stack.kind == "standby" else stack
        base[target] = _after_leaving(estimate_variant(proj, serving, profile), leaving)
    models = leaving.spec.triton.models
    move_gb = sum(m.size_mib * m.version for m in models) / MIB_PER_GB + data_gb
    egress = service_price(str(leaving.spec.provider), "egress", "internet").usd
    scenarios: list[tuple[str, dict[str, StackCost], float]] = [("catalogued prices", base, egress)]
    if changes:
        factors = {c.cloud: c.factor for c in changes}
        scaled = {name: cost.scaled(factors) for name, cost in base.items()}
        label = "what-if " + ", ".join(map(str, changes))
        scenarios.append((label, scaled, egress * factors.get(str(leaving.spec.provider), 1.0)))
    results = [
        (
            label,
            [
                exit_cost(costs[source], costs[t], months, dual_run_months, move_gb, rate)
                for t in targets
            ],
        )
        for label, costs, rate in scenarios
    ]
    if as_json:
        print_json(
            "cost.tco",
            {
                "from": source,
                "months": months,
                "dual_run_months": dual_run_months,
                "what_if": [str(c) for c in changes],
                "scenarios": [
                    {
                        "scenario": label,
                        "exits": [e.as_dict() for e in exits],
                        "cheapest": _cheapest(exits),
                    }
                    for label, exits in results
                ],
            },
        )
        return
    report.print_tco(results)


def _after_leaving(cost: StackCost, leaving: Stack) -> StackCost:
    """A target's running cost once `leaving` is left: without the egress that cloud bills
    (the standby's replication from the abandoned store stops; review B10 billed it on, and
    a what-if on the abandoned cloud's prices raised it)."""
    cloud = str(leaving.spec.provider)
    kept = tuple(line for line in cost.lines if not (line.kind == "egress" and line.cloud == cloud))
    if len(kept) == len(cost.lines):
        return cost
    note = f"no egress from {cloud} once {leaving.name} is left (its replication stops)"
    return replace(cost, lines=kept, notes=(*cost.notes, note))


def _cheapest(exits: list[Exit]) -> str:
    """The cheapest choice over the horizon: an exit's target, or "stay"."""
    best = min(exits, key=lambda e: e.leave[-1])
    return best.target if best.leave[-1] <= best.stay[-1] else "stay"
