"""The provider-incident runbook of a service, in Markdown, from its stacks and (optionally) its
inventory row: contacts and escalation, the exit clause and export path, the cutover plan with
its exact commands in order, the manual steps where automation is a gap (each with its
command), the checks that prove it worked, and the rollback.

The cutover's drill steps are `runbooks.drills.exit_options.planned_steps` for the very options
of the command the runbook prints (what `exitplan drill exit-plan ... --dry` prints on the live
target), so the runbook says what the drill does. The DNS and credential commands per cloud are
catalog data (`components/catalog/data/cloud_operations.csv`), each with its source."""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from pathlib import Path

from components.catalog import today
from components.catalog.clouds import facts, store_uri, triton_wire
from components.catalog.operations import dns_commands, manual_revocation
from components.errors import InputError
from components.stack_config import Project, Stack
from runbooks.drills.exit_options import ExitPlanOptions, planned_steps, step_weights
from runbooks.rehearsal.inventory import InventoryRow, format_duration
from runbooks.rehearsal.readiness import Context, judged_failover, service_stacks
from runbooks.targets.live import router_clouds
from runbooks.targets.live.target import REVOCATION_GAP

PACKAGE_PLACEHOLDER = "<package>/reference.json"


@dataclass(frozen=True)
class Cutover:
    """What the runbook plans: leave `source` for `dest`, routed by `router` (None when no
    stack routes both)."""

    service: str
    source: Stack
    dest: Stack
    router: Stack | None
    options: ExitPlanOptions

    @property
    def before(self) -> dict[str, int]:
        """The router's weights as the router stack declares them (what the DNS serves)."""
        traffic = self.router.traffic if self.router else None
        return dict(traffic.weights) if traffic else {}

    @property
    def after(self) -> dict[str, int]:
        """The weights once all traffic is on --to."""
        return step_weights(self.before, self.options, 100)

    @property
    def command(self) -> list[str]:
        """The drill command that runs the cutover on the live stacks and stays on --to."""
        o = self.options
        args = ["exitplan", "drill", "exit-plan", "--from", o.source, "--to", o.dest]
        args += ["--target", "live", "--keep"]
        if o.rto_s is not None:
            args += ["--rto", f"{o.rto_s:g}"]
        return [*args, "--reference", str(o.reference or PACKAGE_PLACEHOLDER)]

    def steps(self) -> list[str]:
        """The drill's steps, as `--dry` prints them on the live target."""
        return planned_steps(self.options, self.before, revocation_gap(self.source))


def revocation_gap(stack: Stack) -> str | None:
    """Why the live target cannot revoke the stack's store credentials, or None: its cloud's
    catalog gap, or no adapter for its identity (as the live target reports)."""
    cloud = facts(stack.spec.provider)
    reason = cloud.lacks(REVOCATION_GAP)
    if reason is None and cloud.name not in router_clouds():
        reason = f"the live target was built without {cloud.display_name}'s credential adapter"
    if reason is None:
        return None
    return (
        f"stack {stack.name} reads its model store as {cloud.identity_kind}, "
        f"{cloud.display_name}'s workload identity: {reason}"
    )


def plan_cutover(project: Project, service: str, row: InventoryRow | None) -> Cutover:
    """The cutover of `service`: from its own stack to the failover the inventory check judges
    (else the router's failover secondary, else the standby with the lowest estimated RTO)."""
    stacks = service_stacks(project, service)
    if not stacks:
        names = sorted({project.stack(n).spec.name for n in project.stack_names()})
        raise InputError(
            f"no stack deploys service {service!r}",
            field="SERVICE",
            fix=f"use a service name from the stacks' exitplan:service.name: {', '.join(names)}",
        )
    source = next((s for s in stacks if s.kind == "service"), stacks[0])
    dest = _destination(project, source, stacks, row)
    router = next(
        (s for s in stacks if s.traffic and {source.name, dest.name} <= set(s.traffic.stacks)),
        next((s for s in stacks if s.traffic), None),
    )
    reference = f"{row.model_package}/reference.json" if row and row.model_package else None
    options = ExitPlanOptions(
        source.name,
        dest.name,
        rto_s=row.rto_s if row else None,
        keep=True,
        reference=None if reference is None else Path(reference),
    )
    return Cutover(service, source, dest, router, options)


