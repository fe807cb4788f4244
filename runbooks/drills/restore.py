"""Undoing what a drill changed, from its journal: revoked credentials (a new key and a
redeploy with it), the router's weights, a standby's level. The exit-plan and failover drills
roll back with it, and so does `exitplan drill rollback JOURNAL` after a killed run."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from runbooks.errors import RunbookError
from runbooks.reports.journal import Journal
from runbooks.targets.target import Need, ScalableTarget, Target, missing, require

# The vendor exit revokes --from's key; it is undone by a new key and a redeploy with it.
UNDO_REVOKE = ("rotate_credentials", "redeploy")


def undo_revoke(target: Target, stack: str) -> tuple[str, ...]:
    """What undoing the revocation of `stack`'s credentials asks of the target: a rotation (a
    new key; on a live IRSA role, its deny policy removed), then a redeploy with it where the
    target can redeploy the stack (where it cannot, `restore` records the target's reason)."""
    can_redeploy = not missing(target, [Need("redeploy", stack)])
    return UNDO_REVOKE if can_redeploy else UNDO_REVOKE[:1]


def undo_then_finish(
    undo: Callable[[], object], journal: Journal, status: str, summary: str
) -> None:
    """Run a run's rollback (`undo`), then finish its journal with `status` and `summary`; also
    when the rollback raised (a second interrupt is ignored, but a target call may fail): the
    journal then says so and names the command that finishes the rollback, and the error goes
    on. The journal never stays "running" for a run that ended."""
    try:
        undo()
    except BaseException as exc:
        journal.finish(
            status,
            False,
            f"{summary.removesuffix('; rolled back')}; the rollback failed ({type(exc).__name__}: "
            f"{exc}): finish it with exitplan drill rollback {journal.path}",
        )
        raise
    journal.finish(status, False, summary)


def restore(target: Target, journal: Journal) -> list[str]:
    """Undo every change the journal records that is not restored yet (safe to run twice).
    Revoked credentials first, while traffic still avoids that stack: a rotation (never the
    revoked key back) and a redeploy with it where the target can (else its reason is kept on
    the change); then the weights, back to the first recorded 'before', even when restoring
    credentials failed (that error is raised after)."""
    done = []
    changes = journal.exitplan["changes"]
    moved = any(c["what"] == "weights" and not c["restored"] for c in changes)
    revoked = [c for c in changes if c["what"] == "credentials" and c["restored"] is False]
    undo = [Need("set_weights")] if moved else []
    undo += [Need(op, c["stack"]) for c in revoked for op in undo_revoke(target, c["stack"])]
    require(target, undo, f"rolling back {journal.path}")
    failed: Exception | None = None
    for change in revoked:
        stack: str = change["stack"]
        try:
            journal.activity(
                f"rotate {stack} credentials",
                "action",
                partial(target.rotate_credentials, stack),
                rollback=True,
            )
            if "redeploy" in undo_revoke(target, stack):
                journal.activity(
                    f"redeploy {stack}", "action", partial(target.redeploy, stack), rollback=True
                )
            else:
                change["not_redeployed"] = missing(target, [Need("redeploy", stack)]).popitem()[1]
        except Exception as exc:  # the weights are restored all the same, then this is raised
            failed = failed or exc
            continue
        change["restored"] = True
        done.append(f"credentials of {stack}")
    weights = [c for c in changes if c["what"] == "weights" and not c["restored"]]
    if weights:
        original = weights[0]["before"]
        journal.activity(
            f"restore weights {original}",
            "action",
            lambda: target.set_weights(original),
            rollback=True,
        )
        for change in weights:
            change["restored"] = True
        done.append(f"weights {original}")
    for change in [c for c in changes if c["what"] == "held out" and not c["restored"]]:
        put_back(target, journal, change)
        done.append(f"{change['stack']} back in traffic")
    for change in [c for c in changes if c["what"] == "level" and not c["restored"]]:
        return_to_level(
            target,
            journal,
            change,
            f"return {change['stack']} to its level",
            f"the {target.kind} target has no standby levels to restore",
        )
        done.append(f"{change['stack']} back to its level")
    journal.save()
    if failed is not None:
        raise failed
    return done


def return_to_level(
    target: Target, journal: Journal, change: dict[str, Any], action: str, refusal: str
) -> None:
    """Set `change`'s stack back to the replicas its level keeps running, journaled as the
    rollback activity `action`, and mark the change restored; RunbookError(`refusal`) on a
    target without standby levels."""
    if not isinstance(target, ScalableTarget):
        raise RunbookError(refusal)
    journal.activity(action, "action", partial(target.set_level, change["stack"]), rollback=True)
    change["restored"] = True


def put_back(target: Target, journal: Journal, change: dict[str, Any]) -> None:
    """Put `change`'s stack, held out of traffic by a failover drill, back into it (journaled
    as a rollback activity) and mark the change restored."""
    if not isinstance(target, ScalableTarget):
        raise RunbookError(f"the {target.kind} target cannot hold a stack out of traffic")
    stack = change["stack"]
    journal.activity(
        f"put {stack} back in traffic",
        "action",
        partial(target.hold_out, stack, False),
        rollback=True,
    )
    change["restored"] = True
