"""Human output of the CLI: tables and trees on stdout, errors on stderr."""

from __future__ import annotations

import textwrap
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text
from rich.tree import Tree

if TYPE_CHECKING:  # the planner's types only: rendering needs no Pulumi SDK at import
    from components.planning.parity import ParityReport, ParityRow
    from components.planning.runner import Plan, PlannedResource


def terminal(**options: Any) -> Console:
    """A console whose plain lines are never wrapped (soft wrap): paths and URIs print whole
    on one line at any terminal width, so they can be pasted or clicked; tables still fit."""
    return Console(highlight=False, soft_wrap=True, **options)


out = terminal()
err = terminal(stderr=True)

SECRET_INPUTS = {"kubeconfig"}
# Inputs that hold secret values whatever their name, by resource type.
SECRET_INPUTS_BY_TYPE = {"kubernetes:core/v1:Secret": {"data", "stringData"}}
MASK = "[secret]"
STATUS_STYLE = {"equal": "green", "expected": "yellow", "info": "cyan", "drift": "bold red"}


def error(message: str) -> None:
    """An error for a person, on stderr."""
    err.print(f"[bold red]error:[/] {message}", markup=True, soft_wrap=True)


# Longer cell values become numbered footnotes below the table, so every table fits 80
# columns; with more stacks than this, parity lists stacks as rows (grouped by value).
CELL_LIMIT = 24
# A table without borders, one space between columns: more room for the values.
COMPACT: dict[str, Any] = {
    "box": None,
    "header_style": "bold underline",
    "padding": (0, 1, 0, 0),
    "collapse_padding": True,
    "pad_edge": False,
}
WIDE_PARITY_STACKS = 3


class Footnotes:
    """Long values replaced by `[n]` in a table and printed in full below it."""

    def __init__(self) -> None:
        self.texts: list[str] = []

    def cell(self, value: str, limit: int = CELL_LIMIT) -> str:
        """`value` itself when short, else a reference to its footnote."""
        if len(value) <= limit:
            return escape(value)
        if value not in self.texts:
            self.texts.append(value)
        return f"[{self.texts.index(value) + 1}]"

    def print(self) -> None:
        """The footnotes, one per line, whole (a terminal may wrap them; nothing is cut)."""
        for number, text in enumerate(self.texts, 1):
            out.print(f"\\[{number}] {escape(text)}", soft_wrap=True)


def stacks_table(rows: list[dict[str, Any]]) -> None:
    """`exitplan stacks list` (long regions and GPU types as footnotes: it fits 80 columns)."""
    table = Table(
        "stack", "cloud", "role", "level", "region", "GPU type", "nodes", "RTO", **COMPACT
    )
    for column in table.columns:
        column.no_wrap = True
    notes = Footnotes()
    for r in rows:
        rto = r["estimated_rto_s"]
        table.add_row(
            r["stack"],
            r["provider"],
            r["role"],
            r["standby_level"] or "-",
            notes.cell(r["region"], 12),
            notes.cell(r["gpu_type"], 12),
            r["gpu_nodes"],
            f"{rto} s" if rto is not None else "-",
        )
    out.print(table)
    notes.print()


def rto_table(rto: dict[str, Any]) -> None:
    """The achievable-RTO estimate of a standby, phase by phase, with each figure's basis."""
    title = f"estimated RTO at level {rto['level']}: {rto['total_s']} s"
    table = Table("phase", "seconds", "basis", title=title)
    for phase in rto["phases"]:
        table.add_row(phase["name"], f"{phase['seconds']:g}", escape(phase["basis"]))
    out.print(table)
    for note in rto.get("notes", []):
        out.print(f"[yellow]note[/] {escape(note)}")


def gap_notes(gaps: dict[str, str]) -> None:
    """Per-cloud gaps that concern these stacks, each with its reason."""
    for feature, reason in gaps.items():
        out.print(f"[yellow]gap[/] {escape(feature)}: {escape(reason)}")