def _destination(
    project: Project, source: Stack, stacks: list[Stack], row: InventoryRow | None
) -> Stack:
    if row and row.failover_plan:
        judged = judged_failover(row, Context(project, []))
        assert judged is not None
        return project.stack(judged.stack)
    standbys = [s for s in stacks if s.standby and s.standby.primary == source.name]
    if not standbys:
        raise InputError(
            f"{source.name} has no standby to cut over to",
            field="SERVICE",
            fix="add a standby stack (exitplan:standby) of it in another cloud",
        )
    secondary = (
        source.traffic.failover.secondary if source.traffic and source.traffic.failover else None
    )
    named = [s for s in standbys if s.name == secondary]
    return (named or sorted(standbys, key=lambda s: s.rto.total_s if s.rto else 0))[0]


def render_runbook(project: Project, service: str, row: InventoryRow | None, source: str) -> str:
    """The runbook in Markdown; `source` names the inventory read (or says none was)."""
    cutover = plan_cutover(project, service, row)
    parts = [
        f"# Provider-incident runbook: {service}",
        f"Generated {today().isoformat()} by `exitplan runbook render {service}` from "
        f"the stack files and {source}. Regenerate it after any stack or inventory change.",
        _stacks_section(project, service),
        _contacts_section(row),
        _exit_section(project, service, row),
        _cutover_section(cutover),
        _manual_section(project, service, cutover),
        _checks_section(cutover, row),
        _rollback_section(cutover),
    ]
    return "\n\n".join(parts) + "\n"


def _code(*lines: str) -> str:
    return "```sh\n" + "\n".join(lines) + "\n```"


def _stacks_section(project: Project, service: str) -> str:
    lines = ["## Stacks", "", "| stack | kind | cloud | region | standby level | estimated RTO |"]
    lines.append("|---|---|---|---|---|---|")
    for s in service_stacks(project, service):
        level = s.standby.level if s.standby else "-"
        rto = f"{s.rto.total_s} s" if s.rto else "-"
        lines.append(
            f"| {s.name} | {s.kind} | {s.spec.provider} | {s.spec.region} | {level} | {rto} |"
        )
    return "\n".join(lines)


def _contacts_section(row: InventoryRow | None) -> str:
    if row is None:
        return "## Contacts and escalation\n\nNot recorded: pass `--inventory FILE`."
    return "\n".join(
        [
            "## Contacts and escalation",
            "",
            f"- Owner: {row.owner}",
            f"- Escalation: {row.escalation or 'not recorded'}",
            f"- Business function: {row.business_function} ({row.criticality})",
            f"- Targets: RTO {format_duration(row.rto_s)}, RPO {format_duration(row.rpo_s)}",
        ]
    )


def _exit_section(project: Project, service: str, row: InventoryRow | None) -> str:
    lines = ["## Exit clause and data export", ""]
    if row is None:
        lines.append("- Exit clause and export path: not recorded (pass `--inventory FILE`)")
    else:
        lines.append(f"- Exit clause: {row.exit_clause or 'NOT RECORDED'}")
        lines.append(f"- Data export path: {row.data_export_path or 'NOT RECORDED'}")
    for s in service_stacks(project, service):
        if s.kind != "edge" or s.spec.model_repository:
            lines.append(f"- Model store of {s.name}: `{store_uri(s.spec)}`")
    return "\n".join(lines)


