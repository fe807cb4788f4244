"""The $ per 1M inferences report: the options per ML model ranked by cost, the Pareto front
over (cost per 1M, p99) as a plot, the dominated options with what dominates them, and the
sandbox's CPU figures apart."""

from __future__ import annotations

from components.cost.inference import Front, Point
from runbooks.reports.kit import Table, html_page, svg_scatter


def _cost(p: Point) -> str:
    return "-" if p.usd_per_million is None else f"${p.usd_per_million:,.4f}"


def tables(front: Front) -> list[Table]:
    """Per ML model, its options (front first marked), then the sandbox's figures."""
    out: list[Table] = []
    for model, keys in front.front.items():
        rows = []
        for p in (q for q in front.points if q.model == model):
            by = front.dominated[model].get(p.key)
            rows.append([
                p.key, p.region, p.gpu_model, f"{p.throughput_per_s:,.0f}", f"{p.p99_ms:g}",
                _cost(p), "front" if p.key in keys else f"dominated by {by}", p.basis,
            ])  # fmt: skip
        headers = ["option", "region", "GPU", "inf/s", "p99 ms", "$ per 1M", "Pareto", "basis"]
        out.append((f"{model}: $ per 1M inferences", headers, rows))
    if front.sandbox:
        rows = [[p.key, p.model, f"{p.throughput_per_s:,.1f}", f"{p.p99_ms:g}", p.basis, p.scaling]
                for p in front.sandbox]  # fmt: skip
        headers = ["stack", "model", "inf/s", "p99 ms", "label", "what it is"]
        out.append(("Sandbox figures (CPU, not ranked with GPUs)", headers, rows))
    return out


def plots(front: Front) -> list[str]:
    """One scatter per ML model: cost per 1M against p99, the front in red."""
    out = []
    for model, keys in front.front.items():
        points = [(p.key, p.usd_per_million or 0.0, p.p99_ms, p.key in keys)
                  for p in front.points if p.model == model]  # fmt: skip
        out.append(svg_scatter(points, title=f"{model}: cost per 1M inferences vs p99",
                               x_label="$ per 1M inferences", y_label="p99 ms"))  # fmt: skip
    return out


def html(front: Front, meta: str) -> str:
    """The report as one self-contained HTML page."""
    return html_page(None, [], "$ per 1M inferences and the Pareto front", meta, plots(front),
                     tables(front), plots_title="Pareto front")  # fmt: skip