def lookup(inputs: dict[str, Any], path: str) -> Any:
    """The value at a dotted path (`a.b.0.c`), or None."""
    value: Any = inputs
    for part in path.split("."):
        if isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        elif isinstance(value, dict) and part in value:
            value = value[part]
        else:
            return None
    return value


def key_properties(resource: PlannedResource) -> dict[str, Any]:
    """The resource's key properties that are set."""
    found = {p: lookup(resource.inputs, p) for p in resource.key_paths}
    return {p: plain(v) for p, v in found.items() if v is not None}


def plain(value: Any) -> Any:
    """Floats that are whole numbers (the wire format) back to ints."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    return value


def plan_json(plan: Plan) -> dict[str, Any]:
    """`exitplan plan --json`: every resource with all its inputs; secrets masked."""
    return {
        "stack": plan.stack,
        "resource_count": len(plan.resources),
        "resources": [
            {
                "type": r.type,
                "name": r.name,
                "parent": r.parent,
                "custom": r.custom,
                "key_properties": key_properties(r),
                "inputs": masked_inputs(r),
            }
            for r in plan.resources
        ],
        "outputs": {k: MASK if k in plan.secret_outputs else v for k, v in plan.outputs.items()},
    }


def masked_inputs(resource: PlannedResource) -> dict[str, Any]:
    """A planned resource's inputs as plain values, its secret ones masked."""
    secret = SECRET_INPUTS | SECRET_INPUTS_BY_TYPE.get(resource.type, set())
    return {k: MASK if k in secret else v for k, v in plain(resource.inputs).items()}


def plan_tree(plan: Plan) -> None:
    """`exitplan plan`: the resource tree under the stack, with key properties."""
    root = Tree(
        f"[bold]{plan.stack}[/] — {len(plan.resources)} resources (offline plan, Pulumi mocks)"
    )
    nodes: dict[str, Tree] = {}
    for r in plan.resources:
        props = ", ".join(f"{k}={_short(v)}" for k, v in key_properties(r).items())
        label = Text.from_markup(
            f"[cyan]{r.type}[/] [bold]{escape(r.name)}[/]"
            + (f"  [dim]{escape(props)}[/]" if props else "")
        )
        # a line too long for the terminal ends in "…", never silently cut (review U2)
        label.no_wrap, label.overflow = True, "ellipsis"
        nodes[r.name] = nodes.get(r.parent, root).add(label)
    out.print(root)
    outputs = Table("output", "value", title="stack outputs")
    for key, value in plan.outputs.items():
        shown = escape(MASK) if key in plan.secret_outputs else escape(_short(value, 100))
        outputs.add_row(key, shown)
    out.print(outputs)
    rto = plan.outputs.get("rto_estimate")
    if rto:
        rto_table(rto)


def _short(value: Any, limit: int = 60) -> str:
    text = str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def parity_table(report: ParityReport) -> None:
    """`exitplan parity`: rows equal everywhere as one line each, then the rows that differ
    (a table for a few stacks; per row, the stacks grouped by value for more), the notes with
    their reasons, and drift last. Long values are footnotes, so it reads at 80 columns."""
    n = len(report.stacks)
    for row in report.rows:
        if row.status == "equal":
            value = next(iter(row.values.values()))
            # wrapped at the terminal's width, between words (review U12: `= probes:` ran
            # to 220 characters on one line)
            out.print(
                f"[green]=[/] {row.row}: {escape(value)}  [dim](all {n} stacks)[/]",
                soft_wrap=False,
            )
    differing = [row for row in report.rows if row.status != "equal"]
    notes = Footnotes()
    if differing and n <= WIDE_PARITY_STACKS:
        _parity_columns(report, differing, notes)
    elif differing:
        _parity_groups(report, differing, notes)
    notes.print()
    for row in report.rows:
        if row.status == "expected":
            out.print(f"[yellow]note[/] {row.row}: {escape(row.reason)}", soft_wrap=False)
    gap_notes(report.gaps)
    if report.drift:
        for row in report.drift:
            err.print(f"[bold red]drift[/] {row.row}: {row.reason}", soft_wrap=True)
        err.print(f"{len(report.drift)} row(s) drift: the stacks are not equivalent")
    else:
        out.print(f"[green]parity ok[/]: {n} stacks equivalent")


