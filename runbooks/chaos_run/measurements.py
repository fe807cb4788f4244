"""exitplan's measurements of a chaos run, from the Chaos Toolkit journal's activity times and
the background load's records: requests sent and failed per activity, a fault's impact (when
the router marked the stack down and took it back, the first error-free second, the p99 while
faulted) and revoke -> recovered against the RTO."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from chaoslib import substitute

from runbooks.chaos_run.rotation_watch import RotationLog, first_change
from runbooks.load.background import BackgroundLoad, window_summary
from runbooks.load.generator import LOST, WRONG_ANSWER, RequestRecord, summarize

# Activities that take a stack out of service, and those that bring it back.
FAULTS = ("kill", "hang")

RECOVERIES = ("restart", "resume")

ERROR_FREE_S = 1.0  # detection ends with the first window this long with no failed request

STEP_S = 0.1


def _epoch(iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp()


def fault_impact(
    records: list[RequestRecord], stack: str, start: float, end: float
) -> dict[str, Any]:
    """What clients saw from a fault on `stack` at `start` until it was undone at `end` (seconds
    on the load's clock): the last request the faulted stack still answered, the first second
    with no failed request (looked for until the load's last request: a short fault's second
    may end after it was undone), the failures and the p99 of the successes."""
    during = sorted(
        (r for r in records if start <= r.scheduled_s < end), key=lambda r: r.scheduled_s
    )
    answered = [r.scheduled_s for r in during if r.served_by == stack and r.status == 200]
    failed = [r.scheduled_s for r in records if r.status != 200 and r.scheduled_s >= start]
    horizon = max((r.scheduled_s for r in records), default=end)
    error_free = None
    offset = 0.0
    while start + offset + ERROR_FREE_S <= horizon:
        window_start = start + offset
        window_end = window_start + ERROR_FREE_S
        if not any(window_start <= t < window_end for t in failed):
            error_free = round(offset, 3)
            break
        offset += STEP_S
    summary = summarize(during, rate=1.0, duration_s=max(end - start, 1e-3))
    return {
        "stack": stack,
        "window_s": round(end - start, 3),
        "sent": len(during),
        "failed": sum(1 for r in during if r.status != 200),
        "last_answer_from_faulted_s": round(max(answered) - start, 3) if answered else None,
        "first_error_free_second_s": error_free,
        "p99_ms": summary.p99_ms,
    }


def _activity_rows(
    journal: dict[str, Any],
    records: list[RequestRecord],
    load_: BackgroundLoad | None,
    load_epoch: float,
) -> list[dict[str, Any]]:
    """One row per method and rollback activity: status, times (ISO, and seconds on the load's
    clock), output and the requests scheduled while it ran."""
    rows = []
    for phase, runs in (("method", journal.get("run")), ("rollback", journal.get("rollbacks"))):
        for run in runs or []:
            start, end = _epoch(run["start"]), _epoch(run["end"])
            row: dict[str, Any] = {
                "phase": phase,
                "name": run["activity"].get("name"),
                "func": (run["activity"].get("provider") or {}).get("func"),
                "status": run.get("status"),
                "start": run["start"],
                "duration_s": round(end - start, 3),
                "output": run.get("output"),
            }
            if run.get("status") == "failed":
                row["error"] = _error_line(run)
            if load_ is not None:
                row["start_s"] = round(start - load_epoch, 3)
                row["end_s"] = round(end - load_epoch, 3)
                window = window_summary(records, row["start_s"], row["end_s"], load_.rate)
                row["requests"] = {"sent": window.sent, "failed": window.failed}
            rows.append(row)
    return rows


def partition(
    journal: dict[str, Any], records: list[RequestRecord], rate: float, load_epoch: float
) -> list[dict[str, Any]]:
    """Every scheduled request in exactly one window: the time before the first step, each
    step that is not in the background (hypothesis probes, method, rollbacks, in order), the
    gap after each, the time after the last; rows with no request are left out. Their `sent`
    add up to the load's scheduled count."""
    steps = [
        *((journal.get("steady_states") or {}).get("before") or {}).get("probes", []),
        *(journal.get("run") or []),
        *((journal.get("steady_states") or {}).get("after") or {}).get("probes", []),
        *(journal.get("rollbacks") or []),
    ]
    bounds: list[tuple[str, float, float]] = []
    cursor = -math.inf
    for run in sorted(steps, key=lambda r: r["start"]):
        if run["activity"].get("background") or not run.get("end"):
            continue
        start = max(_epoch(run["start"]) - load_epoch, cursor)
        end = max(_epoch(run["end"]) - load_epoch, start)
        bounds += [("between steps", cursor, start), (str(run["activity"].get("name")), start, end)]
        cursor = end
    bounds.append(("after the last step", cursor, math.inf))
    rows = []
    for name, start, end in bounds:
        chosen = [r for r in records if start <= r.scheduled_s < end]
        if chosen:
            rows.append(
                {
                    "name": name,
                    "start_s": None if start == -math.inf else round(start, 3),
                    "end_s": None if end == math.inf else round(end, 3),
                    "sent": len(chosen),
                    "failed": sum(1 for r in chosen if r.error),
                    "wrong_answers": sum(1 for r in chosen if r.error == WRONG_ANSWER),
                    "lost": sum(1 for r in chosen if r.error == LOST),
                }
            )
    return rows


def _error_line(run: dict[str, Any]) -> str:
    """The last line of a failed activity's exception (Chaos Toolkit keeps the traceback)."""
    lines = [str(line).strip() for line in run.get("exception") or [] if str(line).strip()]
    return lines[-1] if lines else "failed"


def failed_activities(journal: dict[str, Any]) -> list[str]:
    """`phase name: error` for every method or rollback activity that raised."""
    rows = (journal.get("exitplan") or {}).get("activities") or []
    return [f"{r['phase']} {r['name']}: {r['error']}" for r in rows if r.get("status") == "failed"]


def _recovery(runs: list[dict[str, Any]], configuration: dict[str, Any]) -> dict[str, Any]:
    """Revoke -> recovered against `exitplan_rto_s`: the experiment's `seconds_since_revoked`
    claim when it has one (its output, and whether its tolerance was met: the figure the run
    is judged on), else from the revocation's start to the last successful redeploy's end."""
    funcs = [(r["activity"]["provider"].get("func"), r) for r in runs]
    revoked = next((r for f, r in funcs if f == "revoke_credentials"), None)
    redeployed = [r for f, r in funcs if f == "redeploy" and r.get("status") == "succeeded"]
    claim = next((r for f, r in funcs if f == "seconds_since_revoked"), None)
    if not revoked or not (redeployed or claim):
        return {}
    rto = float(configuration.get("exitplan_rto_s", 0) or 0)
    if claim is not None:
        succeeded = claim.get("status") == "succeeded"
        measured = float(claim["output"]) if succeeded else None
        met = bool(claim.get("tolerance_met")) if rto else None
        recovered = claim["end"] if succeeded else None
    else:
        measured = _epoch(redeployed[-1]["end"]) - _epoch(revoked["start"])
        met = measured <= rto if rto else None
        recovered = redeployed[-1]["end"]
    return {
        "rto_target_s": rto or None,
        "revoke_to_recovered_s": None if measured is None else round(measured, 3),
        "rto_met": met,
        "revoked_at": revoked["start"],
        "recovered_at": recovered,
    }


def _fault(
    runs: list[dict[str, Any]],
    configuration: dict[str, Any],
    records: list[RequestRecord],
    load_epoch: float,
    rotation: RotationLog,
) -> dict[str, Any] | None:
    """The first outage fault's impact (see `fault_impact`), with when the front door marked
    the stack down and took it back (from the rotation watch; without one, from the end of a
    `seconds_until_marked_down` probe)."""
    funcs = [r["activity"]["provider"].get("func") for r in runs]
    index = next((i for i, f in enumerate(funcs) if f in FAULTS), None)
    if index is None:
        return None
    fault, after = runs[index], runs[index:]
    undone = next((r for r in after if r["activity"]["provider"].get("func") in RECOVERIES), None)
    began = _epoch(fault["start"])
    start = began - load_epoch
    end = _epoch((undone or runs[-1])["start" if undone else "end"]) - load_epoch
    stack = str(_arguments(fault, configuration).get("stack"))
    impact = fault_impact(records, stack, start, end)
    impact.update(func=funcs[index], start_s=round(start, 3), end_s=round(end, 3))
    down = first_change(rotation.changes, stack, False, began)
    if down is not None:  # how finely the watch saw it: reads that failed widen the gap
        impact["marked_down_within_s"] = round(rotation.widest_gap(stack, began, down), 3)
        impact["rotation_reads_failed"] = rotation.failed.get(stack, 0)
    else:
        probe = next(
            (r for r in after
             if r["activity"]["provider"].get("func") == "seconds_until_marked_down"
             and r.get("status") == "succeeded"),
            None,
        )  # fmt: skip
        down = _epoch(probe["end"]) if probe else None
    back = first_change(rotation.changes, stack, True, down) if down is not None else None
    impact["marked_down_s"] = None if down is None else round(down - began, 3)
    impact["back_in_rotation_s"] = None if back is None else round(back - began, 3)
    return impact


def _arguments(run: dict[str, Any], configuration: dict[str, Any]) -> dict[str, Any]:
    provider = run["activity"].get("provider") or {}
    return dict(substitute(provider.get("arguments") or {}, configuration, {}))


def measurements(
    journal: dict[str, Any],
    configuration: dict[str, Any],
    load_: BackgroundLoad | None,
    load_epoch: float,
    rotation: RotationLog | None = None,
) -> dict[str, Any]:
    """exitplan's measurements from the journal's activity timestamps and the load records
    (read once: the load has stopped, so they are final), with the load's timeline."""
    runs = journal.get("run") or []
    # every scheduled request: its record, or a `lost` one (the load has stopped)
    records = load_.accounted() if load_ is not None else []
    result: dict[str, Any] = {
        "activities": _activity_rows(journal, records, load_, load_epoch),
        **_recovery(runs, configuration),
    }
    detection = next(
        (r for r in runs if r["activity"]["provider"].get("func") == "seconds_until_error_free"),
        None,
    )
    if detection is not None:
        result["error_free_burst_s"] = detection.get("output")
    if load_ is None:
        return result
    fault = _fault(runs, configuration, records, load_epoch, rotation or RotationLog())
    if fault is not None:
        result["fault"] = fault
    windows = partition(journal, records, load_.rate, load_epoch)
    result["windows"] = windows
    if runs:
        first = _epoch(runs[0]["start"]) - load_epoch
        whole = window_summary(records, first, load_.now(), load_.rate)
        result["load"] = {
            "rate": load_.rate,
            "sent": whole.sent,
            "failed": whole.failed,
            "errors": whole.errors,
            "scheduled": load_.stop(),
            "accounted": sum(w["sent"] for w in windows),
            "lost": sum(1 for r in records if r.error == LOST),
            "wrong_answers": sum(1 for r in records if r.error == WRONG_ANSWER),
        }
    result["timeline"] = summarize(
        records, rate=load_.rate, duration_s=max(load_.now(), 1e-3)
    ).timeline
    result["load_epoch"] = load_epoch
    return result


def faulted_stack(journal: dict[str, Any], configuration: dict[str, Any]) -> str | None:
    """The stack the experiment's first outage fault (kill, hang) acted on."""
    for item in journal.get("run") or []:
        if (item["activity"].get("provider") or {}).get("func") in FAULTS:
            return str(_arguments(item, configuration).get("stack"))
    return None
