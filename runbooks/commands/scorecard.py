"""`exitplan scorecard`: per provider and stack, the journals' measurements, the catalog's
figures and the policy's violations, weighted into a score and a ranking."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
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
    from components.stack_config import Project
    from runbooks.reports.scorecard import StackCard

scorecard_app = typer.Typer(help="Score the providers and stacks.", invoke_without_command=True)

COLUMNS = (("p99_ms", "p99 ms", "{:.1f}"), ("error_rate", "errors", "{:.2%}"),
           ("wrong_answers", "wrong", "{:.0f}"), ("drill_pass_rate", "drills ok", "{:.0%}"),
           ("achievable_rto_s", "RTO s", "{:.0f}"), ("usd_per_million", "$/1M", "{:.4f}"),
           ("policy_violations", "policy", "{:.0f}"))  # fmt: skip


def cards_for(
    project: Project, measurements: Path | None, policy: bool, progress: bool = False
) -> list[StackCard]:
    """A card per stack with the catalog's figures: achievable RTO (standbys), cost per 1M
    inferences of its GPU type at its region (cheapest ML model of the measurements), and
    the policy pack's violations of its plan (`policy`)."""
    from components.catalog.pricing import instance_price
    from components.cost.inference import price_points, read_measurements
    from runbooks.reports.scorecard import StackCard

    stacks = [project.stack(name) for name in project.stack_names()]
    cards = []
    points = price_points(read_measurements(measurements)) if measurements else []
    for stack in stacks:
        card = StackCard(stack.name, stack.spec.provider)
        card.metrics["achievable_rto_s"] = float(stack.rto.total_s) if stack.rto else None
        if stack.kind != "edge":
            itype, region = stack.plan.gpu_instance.instance_type, stack.spec.region
            mine = [p for p in points if p.instance_type == itype]
            if mine:
                rate = instance_price(mine[0].cloud, itype, region, "on-demand").usd_per_hour
                card.metrics["usd_per_million"] = min(
                    rate / (p.throughput_per_s * 3600) * 1e6 for p in mine
                )
        cards.append(card)
    if policy:
        _violations(project, cards, progress)
    return cards


def _violations(project: Project, cards: list[StackCard], progress: bool) -> None:
    from components.planning.runner import Plan
    from components.policy.offline import check_plans
    from runbooks.progress import plan_each

    planned: dict[str, Plan] = {}
    stacks = [project.stack(c.stack) for c in cards]
    plans = plan_each(project, stacks, enabled=progress, planned=planned)
    report = check_plans(plans)
    for card in cards:
        card.metrics["policy_violations"] = float(
            sum(1 for v in report.violations if v.stack == card.stack)
        )


@scorecard_app.callback()
def scorecard(
    weights: Annotated[
        Path | None, file_option("--weights", "YAML of metric: weight (defaults in the README).")
    ] = None,
    journals: Annotated[
        Path | None,
        folder_option(
            "--journals",
            "Folder holding drills/*/journal.json and chaos/*/journal.json (default: the project's"
            " .exitplan).",
        ),
    ] = None,
    measurements: Annotated[
        Path | None, file_option("--measurements", "Throughput CSV for cost per 1M inferences.")
    ] = None,
    policy: Annotated[
        bool,
        typer.Option("--policy/--no-policy", help="Count policy violations (plans every stack)."),
    ] = True,
    html_out: Annotated[
        Path | None, file_option("--html", "Write the scorecard as an HTML page.")
    ] = None,
    project: ProjectOption = None,
    as_json: JsonOption = False,
) -> None:
    """Per provider and stack: p50/p99, error rate and wrong answers over the phases it served
    alone in the drill journals, drill pass rate and last measured cutover (as a destination),
    chaos runs it took part in, achievable RTO, cost per 1M inferences (with --measurements)
    and policy violations; each figure scaled 0..1 across stacks, weighted into a score, and
    ranked. Figures measured on the sandbox are labelled so."""
    from runbooks.reports.files import write_atomic
    from runbooks.reports.scorecard import load_journals, measure, providers, read_weights, score

    weighting = read_weights(weights)
    proj = project_of(project)
    cards = cards_for(proj, measurements, policy, progress=not as_json)
    root = journals or proj.root / ".exitplan"
    measure({c.stack: c for c in cards}, load_journals(root))
    score(cards, weighting)
    cards.sort(key=lambda c: (c.rank is None, c.rank or 0, c.stack))
    data: dict[str, Any] = {
        "weights": weighting,
        "journals": str(root),
        "stacks": [c.as_dict() for c in cards],
        "providers": providers(cards),
    }
    if html_out is not None:
        html_out.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(html_out, _html(cards, data))
    if as_json:
        print_json("scorecard", {**data, "html": str(html_out) if html_out else None})
        return
    table = Table("#", "stack", "score", "cover", *(h for _, h, _ in COLUMNS), **render.COMPACT)
    for c in cards:
        label = c.stack + (" (sandbox)" if "sandbox" in c.measured_on else "")
        table.add_row(str(c.rank or "-"), label, "-" if c.score is None else f"{c.score:.2f}",
                      f"{c.coverage:.0%}",
                      *(_cell(c, name, fmt) for name, _, fmt in COLUMNS))  # fmt: skip
    render.out.print(table)
    for p in data["providers"]:
        shown = "-" if p["score"] is None else f"{p['score']:.2f}"
        render.out.print(f"{p['provider']}: {shown} ({', '.join(p['stacks'])})")
    render.out.print("cover: the share of the weights a stack has evidence for", style="dim")
    render.out.print("a provider: its stacks' scores weighted by their cover", style="dim")
    if measurements is None:
        render.out.print(
            "$/1M: pass --measurements FILE (e.g. examples/measurements.csv)", style="dim"
        )


def _cell(card: StackCard, name: str, fmt: str) -> str:
    value = card.metrics.get(name)
    return "-" if value is None else fmt.format(value)


def _html(cards: list[StackCard], data: dict[str, Any]) -> str:
    from runbooks.reports.kit import html_page

    headers = ["rank", "stack", "provider", "score", "coverage", "measured on",
               *(h for _, h, _ in COLUMNS)]  # fmt: skip
    rows = [[str(c.rank or "-"), c.stack, c.provider, "-" if c.score is None else f"{c.score:.2f}",
             f"{c.coverage:.0%}", ", ".join(c.measured_on) or "-",
             *(_cell(c, n, f) for n, _, f in COLUMNS)] for c in cards]  # fmt: skip
    weights = [[name, f"{w:g}"] for name, w in data["weights"].items()]
    # the terminal's provider ranking, here too (review U7: each view lacked one of the two)
    ranking = [[p["provider"], "-" if p["score"] is None else f"{p['score']:.2f}",
                ", ".join(p["stacks"])] for p in data["providers"]]  # fmt: skip
    return html_page(None, [], "Scorecard", f"journals: {data['journals']}", [],
                     [("Stacks", headers, rows),
                      ("Providers (stacks weighted by coverage)", ["provider", "score", "stacks"],
                       ranking),
                      ("Weights", ["metric", "weight"], weights)],
                     plots_title="")  # fmt: skip
