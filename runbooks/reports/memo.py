"""The one-page Markdown memo of `exitplan cost compare`: the recommendation and its reasons,
every option's figures, how they are computed and where each rate comes from."""

from __future__ import annotations

from components.cost.compare import Comparison, Option
from runbooks.reports.kit import md_cell


def _usd(v: float) -> str:
    return f"${v:,.2f}"


def _row(o: Option) -> list[str]:
    billed = f"{o.term_hours * o.terms:,} (term)" if o.term_hours else "job hours"
    be = "-" if o.break_even_utilisation is None else f"{o.break_even_utilisation:.1%}"
    return [
        o.model,
        f"${o.usd_per_hour:,.4f}",
        billed,
        _usd(o.job_cost),
        f"{0.0 - o.savings_pct:+.1f}%",
        be,
        o.basis,
    ]


def compare_memo(c: Comparison, today: str) -> str:
    """The memo for a comparison, dated `today` (ISO)."""
    gpus = c.gpus_per_instance * c.instances
    what = f"{gpus}x {c.gpu_model}" if c.gpu_model else f"{c.instances}x {c.instance_type}"
    best = c.option(c.recommended)
    lines = [
        f"# Pricing memo: {what} ({c.instances}x {c.instance_type}) for {c.hours:g} hours",
        "",
        f"{today} · {c.cloud} {c.region} · prices from the exitplan catalog "
        "(components/catalog/data/pricing_models.csv and instances/"
        f"{c.cloud}.csv)",
        "",
        f"## Recommendation: {c.recommended}, {_usd(best.job_cost)}",
        "",
        *[f"- {md_cell(r)}" for r in c.reasons],
        "",
        "## Options",
        "",
        "| model | $/h per instance | hours billed | job cost | cost vs on-demand "
        "| break-even utilisation | basis |",
        "|---|---|---|---|---|---|---|",
        *["| " + " | ".join(map(md_cell, _row(o))) + " |" for o in c.options],
        "",
        "## How the figures are computed",
        "",
        f"- job cost = rate x hours billed x {c.instances} instance(s); on-demand and spot bill "
        f"the job's {c.hours:g} hours, a commitment bills every hour of each term it starts",
        "- cost vs on-demand = job cost / on-demand job cost - 1 (negative: a saving)",
        "- break-even utilisation = commitment rate / on-demand rate: the share of the term the "
        "instance must run for the commitment to cost less than on-demand",
        "",
        "## Sources",
        "",
        *[
            f"- {o.model}: {o.source} (as of {o.as_of}; {o.basis}): {md_cell(o.note)}"
            for o in c.options
        ],
        "",
    ]
    return "\n".join(lines)
