"""`exitplan stacks list`, `exitplan plan` and `exitplan parity`: the stacks, offline."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape

from components.stack_config import Stack
from runbooks import render
from runbooks.commands.options import (
    JsonOption,
    ProjectOption,
    file_option,
    print_json,
    project_of,
)

if TYPE_CHECKING:
    from components.planning.runner import Plan
    from components.stack_config import Project

stacks_app = typer.Typer(help="Inspect the stacks of the project.", no_args_is_help=True)
app = typer.Typer()


@stacks_app.command("list")
def stacks_list(project: ProjectOption = None, as_json: JsonOption = False) -> None:
    """List the stacks: provider, role, standby level, region, the machine type the catalog
    resolves, node range and, for standbys, the estimated achievable RTO."""
    proj = project_of(project)
    rows = [_stack_row(proj.stack(name)) for name in proj.stack_names()]
    if as_json:
        print_json("stacks.list", {"stacks": rows})
    else:
        render.stacks_table(rows)


@stacks_app.command("order")
def stacks_order(project: ProjectOption = None, as_json: JsonOption = False) -> None:
    """The first deploy on empty accounts, in order: each `pulumi up` (the router's owner twice:
    without, then with its router) and each `exitplan package --publish`, with why it comes
    there."""
    from components.deploy_order import deploy_order

    steps = deploy_order(project_of(project))
    if as_json:
        print_json("stacks.order", {"steps": [step.as_dict() for step in steps]})
        return
    for number, step in enumerate(steps, 1):
        render.out.print(f"{number:>2}. {escape(step.command)}")
        render.out.print(f"    {escape(step.why)}")


def _stack_row(stack: Stack) -> dict[str, Any]:
    stack.validate()
    spec = stack.spec
    if stack.kind == "edge":
        edge = stack.edge_plan
        machine, region = edge.label, f"{edge.parent_region} / {edge.zone}"
    else:
        machine, region = stack.plan.gpu_instance.label, spec.region
    return {
        "stack": stack.name,
        "kind": stack.kind,
        "provider": spec.provider,
        "role": spec.role,
        "standby_level": stack.standby.level if stack.standby else None,
        "region": region,
        "gpu_type": machine,
        "gpu_nodes": f"{spec.gpu.min_nodes}-{spec.gpu.max_nodes}",
        "estimated_rto_s": stack.rto.total_s if stack.rto else None,
        "routes": stack.traffic.stacks if stack.traffic else [],
    }


@app.command("plan")
def plan(
    stack: Annotated[str, typer.Argument(help="Stack name, e.g. aws-primary.")],
    output_format: Annotated[
        str | None,
        typer.Option(
            "--format",
            help="`pulumi-preview`: the plan as `pulumi preview --json` prints a first deploy "
            "(for `exitplan cost --preview` and other tools that read Pulumi previews).",
            show_default=False,
        ),
    ] = None,
    out: Annotated[
        Path | None, file_option("--out", "With --format: write the file here, not to stdout.")
    ] = None,
    project: ProjectOption = None,
    as_json: JsonOption = False,
) -> None:
    """Show what `pulumi up -s STACK` would create: the real program run offline under
    Pulumi's mocks (no cloud credentials needed). Prints type, name, parent and key
    properties of every resource."""
    from components.errors import InputError
    from components.planning.runner import plan_stack

    if output_format not in (None, "pulumi-preview"):
        raise InputError(
            f"unknown format {output_format!r}", field="--format", fix="use pulumi-preview"
        )
    if output_format and as_json:
        raise InputError("--format and --json both given", field="--json", fix="give one")
    if out and not output_format:
        raise InputError("--out writes a --format", field="--out", fix="add --format")
    proj = project_of(project)
    loaded = proj.stack(stack)
    result = plan_stack(proj, loaded)
    warnings = loaded.warnings
    if output_format:
        _write_preview(proj, loaded, result, out)
    elif as_json:
        print_json(
            "plan",
            {
                **render.plan_json(result),
                "gaps": loaded.gaps,
                "warnings": [w.as_dict() for w in warnings],
            },
        )
    else:
        render.plan_tree(result)
        render.gap_notes(loaded.gaps)
        for warning in warnings:
            render.out.print(f"[yellow]warning[/] {escape(warning.render())}")


def _write_preview(proj: Project, stack: Stack, result: Plan, out: Path | None) -> None:
    """The plan in Pulumi's preview format, to `out` or stdout."""
    from components.catalog.clouds import facts
    from runbooks.reports.preview import preview_digest, region_config

    package = facts(str(stack.spec.provider)).pulumi_package
    config = region_config(package, str(stack.spec.region))
    text = json.dumps(preview_digest(result, proj.name, config), indent=4) + "\n"
    if out is None:
        typer.echo(text, nl=False)
        return
    out.write_text(text, encoding="utf-8")
    render.out.print(f"wrote {out}", soft_wrap=True)


@app.command("parity")
def parity(
    stacks: Annotated[
        list[str] | None,
        typer.Argument(help="Stacks to compare (default: all).", show_default=False),
    ] = None,
    project: ProjectOption = None,
    as_json: JsonOption = False,
) -> None:
    """Compare stacks for equivalence: Triton version, models, GPU, Kubernetes minor, ports and
    probes, identity, encryption, exposure. Expected per-cloud differences are shown as notes
    with their reason; any other difference is drift and exits 1."""
    from components.planning.parity import compare
    from runbooks.progress import plan_each

    proj = project_of(project)
    names = stacks or proj.stack_names()
    loaded = [proj.stack(n) for n in names]
    for stack in loaded:
        stack.validate()  # report every bad stack before planning any
    gaps = {k: v for stack in loaded for k, v in stack.gaps.items()}
    report = compare(plan_each(proj, loaded, enabled=not as_json), gaps)
    if as_json:
        print_json("parity", report.as_dict())
    else:
        render.parity_table(report)
    if report.drift:
        raise typer.Exit(1)