def _parity_columns(report: ParityReport, rows: list[ParityRow], notes: Footnotes) -> None:
    table = Table("row")
    for stack in report.stacks:
        table.add_column(f"{stack}\n({report.providers[stack]})", no_wrap=True)
    table.add_column("status")
    for row in rows:
        cells = [notes.cell(row.values[s]) for s in report.stacks]
        table.add_row(row.row, *cells, f"[{STATUS_STYLE[row.status]}]{row.status}[/]")
    out.print(table)


def _parity_groups(report: ParityReport, rows: list[ParityRow], notes: Footnotes) -> None:
    """One block per differing row: its status, then each value with the stacks that have it."""
    for row in rows:
        out.print(f"[{STATUS_STYLE[row.status]}]{row.status:>8}[/] [bold]{row.row}[/]")
        groups: dict[str, list[str]] = {}
        for stack in report.stacks:
            groups.setdefault(row.values[stack], []).append(stack)
        for value, stacks in groups.items():
            line = f"{notes.cell(value, 40)}: {', '.join(stacks)}"
            wrapped = textwrap.wrap(
                line,
                width=max(out.width, 40),
                initial_indent=" " * 9,
                subsequent_indent=" " * 11,
                break_long_words=False,
                break_on_hyphens=False,
            )
            out.print("\n".join(wrapped), soft_wrap=True)


def package_summary(result: dict[str, Any]) -> None:
    """`exitplan package`: inputs, outputs, parity per batch size, sizes, digests, where."""
    table = Table(
        "",
        "",
        title=f"{result['name']} version {result['version']} "
        f"({result['framework']}{', reused' if result['reused'] else ''})",
    )
    table.add_row("inputs", escape("\n".join(result["inputs"])))
    table.add_row("outputs", escape("\n".join(result["outputs"])))
    table.add_row("ONNX size", f"{result['onnx_bytes'] / 1024:,.0f} KiB")
    out.print(table)
    # Paths, digests and URIs are what a person copies: whole lines, never in a table cell.
    where = [
        ("ONNX", f"sha256:{result['onnx_sha256']}"),
        ("repository", result["repository"]),
        ("image", result["image_layout"]),
        ("image digest", result["image_digest"]),
        *(("pushed", f"{ref}@{digest}") for ref, digest in result["pushed"].items()),
        *(
            (
                "published",
                f"{stack} {published['uri']} ({published['uploaded']} uploaded, "
                f"{published['skipped']} unchanged, {published['verified']} verified)",
            )
            for stack, published in result["published"].items()
        ),
    ]
    for label, value in where:
        out.print(f"{label + ':':<14}{escape(str(value))}", soft_wrap=True)
    parity = result["parity"]
    rows = Table(
        "batch",
        "output",
        "max abs error",
        "max rel error",
        "labels",
        title=f"parity vs {parity['framework']} (atol {parity['atol']:g}, rtol {parity['rtol']:g})",
    )
    for row in parity["rows"]:
        labels = f"{row['label_agreement']:.0%}" if row["label_agreement"] is not None else "-"
        rows.add_row(
            str(row["batch"]),
            row["output"],
            f"{row['max_abs_error']:.2e}",
            f"{row['max_rel_error']:.2e}",
            labels,
        )
    out.print(rows)
    out.print(
        f"stack spec: models: [{{name: {result['name']}, version: {result['version']}, "
        f"digest: sha256:{result['onnx_sha256']}}}]"
    )