def _config_commands(router: str, weights: dict[str, int]) -> list[str]:
    """`pulumi config set` of each weight in the router stack (a `pulumi up` applies them)."""
    return [
        f"pulumi config set --path 'exitplan:traffic.weights.{stack}' {weight} -s {router}"
        for stack, weight in weights.items()
    ]


def _cutover_section(c: Cutover) -> str:
    o, dest = c.options, c.dest
    lines = [f"## Cutover plan: {o.source} -> {o.dest}", ""]
    level = dest.standby.level if dest.standby else None
    if level and level != "hot":
        lines += [
            f"1. Bring {o.dest} ({level}) to the primary's capacity before moving traffic:",
            "",
            _code(
                f"pulumi config set --path 'exitplan:standby.level' hot -s {o.dest}",
                f"pulumi up -s {o.dest}",
            ),
            "",
        ]
    else:
        lines += [f"1. {o.dest} runs at its level ({level or dest.kind}): nothing to scale.", ""]
    dry = shlex.join([*c.command, "--dry"])
    lines += [f"2. Show the steps without acting: `{dry}`", ""]
    lines += [
        f"3. Run the cutover (stays on {o.dest}: `--keep`):",
        "",
        _code(shlex.join(c.command)),
    ]
    lines += ["", "   The drill does, in order:", ""]
    lines += [f"   {i}. {step}" for i, step in enumerate(c.steps(), 1)]
    if c.router is None:
        lines += ["", "   No stack routes the service: give one an exitplan:traffic router first."]
        return "\n".join(lines)
    traffic = c.router.traffic
    assert traffic is not None
    if traffic.dns_provider not in router_clouds():
        lines += [
            "",
            f"   The live target cannot shift {facts(traffic.dns_provider).display_name} DNS "
            "weights: do each canary step by hand instead:",
            "",
        ]
        for step in o.canary:
            weights = step_weights(c.before, o, step)
            commands = [*_config_commands(c.router.name, weights), f"pulumi up -s {c.router.name}"]
            lines += [f"   - {step}%:", "", _code(*commands), ""]
    lines += [
        "",
        f"4. Record the cutover in the router stack, else its next `pulumi up` puts "
        f"{c.before} back: weights {c.after}",
        "",
        _code(
            *_config_commands(c.router.name, c.after),
            *_failover_swap(c),
            f"pulumi up -s {c.router.name}",
        ),
        "",
        _dns_text(c),
    ]
    return "\n".join(lines)


def _failover_swap(c: Cutover) -> list[str]:
    """With a failover pair whose primary is --from: make --to the primary."""
    traffic = c.router.traffic if c.router else None
    if not (
        c.router and traffic and traffic.failover and traffic.failover.primary == c.options.source
    ):
        return []
    r = c.router.name
    return [
        f"pulumi config set --path 'exitplan:traffic.failover.primary' {c.options.dest} -s {r}",
        f"pulumi config set --path 'exitplan:traffic.failover.secondary' {c.options.source} -s {r}",
    ]


def _dns_text(c: Cutover) -> str:
    assert c.router is not None and c.router.traffic is not None
    traffic = c.router.traffic
    name = c.router.spec.dns_name or f"<public name in {traffic.zone}>"
    dns = dns_commands(traffic.dns_provider)
    zone_ref = traffic.zone_ref or traffic.zone.replace(".", "-")
    weighted = f"weighted.{name}" if traffic.failover else name
    change = dns.change.format(name=name, weighted=weighted, zone=traffic.zone)
    verify = dns.verify.format(name=name, zone=traffic.zone, zone_ref=zone_ref)
    return "\n".join(
        [
            f"5. DNS ({dns.service}, owned by {c.router.name}; zone {traffic.zone}, TTL "
            f"{traffic.ttl_s} s): {change}. Resolvers may answer with the old weights for up "
            "to the TTL. Check:",
            "",
            _code(verify),
            "",
            f"   ({dns.source})",
        ]
    )


