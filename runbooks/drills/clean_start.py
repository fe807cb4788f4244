"""A clean start or a refusal. A target has a configured state: the router's weights as the
stack files set them (`exitplan:traffic.weights`), every stack running what its standby level
runs at rest (a primary: all its replicas) and in traffic (none held out), every store key
active. A drill, a failover or a
chaos run starts only from it: its pre-flight refuses (exit 1), naming what differs and
`exitplan target reset`, which puts the target back (idempotent, journaled, holding the lock).
So a run's rollback, which restores what it recorded at its start, restores the configured
state, and never takes another run's leftovers for the baseline."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from pathlib import Path

from components.stack_config import Project
from runbooks.drills.restore import undo_revoke
from runbooks.errors import DrillCheckFailed
from runbooks.reports.journal import Journal
from runbooks.targets.target import Need, ScalableTarget, Target, missing

RESET = "exitplan target reset"


@dataclass(frozen=True)
class Difference:
    """One way the target is not as configured: `what` (weights, level, credentials), the
    stack it concerns (None for the weights), and a line for a person."""

    what: str
    stack: str | None
    detail: str


def configured_weights(project: Project, stacks: list[str]) -> dict[str, int]:
    """The router's weights for `stacks`, as the stack files set them: the first of them that
    routes traffic (its `exitplan:traffic.weights`); a stack it does not route gets 0, and when
    none of them has weight, the first gets 100 (as `sandbox up` starts them)."""
    routers = (project.stack(name).traffic for name in stacks)
    router = next((t for t in routers if t is not None), None)
    weights = {s: int((router.weights if router else {}).get(s, 0)) for s in stacks}
    if stacks and not any(weights.values()):
        weights[stacks[0]] = 100
    return weights


def differences(project: Project, target: Target) -> list[Difference]:
    """Every way the target differs from its configured state (empty: a clean start)."""
    stacks = target.stacks()
    found = []
    weights, configured = target.weights(), configured_weights(project, stacks)
    if weights != configured:
        found.append(Difference("weights", None, f"weights {weights}, configured {configured}"))
    if isinstance(target, ScalableTarget):
        for stack in stacks:
            if target.held_out(stack):
                found.append(
                    Difference("held out", stack, f"{stack} is held out of traffic (maintenance)")
                )
            level = target.level(stack)
            if level["running"] != level["at_rest"]:
                found.append(
                    Difference(
                        "level",
                        stack,
                        f"{stack} runs {level['running']} Triton(s); its level "
                        f"{level['level']} runs {level['at_rest']} at rest",
                    )
                )
    for stack in stacks:
        if not missing(target, [Need("credential_state", stack)]):
            status = target.credential_state(stack).get("status")
            if status == "revoked":
                found.append(Difference("credentials", stack, f"{stack}'s store key is revoked"))
    return found


# Where runs write their journals, and the command that rolls one back from its journal.
JOURNAL_FOLDERS = {"drills": "exitplan drill rollback", "chaos": "exitplan chaos rollback"}


def unfinished(root: Path, kind: str) -> list[tuple[Path, str]]:
    """(journal, the rollback that finishes it) of each run on target `kind` whose journal
    still says "running" while no run holds the target's lock: a run killed before it could
    finish (review U6: `sandbox status` gave no hint of one)."""
    import json

    from runbooks.drills.lock import Holder, lock_path

    lock = lock_path(root, kind)
    try:
        holder = Holder.parse(lock.read_text())
    except OSError:
        holder = None
    if holder is not None and holder.running():
        return []  # a live run: its journal says running because it is
    found = []
    for folder, command in JOURNAL_FOLDERS.items():
        for path in sorted((root / ".exitplan" / folder).glob("*/journal.json")):
            try:
                data = json.loads(path.read_text())
            except (OSError, ValueError):
                continue
            ex = data.get("exitplan") if isinstance(data, dict) else None
            target = (ex or {}).get("target") or ((ex or {}).get("before") or {}).get("target")
            if data.get("status") == "running" and target in (kind, None):
                found.append((path, command))
    return found


def require_clean_start(project: Project, target: Target, run: str) -> None:
    """Refuse `run` (DrillCheckFailed, exit 1) unless the target is in its configured state,
    naming every difference and the reset."""
    found = differences(project, target)
    if found:
        raise DrillCheckFailed(
            f"{run} refused: the {target.kind} target is not in its configured state: "
            + "; ".join(d.detail for d in found)
            + " (a run interrupted or killed earlier left it so?)",
            fix=f"{RESET} --target {target.kind} (or exitplan drill rollback / chaos rollback "
            "the run that left it)",
        )


def reset(project: Project, target: Target, journal_path: Path) -> list[str]:
    """Put the target back in its configured state, journaled at `journal_path` (each change
    recorded before it is made): a new key for each revoked one (and a redeploy with it where
    the target can), each stack back to its level, the configured weights. What it did, one
    line each; empty (and no journal written) when the target was already as configured."""
    found = differences(project, target)
    if not found:
        return []
    journal = Journal.new(journal_path, "target reset", {"target": target.kind, "reset": True})
    done = []
    for diff in found:
        stack = diff.stack or ""
        journal.change(diff.what, f"reset: {diff.detail}", stack=diff.stack)
        if diff.what == "credentials":
            for op in undo_revoke(target, stack):
                journal.activity(f"{op} {stack}", "action", partial(getattr(target, op), stack))
        elif diff.what == "held out" and isinstance(target, ScalableTarget):
            journal.activity(
                f"put {stack} back in traffic", "action", partial(target.hold_out, stack, False)
            )
        elif diff.what == "level" and isinstance(target, ScalableTarget):
            journal.activity(
                f"return {stack} to its level", "action", partial(target.set_level, stack)
            )
        journal.exitplan["changes"][-1]["restored"] = True
        done.append(diff.detail)
    weights = configured_weights(project, target.stacks())
    if target.weights() != weights:
        journal.activity(f"set weights {weights}", "action", partial(target.set_weights, weights))
    left = differences(project, target)
    journal.finish(
        "completed" if not left else "failed",
        not left,
        "reset to the configured state"
        if not left
        else "still differs: " + "; ".join(d.detail for d in left),
    )
    if left:
        raise DrillCheckFailed(
            f"target reset left the {target.kind} target different from its configured state: "
            + "; ".join(d.detail for d in left),
            fix="exitplan sandbox status; exitplan sandbox down && exitplan sandbox up",
        )
    return done