def sandbox_status(state: dict[str, Any], health: dict[str, dict[str, Any]]) -> None:
    """`exitplan sandbox up|status`: the front door, then one block per stack (its name whole
    as the heading, its facts on the line below, one line per Triton replica), then the other
    processes; the last log lines of each stack that is not ready. Every line fits 80 columns
    whatever the names (review U1: a table cut `triton-azure-standby` to `triton…`)."""
    out.print(
        f"front door: [bold]{state['endpoint']}[/]   model {state['model']}:"
        f"{state['version']} {state['digest'][:19]}"
    )
    components = state["components"]
    stacks = [*health, *(c["stack"] for c in components if c["kind"] == "triton")]
    for stack in dict.fromkeys(stacks):
        facts = health.get(stack, {})
        out.print(f"[bold]{escape(stack)}[/]")
        if facts:
            ready = "ready" if facts.get("ready") else "[red]not ready[/]"
            out.print(
                f"  {facts.get('level', '-')} · {ready} · weight {facts.get('weight', '-')} · "
                f"restarts {facts.get('restarts', 0)} · credentials "
                f"{facts.get('credentials', '-')}"
            )
        if facts.get("digest"):
            out.print(f"  model {str(facts['digest'])[:19]}")
        for c in components:
            if c["kind"] == "triton" and c["stack"] == stack:
                out.print(f"  {_process_line(c)}")
    others = [c for c in components if c["kind"] != "triton"]
    if others:
        out.print("[bold]other processes[/]")
        for c in others:
            out.print(f"  {_process_line(c)}")
    for name, facts in health.items():
        if facts.get("log_tail"):
            out.print(f"[red]{name} is not ready[/]; its Triton log ends:")
            for line in facts["log_tail"]:
                out.print(f"  {escape(line)}", soft_wrap=True)


def _process_line(component: dict[str, Any]) -> str:
    """One process: its name, pid (or stopped) and address, in columns."""
    address = f"127.0.0.1:{component['port']}" if component["port"] else "-"
    pid = f"pid {component['pid']}" if component["pid"] else "stopped"
    return f"{escape(component['name']):<28} {pid:<12} {address}"


def first_deploy(outcomes: list[dict[str, Any]]) -> None:
    """`exitplan sandbox up --first-deploy`: per stack, when it deployed, how long until ready,
    and its checked answer or why not."""
    table = Table("stack", "deployed at", "ready after", "answer")
    for o in outcomes:
        ready = o["ready_after_s"]
        table.add_row(
            o["stack"],
            f"{o['deployed_at_s']:.1f} s",
            "[red]never[/]" if ready is None else f"{ready:.1f} s",
            o["answer"] if o["passed"] else f"[red]{escape(o['answer'])}[/]",
        )
    out.print(table)


def load_summary(summary: dict[str, Any]) -> None:
    """`exitplan load`: rates, latency percentiles, errors and the share per stack."""
    # the unit in the title: "p50 ms" x 4 made the table 81 columns wide (review U1)
    table = Table(
        "requested", "achieved", "sent", "ok", "failed", "p50", "p90", "p99", "max",
        title="latency in ms",
    )  # fmt: skip
    table.add_row(
        f"{summary['rate']:g}/s",
        f"{summary['achieved_rate']:.1f}/s",
        str(summary["sent"]),
        str(summary["ok"]),
        str(summary["failed"]),
        # no answer, no latency (review I7: all-failed loads showed p50 0.00)
        *(
            f"{summary[k]:.2f}" if summary["ok"] else "-"
            for k in ("p50_ms", "p90_ms", "p99_ms", "max_ms")
        ),
    )
    out.print(table)
    share = ", ".join(f"{k or '?'} {v:.0%}" for k, v in summary["share"].items())
    out.print(f"served by: {share or '-'}")
    for kind, count in summary["errors"].items():
        err.print(f"[red]{count} failed[/]: {kind}")


