"""`exitplan chaos run`: a Chaos Toolkit experiment through chaostoolkit-lib, against the
project's target, with the open-loop load generator running; the Chaos Toolkit journal gets
exitplan's measurements (requests sent/failed per activity, revoke -> recovered vs the RTO)."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from chaoslib import substitute
from chaoslib.exceptions import ChaosException
from chaoslib.experiment import ensure_experiment_is_valid, run_experiment
from chaoslib.loader import load_experiment

from runbooks.background_load import BackgroundLoad, window_summary
from runbooks.chaos_report import write_report
from runbooks.errors import RunbookError
from runbooks.load import RequestRecord, metadata_inputs, summarize
from runbooks.rotation_watch import RotationChange, RotationWatch, first_change
from runbooks.target import project_stacks, served_model, target_for

SETTINGS: dict[str, Any] = {"runtime": {"rollbacks": {"strategy": "always"}}}
# Activities that take a stack out of service, and those that bring it back.
FAULTS = ("kill", "hang")
RECOVERIES = ("restart", "resume")
ERROR_FREE_S = 1.0  # detection ends with the first window this long with no failed request
STEP_S = 0.1
LOAD_RATE = 10.0
LOAD_MAX_S = 900.0
FRONT_DOOR_WAIT_S = 15.0
# How often the router's view of the stacks is polled: HAProxy's admin socket is local and
# cheap; Route 53's health-check status is an API call (and changes every 10 s at best).
ROTATION_POLL_S = {"sandbox": 0.05, "live": 5.0}


@dataclass(frozen=True)
class ChaosOptions:
    """What to run, where, and where the journal goes."""

    experiment: Path
    root: Path
    target: str = "sandbox"
    out: Path | None = None
    load_rate: float = LOAD_RATE


def load(options: ChaosOptions) -> tuple[dict[str, Any], dict[str, Any]]:
    """The validated experiment and its configuration, pointed at the project (bad -> exit 2)."""
    if not options.experiment.is_file():
        raise RunbookError(f"{options.experiment}: no such experiment file", fix="check the path")
    try:
        experiment: dict[str, Any] = load_experiment(str(options.experiment))
        ensure_experiment_is_valid(experiment)
    except ChaosException as exc:
        raise RunbookError(f"{options.experiment}: {exc}", fix="see chaostoolkit.org") from exc
    overrides = {"exitplan_project": str(options.root), "exitplan_target": options.target}
    configuration = {**(experiment.get("configuration") or {}), **overrides}
    experiment["configuration"] = dict(configuration)
    check_stacks(options, experiment, configuration)
    return experiment, configuration


def check_stacks(
    options: ChaosOptions, experiment: dict[str, Any], configuration: dict[str, Any]
) -> None:
    """Every `stack` argument (after substitution) names a stack of the project (bad -> 2)."""
    known = project_stacks(options.root)
    unknown = [
        f"{step['phase']} activity {step['name']!r}: stack {step['arguments']['stack']!r}"
        for step in planned_activities(experiment, configuration)
        if "stack" in step["arguments"] and step["arguments"]["stack"] not in known
    ]
    if unknown:
        raise RunbookError(
            f"{options.experiment}: no such stack in {'; '.join(unknown)}",
            fix=f"use one of {', '.join(known)} (or set the configuration key it names)",
        )


def planned_activities(
    experiment: dict[str, Any], configuration: dict[str, Any]
) -> list[dict[str, Any]]:
    """Every activity in order (phase, name, function, resolved arguments): `--dry`."""
    phases = [
        ("steady-state", (experiment.get("steady-state-hypothesis") or {}).get("probes", [])),
        ("method", experiment.get("method", [])),
        ("steady-state", (experiment.get("steady-state-hypothesis") or {}).get("probes", [])),
        ("rollbacks", experiment.get("rollbacks", [])),
    ]
    rows = []
    for phase, items in phases:
        for item in items:
            provider = item.get("provider") or {}
            rows.append(
                {
                    "phase": phase,
                    "type": item.get("type"),
                    "name": item.get("name"),
                    "call": f"{provider.get('module')}.{provider.get('func')}",
                    "arguments": substitute(provider.get("arguments") or {}, configuration, {}),
                }
            )
    return rows


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
        "last_answer_from_faulted_s": round(max(answered) - start, 3) if answered else 0.0,
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


def _error_line(run: dict[str, Any]) -> str:
    """The last line of a failed activity's exception (Chaos Toolkit keeps the traceback)."""
    lines = [str(line).strip() for line in run.get("exception") or [] if str(line).strip()]
    return lines[-1] if lines else "failed"


def failed_activities(journal: dict[str, Any]) -> list[str]:
    """`phase name: error` for every method or rollback activity that raised."""
    rows = (journal.get("exitplan") or {}).get("activities") or []
    return [f"{r['phase']} {r['name']}: {r['error']}" for r in rows if r.get("status") == "failed"]


def _recovery(runs: list[dict[str, Any]], configuration: dict[str, Any]) -> dict[str, Any]:
    """Revoke -> recovered (the last successful redeploy) against `exitplan_rto_s`."""
    funcs = [(r["activity"]["provider"].get("func"), r) for r in runs]
    revoked = next((r for f, r in funcs if f == "revoke_credentials"), None)
    redeployed = [r for f, r in funcs if f == "redeploy" and r.get("status") == "succeeded"]
    if not (revoked and redeployed):
        return {}
    rto = float(configuration.get("exitplan_rto_s", 0) or 0)
    measured = _epoch(redeployed[-1]["end"]) - _epoch(revoked["start"])
    return {
        "rto_target_s": rto or None,
        "revoke_to_recovered_s": round(measured, 3),
        "rto_met": measured <= rto if rto else None,
        "revoked_at": revoked["start"],
        "recovered_at": redeployed[-1]["end"],
    }


