"""`exitplan chaos run`: a Chaos Toolkit experiment through chaostoolkit-lib, against the
project's target, with the open-loop load generator running; the Chaos Toolkit journal gets
exitplan's measurements (`measurements.py`: requests sent/failed per activity, a fault's
impact, revoke -> recovered vs the RTO) and the production estimate.

The exitplan control (`chaos.control`, added when the experiment does not declare it) writes
the journal after every step, holds the target's lock, records the state rollbacks restore
and judges the experiment's claims; this runner adds the measurements once the run is over."""

from __future__ import annotations

import difflib
import importlib
import inspect
import logging
import math
import time
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chaoslib import substitute
from chaoslib.exceptions import ChaosException
from chaoslib.experiment import ensure_experiment_is_valid, run_experiment
from chaoslib.loader import load_experiment

from chaos.claims import check_claims
from runbooks.chaos_run.measurements import faulted_stack, measurements
from runbooks.chaos_run.rotation_watch import RotationWatch
from runbooks.drills.clean_start import require_clean_start
from runbooks.drills.lock import TargetLock
from runbooks.errors import RunbookError
from runbooks.load.background import BackgroundLoad
from runbooks.load.generator import metadata_inputs
from runbooks.reports.chaos import write_report
from runbooks.reports.journal import write_atomic
from runbooks.targets.target import project, target_for

SETTINGS: dict[str, Any] = {"runtime": {"rollbacks": {"strategy": "always"}}}

CONTROL = {"name": "exitplan-safety", "provider": {"type": "python", "module": "chaos.control"}}

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
    overrides = {"exitplan_project": str(options.root), "exitplan_target": options.target}
    experiment: dict[str, Any] = {}
    try:
        experiment = load_experiment(str(options.experiment))
        ensure_experiment_is_valid(experiment)
        configuration = {**(experiment.get("configuration") or {}), **overrides}
        check_claims(experiment, configuration)
    except ChaosException as exc:
        near = near_misses(experiment)
        raise RunbookError(
            f"{options.experiment}: {exc}", fix="; ".join(near) or "see chaostoolkit.org"
        ) from exc
    check_safety(options.experiment, experiment, configuration)
    experiment["configuration"] = dict(configuration)
    controls = experiment.setdefault("controls", [])
    if not any((c.get("provider") or {}).get("module") == "chaos.control" for c in controls):
        controls.append(CONTROL)
    check_stacks(options, experiment, configuration)
    check_arguments(options.experiment, experiment, configuration)
    return experiment, configuration


def near_misses(experiment: dict[str, Any]) -> list[str]:
    """For each exitplan activity (chaos.*) whose function its module does not have, the
    closest names it does have (review I3: `kil` got "see chaostoolkit.org", not `kill`)."""
    said = []
    probes = (experiment.get("steady-state-hypothesis") or {}).get("probes") or []
    for items in (experiment.get("method") or [], experiment.get("rollbacks") or [], probes):
        for item in items:
            provider = (item.get("provider") or {}) if isinstance(item, dict) else {}
            module, func = str(provider.get("module")), str(provider.get("func"))
            if not module.startswith("chaos."):
                continue
            try:
                names = list(getattr(importlib.import_module(module), "__all__", []))
            except ImportError:
                continue
            if func not in names:
                close = difflib.get_close_matches(func, names, n=2)
                if close:
                    said.append(f"{module} has no {func!r}: did you mean {' or '.join(close)}?")
    return said


# A weight as the stack files give one: a whole percentage; the listed weights add up to 100.
WEIGHT_RANGE = (0, 100)


def check_arguments(path: Path, experiment: dict[str, Any], configuration: dict[str, Any]) -> None:
    """Every argument of an exitplan activity (chaos.*) has the shape and type its function
    declares, after substitution, and listed weights are whole percentages adding up to 100,
    before anything runs (bad -> exit 2, each problem named). Review I3: a mapping for
    `weights`, `timeout: ten` or weights [-50, 150] failed mid-fault, after the primary was
    killed; I4: weights 70 + 70 ran."""
    problems = []
    for step in planned_activities(experiment, configuration):
        module, _, func = step["call"].rpartition(".")
        if not module.startswith("chaos."):
            continue  # another extension's: chaostoolkit's own checks only
        try:
            function = inspect.unwrap(getattr(importlib.import_module(module), func))
            hints = typing.get_type_hints(function)
        except (ImportError, AttributeError, NameError):
            continue  # chaostoolkit's validation names a missing module or function
        where = f"{step['phase']} activity {step['name']!r}"
        for name, value in step["arguments"].items():
            hint = hints.get(name)
            if hint is not None and not _fits(value, hint):
                problems.append(f"{where}: {name} {value!r} is not {_shape(hint)}")
            elif name == "weights" and isinstance(value, list):
                problems += [f"{where}: {p}" for p in _weight_problems(value)]
    if problems:
        raise RunbookError(
            f"{path}: " + "; ".join(problems),
            fix="give each argument the type the activity takes (chaos/<area>/actions.py, "
            "probes.py); weights as a list of {stack, weight} adding up to 100",
        )


