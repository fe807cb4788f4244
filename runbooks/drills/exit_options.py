"""What an exit-plan drill is asked to do, and the steps that takes: the drill runs them, and
`--dry`, the rendered runbook and a tabletop's dry step list them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ExitPlanOptions:
    """What `exitplan drill exit-plan` was asked to do."""

    source: str
    dest: str
    rate: float = 200.0
    canary: tuple[int, ...] = (1, 10, 50, 100)
    hold_s: float = 5.0
    slo_p99_ms: float | None = None
    max_error_rate: float = 0.0
    baseline_factor: float = 3.0
    rto_s: float | None = None
    keep: bool = False
    max_lag_ms: float = 5.0  # the load generator's lag p99 above which the verdict fails
    reference: Path | None = None  # reference.json (default: the target's)


def step_weights(before: dict[str, int], options: ExitPlanOptions, step: int) -> dict[str, int]:
    """The weights of a canary step: `step` % on --to, the rest on --from, none on any other
    stack (a third weighted stack would keep its share of a "100 %" cutover)."""
    return {**dict.fromkeys(before, 0), options.source: 100 - step, options.dest: step}


def planned_steps(
    options: ExitPlanOptions, before: dict[str, int], skipped_revoke: str | None = None
) -> list[str]:
    """Every step the drill would take, with its exact changes (for --dry); `skipped_revoke`:
    why the vendor exit cannot revoke --from's key on this target."""
    steps = [
        f"pre-flight checks on {options.source} and {options.dest}",
        f"baseline: {options.hold_s:g} s at {options.rate:g} req/s with weights {before}",
    ]
    for step in options.canary:
        weights = step_weights(before, options, step)
        steps.append(f"canary {step}%: set weights {weights}; hold {options.hold_s:g} s; gate")
    if skipped_revoke:
        steps.append(f"vendor exit: NOT revoking {options.source}'s credentials ({skipped_revoke})")
    else:
        steps.append(f"vendor exit: revoke {options.source}'s store credentials")
    steps.append(f"verify: {options.hold_s:g} s on {options.dest} alone")
    if not options.keep:
        undo = (
            ""
            if skipped_revoke
            else f"rotate {options.source}'s credentials (a new key; the revoked one stays "
            "revoked) and redeploy it; then "
        )
        steps.append(f"rollback: {undo}weights back to {before}; steady state")
    return steps
