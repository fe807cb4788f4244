"""`exitplan policy check`: the CrossGuard pack's rules over the planned stacks, offline."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from runbooks import render
from runbooks.commands.options import JsonOption, ProjectOption, print_json, project_of

if TYPE_CHECKING:
    from components.policy.offline import PolicyReport
    from runbooks.checkov import CheckovReport

CROSS_STACK = "(all stacks)"  # components.policy.offline.CROSS_STACK, without importing the pack

policy_app = typer.Typer(help="Check the stacks against the policy pack.", no_args_is_help=True)


@policy_app.command("check")
def check(
    stacks: Annotated[
        list[str] | None,
        typer.Argument(help="Stacks to check (default: all).", show_default=False),
    ] = None,
    project: ProjectOption = None,
    checkov: Annotated[
        bool,
        typer.Option(
            "--checkov",
            help="Also run checkov's Kubernetes checks over the planned Kubernetes objects "
            "(`make checkov-env` installs it); a failed check fails the verdict.",
        ),
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Run the policy pack (`components/policy`, the rules `pulumi up --policy-pack
    components/policy` enforces) over each stack's offline plan, plus the globally unique
    names across all of them; with `--checkov`, checkov's Kubernetes checks too. Exits 1 on
    any mandatory violation or failed checkov check; advisory ones are printed."""
    from components.planning.runner import Plan
    from components.policy.offline import check_plans
    from runbooks.checkov import checkov_executable, run_checkov
    from runbooks.progress import plan_each

    proj = project_of(project)
    executable = checkov_executable(proj.root) if checkov else None  # before any planning
    loaded = [proj.stack(name) for name in stacks or proj.stack_names()]
    for stack in loaded:
        stack.validate()  # report every bad stack before planning any
    planned: dict[str, Plan] = {}
    plans = plan_each(proj, loaded, enabled=not as_json, planned=planned)
    report = check_plans(plans)
    peer = run_checkov(plans, executable) if executable else None
    failed = bool(report.mandatory) or (peer is not None and not peer.ok)
    if as_json:
        data = report.as_dict()
        if peer is not None:
            data["checkov"] = peer.as_dict()
            data["verdict"] = "FAILED" if failed else "PASSED"
        print_json("policy.check", data)
    else:
        _table(report)
        if peer is not None:
            _checkov_table(peer)
    if failed:
        raise typer.Exit(1)


def _checkov_table(report: CheckovReport) -> None:
    """checkov's failures (check, stack, object) and its totals; skips are counted, each with
    its reason in `--json`."""
    if report.failed:
        table = Table("check", "stack", "object", "what", **render.COMPACT, title="checkov")
        table.title_justify = "left"
        for r in report.failed:
            table.add_row(r.check, r.stack, r.resource, r.name)
        render.out.print(table)
    for error in report.parsing_errors:
        render.out.print(f"checkov could not read {error}", soft_wrap=True)
    render.out.print(
        f"checkov {report.version} (Kubernetes checks): {'PASSED' if report.ok else 'FAILED'}: "
        f"{report.passed} passed, {len(report.failed)} failed, {len(report.skipped)} skipped "
        "with a reason (`--json` lists them)",
        soft_wrap=True,
    )


def _table(report: PolicyReport) -> None:
    """Per stack, a table of its violations (rule, severity, enforcement, resource), each with a
    numbered note below it: what is wrong, the fix and the rule's source. Fits 80 columns."""
    notes = render.Footnotes()
    for stack in [*report.stacks, CROSS_STACK]:
        found = [v for v in report.violations if v.stack == stack]
        if not found:
            continue
        # the last column named too (review U10): its cells are the numbered notes below
        table = Table("rule", "sev", "enf", "resource", "note", **render.COMPACT, title=stack)
        table.title_justify = "left"
        for column in table.columns:
            column.no_wrap = True
        for v in found:
            note = notes.cell(f"{v.message}. Fix: {v.fix}. Source: {v.source}", 0)
            table.add_row(v.rule, v.severity[:4], v.enforcement[:3], notes.cell(v.resource), note)
        render.out.print(table)
    notes.print()
    render.out.print(
        f"{report.verdict}: {len(report.mandatory)} mandatory and "
        f"{len(report.violations) - len(report.mandatory)} advisory violations of "
        f"{len(report.policies)} rules over {', '.join(report.stacks)}",
        soft_wrap=True,
    )
