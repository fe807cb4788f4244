"""`exitplan chaos rollback JOURNAL`: put the target back as a chaos run found it, from the
journal its control wrote after every step (a run killed at any point, SIGKILL included).

What is restored, in this order (a stack must serve before its credentials are redeployed and
before traffic returns to it), each only where it differs from what was recorded before the
run, so running it twice is safe (the second run finds nothing to do):
1. health: a stack recorded ready that is not: resumed when the run froze it, restarted when
   it does not answer then; both wait until the router has it back in rotation;
2. credentials: a stack whose key was active and is now revoked gets a new key (rotate, then
   redeploy); a revoked key is never reinstated;
3. weights: the router's weights recorded before the run.
Every step is tried even when one fails; each is appended to the journal's
`exitplan.recovery` (atomically). A step that failed, or a state still unlike the recorded one
afterwards, makes the command exit 1."""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chaoslib import substitute

from chaos.recording import snapshot
from chaos.traffic.probes import wait_for_rotation
from runbooks.drills.lock import TargetLock
from runbooks.errors import RunbookError
from runbooks.reports.journal import write_atomic
from runbooks.targets.target import Target, target_for

REJOIN_S = 30.0  # how long a restored stack may take to be back in rotation

# The activities that froze a stack (a stack not ready after them is resumed first).
FREEZES = ("hang",)


@dataclass(frozen=True)
class Step:
    """One restoring step: what, on which stack, and how to do it."""

    what: str
    stack: str | None
    detail: str
    apply: Callable[[], None]


def read_journal(path: Path) -> dict[str, Any]:
    """A chaos journal written by exitplan's control (bad input -> exit 2)."""
    try:
        journal = json.loads(path.read_text())
    except FileNotFoundError:
        raise RunbookError(
            f"no journal at {path}", fix="pass the journal.json a chaos run wrote"
        ) from None
    except (OSError, ValueError) as exc:
        raise RunbookError(f"{path} is not a readable journal: {exc}") from None
    if not isinstance(journal, dict) or "experiment" not in journal:
        raise RunbookError(
            f"{path} is not the journal of a chaos run (no experiment in it)",
            fix="pass the journal.json that exitplan chaos run (or chaos run with the "
            "chaos.control control) wrote",
        )
    return dict(journal)


def recorded_state(journal: dict[str, Any]) -> dict[str, Any] | None:
    """The target state the control recorded before the run changed anything; None when the
    run stopped (or was refused) before that, so nothing was changed."""
    before = (journal.get("exitplan") or {}).get("before")
    return before if isinstance(before, dict) else None


def _frozen(journal: dict[str, Any]) -> set[str]:
    """The stacks the run froze (whether or not it thawed them)."""
    configuration = (journal.get("experiment") or {}).get("configuration") or {}
    stacks = set()
    for run in journal.get("run") or []:
        provider = run["activity"].get("provider") or {}
        if provider.get("func") in FREEZES:
            arguments = substitute(provider.get("arguments") or {}, configuration, {})
            stacks.add(str(arguments.get("stack")))
    return stacks


def _bring_back(target: Target, stack: str, frozen: bool) -> None:
    """Make a stack that should serve serve again: resume it when it was frozen, restart it
    when it still does not answer; then wait until the router has it in rotation."""
    if frozen:
        with contextlib.suppress(Exception):  # not running (killed after the freeze): restart
            target.resume(stack)
    if not target.health(stack):
        target.restart(stack)
    wait_for_rotation(target, stack, True, REJOIN_S)


def _renew(target: Target, stack: str) -> None:
    target.rotate_credentials(stack)
    target.redeploy(stack)


def plan(target: Target, journal: dict[str, Any]) -> list[Step]:
    """The steps that bring the target back to the state recorded before the run (none when
    it is already there)."""
    before = journal["exitplan"]["before"]
    now = snapshot(target)
    frozen = _frozen(journal)
    steps = [
        Step(
            "health",
            stack,
            "resume, or restart" if stack in frozen else "restart",
            functools.partial(_bring_back, target, stack, stack in frozen),
        )
        for stack, ready in before["health"].items()
        if ready and not now["health"].get(stack, False)
    ]
    steps += [
        Step("credentials", stack, "rotate, redeploy", functools.partial(_renew, target, stack))
        for stack, state in before["credentials"].items()
        if state.get("status") == "active"
        and (now["credentials"].get(stack) or {}).get("status") == "revoked"
    ]
    weights = {stack: int(weight) for stack, weight in before["weights"].items()}
    if {k: now["weights"].get(k) for k in weights} != weights:
        steps.append(
            Step("weights", None, json.dumps(weights), lambda: target.set_weights(weights))
        )
    return steps


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")


def rollback(path: Path, root: Path | None = None) -> dict[str, Any]:
    """Restore the target the journal at `path` recorded, holding the target's lock; append
    what was done to the journal. Returns the summary (`--json`)."""
    journal = read_journal(path)
    before = recorded_state(journal)
    if before is None:  # stopped before the control recorded the state: nothing changed
        configuration = journal["experiment"].get("configuration") or {}
        return {
            "journal": str(path),
            "target": str(configuration.get("exitplan_target") or "sandbox"),
            "steps": [],
            "restored": True,
            "remaining": [],
            "before": None,
            "after": None,
            "note": "the run stopped before it recorded the target's state, so before it "
            "changed anything",
        }
    project_root = Path(root or before["project"])
    kind = str(before["target"])
    with TargetLock(kind, project_root, f"chaos rollback {path}"):
        target = target_for(kind, project_root, router=before.get("router"))
        done = []
        for step in plan(target, journal):
            row: dict[str, Any] = {"what": step.what, "stack": step.stack, "detail": step.detail}
            row["start"] = _now()
            try:
                step.apply()
                row["status"] = "succeeded"
            except Exception as exc:  # every step is tried; a failure is reported, exit 1
                row.update(status="failed", error=f"{type(exc).__name__}: {exc}")
            row["end"] = _now()
            done.append(row)
        remaining = [f"{s.what} {s.stack or ''}".strip() for s in plan(target, journal)]
        after = snapshot(target)
    journal["exitplan"].setdefault("recovery", []).append({"at": _now(), "steps": done})
    write_atomic(path, journal)
    return {
        "journal": str(path),
        "target": kind,
        "steps": done,
        "restored": not remaining and all(step["status"] == "succeeded" for step in done),
        "remaining": remaining,
        "before": {k: before[k] for k in ("weights", "health", "credentials")},
        "after": after,
    }