def _fits(value: Any, hint: Any) -> bool:
    """Whether `value` (as YAML/JSON read it) is of the declared type; types this does not
    know are not checked."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return (
            isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
        )
    if hint is str:
        return isinstance(value, str)
    if origin is list:
        return isinstance(value, list) and all(_fits(v, args[0]) for v in value) if args else True
    if origin is dict or hint is dict:
        return isinstance(value, dict)
    return True


def _shape(hint: Any) -> str:
    names = {bool: "true or false", int: "a whole number", float: "a number", str: "a string"}
    if hint in names:
        return names[hint]
    if typing.get_origin(hint) is list:
        return "a list" + (" of mappings" if typing.get_args(hint)[:1] != (Any,) else "")
    return str(hint)


def _weight_problems(weights: list[dict[str, Any]]) -> list[str]:
    low, high = WEIGHT_RANGE
    found = []
    for item in weights:
        if set(item) != {"stack", "weight"}:
            found.append(f"weights item {item!r} is not {{stack, weight}}")
        elif not isinstance(item["weight"], int) or not low <= item["weight"] <= high:
            found.append(f"weight {item['weight']!r} of {item['stack']} is not {low} to {high}")
    if not found and sum(item["weight"] for item in weights) != 100:
        total = sum(item["weight"] for item in weights)
        found.append(f"weights add up to {total}, not 100")
    return found


def check_safety(path: Path, experiment: dict[str, Any], configuration: dict[str, Any]) -> None:
    """An experiment that tests something, with its safety lever in range (bad -> exit 2): a
    method with at least one activity (an empty one would PASS having done nothing), and a stop
    error rate (`exitplan_stop_error_rate`), when set, a share in (0, 1) (5 would switch the
    stop condition off without a word)."""
    if not experiment.get("method"):
        raise RunbookError(
            f"{path}: the experiment's method is empty: it would pass having tested nothing",
            fix="add the activities that inject the fault under method:",
        )
    limit = configuration.get("exitplan_stop_error_rate")
    if limit is None:
        return
    try:
        share = float(limit)
    except (TypeError, ValueError):
        share = float("nan")
    if not 0 < share < 1:  # NaN fails too
        raise RunbookError(
            f"{path}: configuration exitplan_stop_error_rate {limit!r} is not a share in (0, 1): "
            "the stop condition would never fire",
            fix="e.g. exitplan_stop_error_rate: 0.5 (stop when half the requests fail)",
        )


def check_stacks(
    options: ChaosOptions, experiment: dict[str, Any], configuration: dict[str, Any]
) -> None:
    """Every `stack` argument (after substitution) names a stack of the project (bad -> 2)."""
    known = project(options.root).stack_names()
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


def production_estimate(root: Path, stack: str) -> dict[str, Any] | None:
    """What the same outage would take behind the stacks' real DNS router: its health checks
    mark `stack` down after interval x failure threshold, and clients keep the old answer for
    up to the record's TTL (longer where resolvers or clients cache beyond it). None when no
    router routes to `stack`."""
    from components.rto import dns_outage_estimate

    proj = project(root)
    routers = (proj.stack(name).traffic for name in proj.stack_names())
    traffic = next((t for t in routers if t is not None and stack in t.stacks), None)
    return None if traffic is None else dns_outage_estimate(traffic)


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


def refuse_if_locked(options: ChaosOptions, title: str) -> None:
    """Refuse (TargetLocked, exit 2, as a drill is refused) while another run holds the
    target, before anything is written or started: the run itself takes the lock in its
    control (`chaos.control`, also under upstream `chaos run`); refused there, it ended as an
    `interrupted` run with a journal and a report, exit 1 (review U8)."""
    lock = TargetLock(options.target, options.root, f"chaos run {title!r}")
    lock.acquire()
    lock.release()


class _NotExplicitRollbacks(logging.Filter):
    """Drops chaostoolkit's warning that rollbacks were requested: exitplan always plays them
    (its settings), and the line on every run's stderr read like a problem (review U8)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "explicitly requested to be played" not in record.getMessage()


def run(options: ChaosOptions) -> tuple[dict[str, Any], Path]:
    """Run the experiment with load running; write journal.json; return (journal, path)."""
    experiment, configuration = load(options)
    name = options.experiment.stem
    refuse_if_locked(options, str(experiment.get("title", name)))
    out = options.out or (
        options.root / ".exitplan" / "chaos" / f"{time.strftime('%Y%m%dT%H%M%S')}-{name}"
    )
    out.mkdir(parents=True, exist_ok=True)
    target = target_for(options.target, options.root, router=configuration.get("exitplan_router"))
    require_clean_start(project(options.root), target, f"the chaos run {name}")
    model = project(options.root).stack(target.stacks()[0]).spec.triton.models[0].name
    wait_for_front_door(target.endpoint(), model)
    generator = BackgroundLoad(target, model, options.load_rate, LOAD_MAX_S, out / "load")
    generator.start()
    load_epoch = time.time() - generator.now()
    path = out / "journal.json"
    # the control writes the journal there after every step; the stop condition reads the
    # running load instead of sending bursts of its own
    configuration.update(
        exitplan_journal=str(path), exitplan_load_records=str(generator.records_file)
    )
    experiment["configuration"].update(configuration)
    watch = RotationWatch(target, ROTATION_POLL_S.get(target.kind, 5.0))
    watch.start()
    quiet = _NotExplicitRollbacks()
    logging.getLogger("chaostoolkit").addFilter(quiet)
    try:
        journal: dict[str, Any] = run_experiment(
            experiment, settings=SETTINGS, experiment_vars=(dict(configuration), {})
        )
    finally:
        logging.getLogger("chaostoolkit").removeFilter(quiet)
        generator.stop()
        rotation = watch.stop()
    journal["exitplan"] = {
        **(journal.get("exitplan") or {}),
        "target": target.kind,
        **measurements(journal, configuration, generator, load_epoch, rotation),
    }
    stack = faulted_stack(journal, configuration)
    if stack is not None:
        journal["exitplan"]["production_estimate"] = production_estimate(options.root, stack)
    write_atomic(path, journal)
    write_report(journal, out)
    return journal, path
