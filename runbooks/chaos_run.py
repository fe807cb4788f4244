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

from runbooks.background_load import BackgroundLoad
from runbooks.errors import RunbookError
from runbooks.target import served_model, target_for

SETTINGS: dict[str, Any] = {"runtime": {"rollbacks": {"strategy": "always"}}}
LOAD_RATE = 10.0
LOAD_MAX_S = 900.0


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
    return experiment, configuration


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


def measurements(
    journal: dict[str, Any],
    configuration: dict[str, Any],
    load_: BackgroundLoad | None,
    load_epoch: float,
) -> dict[str, Any]:
    """exitplan's measurements from the journal's activity timestamps and the load records."""
    runs = journal.get("run") or []
    activities = []
    for run in runs:
        start, end = _epoch(run["start"]), _epoch(run["end"])
        row: dict[str, Any] = {
            "name": run["activity"].get("name"),
            "status": run.get("status"),
            "start": run["start"],
            "duration_s": round(end - start, 3),
            "output": run.get("output"),
        }
        if load_ is not None:
            window = load_.window(start - load_epoch, end - load_epoch)
            row["requests"] = {"sent": window.sent, "failed": window.failed}
        activities.append(row)
    result: dict[str, Any] = {"activities": activities}
    funcs = [(r["activity"]["provider"].get("func"), r) for r in runs]
    revoked = next((r for f, r in funcs if f == "revoke_credentials"), None)
    redeployed = [r for f, r in funcs if f == "redeploy" and r.get("status") == "succeeded"]
    if revoked and redeployed:
        rto = float(configuration.get("exitplan_rto_s", 0) or 0)
        measured = _epoch(redeployed[-1]["end"]) - _epoch(revoked["start"])
        result["rto_target_s"] = rto or None
        result["revoke_to_recovered_s"] = round(measured, 3)
        result["rto_met"] = measured <= rto if rto else None
    detection = next((r for f, r in funcs if f == "seconds_until_error_free"), None)
    if detection is not None:
        result["detection_s"] = detection.get("output")
    if load_ is not None and runs:
        whole = load_.window(_epoch(runs[0]["start"]) - load_epoch, load_.now())
        result["load"] = {"rate": load_.rate, "sent": whole.sent, "failed": whole.failed}
    return result


def run(options: ChaosOptions) -> tuple[dict[str, Any], Path]:
    """Run the experiment with load running; write journal.json; return (journal, path)."""
    experiment, configuration = load(options)
    name = options.experiment.stem
    out = options.out or (
        options.root / ".exitplan" / "chaos" / f"{time.strftime('%Y%m%dT%H%M%S')}-{name}"
    )
    out.mkdir(parents=True, exist_ok=True)
    target = target_for(options.root, options.target)
    model = served_model(options.root, target.stacks()[0])
    generator = BackgroundLoad(target, model, options.load_rate, LOAD_MAX_S, out / "load")
    generator.start()
    load_epoch = time.time() - generator.now()
    try:
        journal: dict[str, Any] = run_experiment(
            experiment, settings=SETTINGS, experiment_vars=(dict(configuration), {})
        )
    finally:
        generator.stop()
    journal["exitplan"] = measurements(journal, configuration, generator, load_epoch)
    path = out / "journal.json"
    path.write_text(json.dumps(journal, indent=2, default=str))
    return journal, path