def _manual_section(project: Project, service: str, c: Cutover) -> str:
    lines = [
        "## Manual steps (automation gaps)",
        "",
        "Where the live target cannot revoke or restore a stack's store access "
        "(components/catalog/data/cloud_gaps.csv, live-credential-revocation), do it by hand: "
        "for the vendor exit when the stack is the one left, and for a leaked credential.",
    ]
    for s in service_stacks(project, service):
        gap = facts(s.spec.provider).lacks(REVOCATION_GAP)
        if gap is None or (s.kind == "edge" and not s.spec.model_repository):
            continue
        manual = manual_revocation(s.spec.provider)
        store = store_uri(s.spec)
        fill = {"stack": s.name, "store": store}
        lines += [
            "",
            f"### {s.name} ({facts(s.spec.provider).display_name}, {store})",
            "",
            f"Why by hand: {gap}",
            "",
            "Revoke:",
            "",
            _code(*(cmd.format(**fill) for cmd in manual.revoke)),
            "",
            "Restore:",
            "",
            _code(*(cmd.format(**fill) for cmd in manual.restore)),
            "",
            f"({manual.source})",
        ]
    if revocation_gap(c.source) is None:
        lines += ["", f"{c.source.name}'s credentials are revoked and restored by the drill."]
    return "\n".join(lines)


def _checks_section(c: Cutover, row: InventoryRow | None) -> str:
    o = c.options
    ready = triton_wire().ready_path
    name = c.router.spec.dns_name if c.router else None
    url = f"http://{name}:{triton_wire().http_port}" if name else "<public URL>"
    reference = str(o.reference or PACKAGE_PLACEHOLDER)
    lines = [
        "## Checks that prove it worked",
        "",
        f"- Every answer through the public name is right, none fails "
        f"({o.dest} alone now serves it):",
        "",
        _code(f"exitplan load --url {url} --reference {reference} --rate 50 --duration 60"),
        "",
        f"- The two stacks deploy the same service: `exitplan parity {o.source} {o.dest}`",
        f"- {o.dest} answers its readiness check (200):",
        "",
        _code(f'curl -fsS "$(pulumi stack output endpoint -s {o.dest}){ready}"'),
        "",
        "- The DNS serves the new weights (the check in step 5).",
    ]
    if row is not None:
        lines.append(
            f"- The drill's verdict: its measured RTO within --rto {row.rto_s:g} "
            f"({format_duration(row.rto_s)}), every request accounted for, none failed."
        )
    return "\n".join(lines)


def _rollback_section(c: Cutover) -> str:
    o = c.options
    lines = [
        "## Rollback",
        "",
        "1. Undo what the drill changed, from its journal (weights back; revoked credentials "
        f"rotated, not reinstated): `exitplan drill rollback "
        f".exitplan/drills/<stamp>-{o.source}-to-{o.dest}/journal.json`",
    ]
    if c.router is not None:
        lines += [
            f"2. Put the router stack back to {c.before}:",
            "",
            _code(
                *_config_commands(c.router.name, c.before),
                *_failover_unswap(c),
                f"pulumi up -s {c.router.name}",
            ),
        ]
    if c.dest.standby and c.dest.standby.level != "hot":
        lines += [
            "",
            f"3. Return {o.dest} to its level ({c.dest.standby.level}):",
            "",
            _code(
                f"pulumi config set --path 'exitplan:standby.level' {c.dest.standby.level} "
                f"-s {o.dest}",
                f"pulumi up -s {o.dest}",
            ),
        ]
    lines += ["", "Then run the checks above against " + o.source + "."]
    return "\n".join(lines)


def _failover_unswap(c: Cutover) -> list[str]:
    swapped = _failover_swap(c)
    if not swapped:
        return []
    assert c.router is not None
    r = c.router.name
    return [
        f"pulumi config set --path 'exitplan:traffic.failover.primary' {c.options.source} -s {r}",
        f"pulumi config set --path 'exitplan:traffic.failover.secondary' {c.options.dest} -s {r}",
    ]