def _fault(
    runs: list[dict[str, Any]],
    configuration: dict[str, Any],
    records: list[RequestRecord],
    load_epoch: float,
    rotation: list[RotationChange],
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
    down = first_change(rotation, stack, False, began)
    if down is None:
        probe = next(
            (r for r in after
             if r["activity"]["provider"].get("func") == "seconds_until_marked_down"
             and r.get("status") == "succeeded"),
            None,
        )  # fmt: skip
        down = _epoch(probe["end"]) if probe else None
    back = first_change(rotation, stack, True, down) if down is not None else None
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
    rotation: list[RotationChange] | None = None,
) -> dict[str, Any]:
    """exitplan's measurements from the journal's activity timestamps and the load records
    (read once: the load has stopped, so they are final), with the load's timeline."""
    runs = journal.get("run") or []
    records = load_.records() if load_ is not None else []
    result: dict[str, Any] = {
        "activities": _activity_rows(journal, records, load_, load_epoch),
        **_recovery(runs, configuration),
    }
    detection = next(
        (r for r in runs if r["activity"]["provider"].get("func") == "seconds_until_error_free"),
        None,
    )
    if detection is not None:
        result["detection_s"] = detection.get("output")
    if load_ is None:
        return result
    fault = _fault(runs, configuration, records, load_epoch, rotation or [])
    if fault is not None:
        result["fault"] = fault
    if runs:
        first = _epoch(runs[0]["start"]) - load_epoch
        whole = window_summary(records, first, load_.now(), load_.rate)
        result["load"] = {
            "rate": load_.rate,
            "sent": whole.sent,
            "failed": whole.failed,
            "errors": whole.errors,
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


def production_estimate(root: Path, stack: str) -> dict[str, Any] | None:
    """What the same outage would take behind the stacks' real DNS router: its health checks
    mark `stack` down after interval x failure threshold, and clients keep the old answer for
    up to the record's TTL (longer where resolvers or clients cache beyond it). None when no
    router routes to `stack`."""
    from components.providers import cloud
    from components.stack_config import Project

    project = Project(root)
    routers = (project.stack(name).traffic for name in project.stack_names())
    traffic = next((t for t in routers if t is not None and stack in t.stacks), None)
    if traffic is None:
        return None
    check = traffic.health_check
    gap = cloud(traffic.dns_provider).UNSUPPORTED.get("dns-health-checks")
    detection = None if gap else check.detection_s
    return {
        "router": traffic.dns_provider,
        "zone": traffic.zone,
        "health_check_interval_s": check.interval_s,
        "failure_threshold": check.failure_threshold,
        "ttl_s": traffic.ttl_s,
        "detection_s": detection,
        "clients_moved_s": None if detection is None else detection + traffic.ttl_s,
        "gap": gap,
    }


def wait_for_front_door(endpoint: str, model: str, timeout_s: float = FRONT_DOOR_WAIT_S) -> None:
    """Wait until the front door serves `model` (a stack just restarted takes a few health
    checks to be marked up); a clear error when it never does."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            metadata_inputs(endpoint, model)
            return
        except OSError as exc:
            if time.monotonic() > deadline:
                raise RunbookError(
                    f"the front door {endpoint} does not serve {model!r}: {exc}",
                    fix="check the sandbox with exitplan sandbox status",
                ) from exc
            time.sleep(0.2)


def run(options: ChaosOptions) -> tuple[dict[str, Any], Path]:
    """Run the experiment with load running; write journal.json; return (journal, path)."""
    experiment, configuration = load(options)
    name = options.experiment.stem
    out = options.out or (
        options.root / ".exitplan" / "chaos" / f"{time.strftime('%Y%m%dT%H%M%S')}-{name}"
    )
    out.mkdir(parents=True, exist_ok=True)
    target = target_for(options.root, options.target, configuration.get("exitplan_router"))
    model = served_model(options.root, target.stacks()[0])
    wait_for_front_door(target.endpoint(), model)
    generator = BackgroundLoad(target, model, options.load_rate, LOAD_MAX_S, out / "load")
    generator.start()
    load_epoch = time.time() - generator.now()
    # the stop condition reads the running load instead of sending bursts of its own
    configuration["exitplan_load_records"] = str(generator.records_file)
    experiment["configuration"]["exitplan_load_records"] = str(generator.records_file)
    watch = RotationWatch(target, ROTATION_POLL_S.get(options.target, 5.0))
    watch.start()
    try:
        journal: dict[str, Any] = run_experiment(
            experiment, settings=SETTINGS, experiment_vars=(dict(configuration), {})
        )
    finally:
        generator.stop()
        rotation = watch.stop()
    journal["exitplan"] = {
        "target": options.target,
        **measurements(journal, configuration, generator, load_epoch, rotation),
    }
    stack = faulted_stack(journal, configuration)
    if stack is not None:
        journal["exitplan"]["production_estimate"] = production_estimate(options.root, stack)
    path = out / "journal.json"
    path.write_text(json.dumps(journal, indent=2, default=str))
    write_report(journal, out)
    return journal, path
