"""The exit-plan drill's pre-flight: what it asks of its target (checked once, before anything
changes) and the checks that must hold on both stacks before it starts."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from components.catalog.clouds import facts
from components.stack_config import Project, Stack
from runbooks.drills.exit_options import ExitPlanOptions
from runbooks.drills.restore import undo_revoke
from runbooks.errors import RunbookError
from runbooks.targets.target import Need, Target, missing, require

# What the drill asks of its target on both stacks, whatever the options.
DRILL_OPERATIONS = ("health", "model_digest", "store_uri")
ROUTER_OPERATIONS = ("stacks", "endpoint", "weights", "set_weights")
REVOKE = "revoke_credentials"  # the vendor exit: revoke --from's key
# Beyond these a drill is a mistake (a rate no load generator here keeps, an hour per step).
LIMITS = {"--rate": 100_000.0, "--hold": 3600.0}
SETTLE_S = 0.5  # after a weight change, before the gate's window opens
MIN_GATED = 5  # requests a gate's window must be due at least


@dataclass(frozen=True)
class Check:
    """One pre-flight check."""

    name: str
    passed: bool
    detail: str
    fix: str = ""


def validate(project: Project, target: Target, options: ExitPlanOptions) -> None:
    """The options against the project and the target, before anything changes and for
    `--dry` alike (bad -> RunbookError, exit 2): two different stacks of the target, finite
    numbers in range, canary steps rising to 100, every operation the drill needs."""
    for name, value in (("--rto", options.rto_s), ("--slo-p99-ms", options.slo_p99_ms)):
        if value is not None and not (math.isfinite(value) and value > 0):
            raise RunbookError(
                f"{name} {value:g}: must be a positive number of seconds "
                "(milliseconds for --slo-p99-ms)",
                fix=f"e.g. {name} 60, or leave it out",
            )
    for name, number in (("--rate", options.rate), ("--hold", options.hold_s)):
        if not math.isfinite(number) or number > LIMITS[name]:
            raise RunbookError(
                f"{name} {number:g}: at most {LIMITS[name]:g}",
                fix=f"e.g. {name} {LIMITS[name] / 10:g}",
            )
    window = options.hold_s - SETTLE_S  # a gate's window: the hold less the settle after a change
    if window * options.rate < MIN_GATED:
        raise RunbookError(
            f"--hold {options.hold_s:g} at --rate {options.rate:g}: a gate's window (the hold "
            f"less the {SETTLE_S:g} s settle) would hold under {MIN_GATED} requests to judge",
            fix=f"raise --hold to at least {SETTLE_S + MIN_GATED / options.rate:.2g} s or --rate",
        )
    if options.source == options.dest:
        raise RunbookError("--from and --to are the same stack", fix="pick two stacks")
    source, dest = (
        project.stack(s, field=f) for s, f in ((options.source, "--from"), (options.dest, "--to"))
    )
    for stack in (source, dest):
        require_on_target(target, stack)
    if list(options.canary) != sorted(options.canary) or options.canary[-1] != 100:
        raise RunbookError(
            f"canary steps {options.canary} must rise to 100", fix="e.g. 1,10,50,100"
        )
    require(target, needs(target, options), f"the exit-plan drill {source.name} -> {dest.name}")


def require_on_target(target: Target, stack: Stack) -> None:
    """Refuse (exit 2) a stack the target does not run, with a fix that can work: a stack
    whose store no sandbox emulator serves is drilled live, not started in the sandbox (review
    I12: the fix said `sandbox up --stacks oci-standby`, which skips it)."""
    if stack.name in target.stacks():
        return
    fix = "route it from the router stack's exitplan:traffic.weights"
    if target.kind == "sandbox":
        from runbooks.targets.sandbox_setup import unemulated

        why = unemulated(stack)
        fix = (
            f"{why}: drill it on its deployed stacks (--target live)"
            if why
            else f"start it in the sandbox (exitplan sandbox down; exitplan sandbox up --stacks "
            f"{stack.name} and the stacks it drills with)"
        )
    raise RunbookError(
        f"{stack.name} is not one of the {target.kind} target's stacks "
        f"({', '.join(target.stacks())})",
        fix=fix,
    )


def preflight(project: Project, target: Target, options: ExitPlanOptions) -> list[Check]:
    """Every check that must hold before anything changes (the options validated first)."""
    validate(project, target, options)
    source, dest = project.stack(options.source), project.stack(options.dest)
    store = target.store_uri(dest.name)
    own_scheme = facts(dest.spec.provider).store_scheme
    digests = {s: target.model_digest(s) for s in (source.name, dest.name)}
    reference = reference_of(target, options)
    return [
        Check(
            "both stacks healthy",
            target.health(source.name) and target.health(dest.name),
            f"{source.name}: {target.health(source.name)}, {dest.name}: {target.health(dest.name)}",
            "exitplan sandbox status; restart the unhealthy stack",
        ),
        Check(
            "--to is in another provider",
            source.spec.provider != dest.spec.provider,
            f"{source.spec.provider} -> {dest.spec.provider}",
            "an exit plan moves to another cloud: pick a stack on another provider",
        ),
        Check(
            "same model digest on both",
            len(set(digests.values())) == 1,
            ", ".join(f"{k}: {v[:19]}" for k, v in digests.items()),
            "publish the same package to both stores (exitplan package --publish)",
        ),
        Check(
            "--to does not depend on --from's provider",
            store.startswith(f"{own_scheme}://"),
            f"{dest.name} reads its model from {store}",
            "give the standby a model store in its own cloud",
        ),
        Check(
            "both stacks drillable",
            source.spec.drillable and dest.spec.drillable,
            f"{source.name}: {source.spec.drillable}, {dest.name}: {dest.spec.drillable}",
            "set drillable: true in both stack files",
        ),
        Check(
            "reference answers to check every answer against",
            reference is not None and reference.is_file(),
            str(reference) if reference else f"the {target.kind} target knows no reference.json",
            "pass --reference: the reference.json that exitplan package wrote beside parity.json",
        ),
    ]


def reference_of(target: Target, options: ExitPlanOptions) -> Path | None:
    """The reference answers every answer is checked against: --reference, else the
    target's (the sandbox's demo package)."""
    return options.reference or target.reference_answers()


def revoke_gap(target: Target, options: ExitPlanOptions) -> str | None:
    """Why the target cannot revoke --from's key (the vendor exit skips it), or None."""
    gaps = missing(target, [Need(REVOKE, options.source)])
    return next(iter(gaps.values()), None)


def needs(target: Target, options: ExitPlanOptions) -> list[Need]:
    """Every operation the drill will ask of the target: the router's, its probes on both
    stacks, and, when the vendor exit can revoke --from's key, what undoing that takes."""
    wanted = [Need(op) for op in ROUTER_OPERATIONS]
    wanted += [Need(op, s) for op in DRILL_OPERATIONS for s in (options.source, options.dest)]
    if revoke_gap(target, options) is None:
        undo = undo_revoke(target, options.source)
        wanted += [Need(op, options.source) for op in (REVOKE, *undo)]
    return wanted