def drill_verdict(journal: dict[str, Any], folder: Any) -> None:
    """The drill's verdict: one short line (it fits 80 columns), then a details block (the RTO
    and its split, every request accounted, what else the verdict says, each once), its phases,
    and where the report is."""
    ep = journal["exitplan"]
    verdict = ep["verdict"]
    mark = "[green]PASSED[/]" if verdict["passed"] else "[bold red]FAILED[/]"
    rto = ep.get("rto_measured_s")
    load = ep.get("load")
    if load:
        failed, sent = load["failed"], load["scheduled"]
    else:
        failed, sent = (sum(p[k] for p in ep["phases"]) for k in ("failed", "sent"))
    out.print(
        f"{mark} {ep['from']} -> {ep['to']}: RTO {f'{rto:g} s' if rto is not None else '-'}, "
        f"{failed} of {sent} requests failed"
    )
    cutover = ep.get("cutover")
    target, estimate = ep.get("rto_target_s"), ep.get("rto_estimate_s")
    if rto is not None:
        split = (
            f" = {cutover['holds_s']:g} s configured holds + {cutover['overhead_s']:g} s measured"
            if cutover
            else ""
        )
        out.print(f"  RTO       {rto:g} s{split}")
        out.print(
            f"  target    {f'{target:g} s' if target is not None else 'none (--rto)'}; "
            f"estimate {f'{estimate:g} s' if estimate is not None else 'none'}"
        )
    if load:
        out.print(
            f"  requests  {load['wrong_answers']} wrong answers, {load['lost']} lost, "
            f"{load['accounted']} of {sent} accounted; lag p99 {load['lag_p99_ms']:.1f} ms"
        )
    # the verdict's own words, less what the lines above already say
    said = ("all traffic on ", f"{failed} of {sent} requests failed")
    rest = [part for part in verdict["summary"].split("; ") if not part.startswith(said)]
    for part in rest:
        out.print(f"  verdict   {escape(part)}")
    table = Table("phase", "seconds", "sent", "failed", "p50 ms", "p99 ms", "share")
    for p in ep["phases"]:
        share = ", ".join(f"{k} {v:.0%}" for k, v in p["share"].items())
        table.add_row(
            p["name"],
            f"{p['end_s'] - p['start_s']:.1f}",
            str(p["sent"]),
            str(p["failed"]),
            f"{p['p50_ms']:.2f}",
            f"{p['p99_ms']:.2f}",
            share,
        )
    out.print(table)
    out.print(f"report: {folder}/report.html")
    out.print(f"        {folder}/report.md, {folder}/journal.json")


def sandbox_explain(report: dict[str, Any]) -> None:
    """`exitplan sandbox explain`: planned vs sandbox command line, then the substitutions."""
    planned = report["planned"]
    where = "running now" if report["running"] else "not running: ports and paths are placeholders"
    out.print(f"[bold]{report['stack']}[/]: Triton as planned at {planned['source']} ({where})")
    table = Table(expand=True)
    table.add_column("planned (the Deployment's args)", overflow="fold")
    table.add_column("sandbox", overflow="fold")
    sandbox_argv = report["sandbox_argv"]
    for index in range(max(len(planned["args"]), len(sandbox_argv))):
        left = planned["args"][index] if index < len(planned["args"]) else ""
        right = sandbox_argv[index] if index < len(sandbox_argv) else ""
        table.add_row(left, right if right != left else "[dim]same[/]")
    out.print(table)
    identity = planned["identity"]
    out.print(
        f"identity: {identity.get('kind', '-')} {identity.get('principal', '-')}; "
        f"in the sandbox: {report['identity_stand_in']}"
    )
    for bucket, grants in planned["grants"].items():
        out.print(f"  grants on {bucket}: {len(grants)} " + ("; ".join(g[:60] for g in grants)))
    copy = planned["copy"]
    out.print(
        "store: "
        + (f"copied first by {copy['image']}" if copy else "read by Triton's own client")
        + f"; service-account token {'mounted' if planned['token_mounted'] else 'not mounted'}"
    )
    subs = Table("substituted", "why")
    for sub in report["substitutions"]:
        subs.add_row(sub["what"], sub["reason"])
    out.print(subs)
