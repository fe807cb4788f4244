"""exitplan's control for Chaos Toolkit (declared in each experiment's `controls`, so it runs
under `exitplan chaos run` and the upstream `chaos run` alike):

- the journal of the run on disk after every step (`chaos/recording.py`), so that a killed run
  can be undone with `exitplan chaos rollback JOURNAL`;
- before the experiment, refuse unless every stack an activity names (an argument `stack`, at
  any depth, after substitution) is marked drillable, and unless the target can do every
  operation the activities declare; then take the target's lock (one run at a time per target:
  a run refused changes nothing, and its rollbacks are skipped) and record the target's state
  (weights, health, credentials) that rollbacks restore;
- the experiment's claims: every method activity that states a `tolerance` is judged right
  after it ran (`chaos/claims.py`); a claim not met marks the run deviated (exit 1 under both
  CLIs);
- the stop condition: after each activity of the method, when the configuration sets
  `exitplan_stop_error_rate`, take the error rate through the front door over the last
  `exitplan_stop_window_s` seconds (default 1) and interrupt the method when it is over the
  limit: the experiment ends `interrupted` and its rollbacks run. Under `exitplan chaos run`
  the rate is read from the running load's records (`exitplan_load_records`, set by it: no
  extra traffic; after an action, over the window that follows it); otherwise a burst of that
  length is sent and measured."""

import logging
import time
from pathlib import Path
from typing import Any

from chaoslib import substitute
from chaoslib.exceptions import InterruptExecution
from chaoslib.types import Activity, Configuration, Experiment, Journal, Run, Secrets

from chaos import claims, recording
from chaos.target import require_drillable, require_operations, resolve
from chaos.traffic.probes import error_rate_through_front_door
from runbooks.drills.lock import TargetLock, TargetLocked
from runbooks.load.generator import recent_error_rate

__all__ = [
    "after_activity_control",
    "after_experiment_control",
    "after_method_control",
    "before_experiment_control",
    "before_method_control",
    "before_rollback_control",
    "cleanup_control",
    "configure_control",
    "named_stacks",
    "stop_condition",
]
logger = logging.getLogger("chaostoolkit")
# The phase the run is in: claims are judged in the method; the stop condition watches the
# method (armed), never the hypothesis or the rollbacks.
_RUN: dict[str, Any] = {"in_method": False, "stop_armed": False, "lock": None}


def _stacks_in(value: Any) -> list[str]:
    """Every `stack` value at any depth of an activity's arguments."""
    found: list[str] = []
    if isinstance(value, dict):
        for key, item in value.items():
            found += [str(item)] if key == "stack" and item is not None else _stacks_in(item)
    elif isinstance(value, list):
        for item in value:
            found += _stacks_in(item)
    return found


def named_stacks(experiment: Experiment, configuration: Configuration = None) -> list[str]:
    """Every stack an activity of the experiment names (an argument `stack`, at any depth:
    the weights of `set_weights` too), after substitution, in order of first mention."""
    activities = [
        *(experiment.get("steady-state-hypothesis") or {}).get("probes", []),
        *experiment.get("method", []),
        *experiment.get("rollbacks", []),
    ]
    stacks: list[str] = []
    for item in activities:
        arguments = ((item.get("provider") or {}).get("arguments")) or {}
        for stack in _stacks_in(substitute(arguments, configuration or {}, {})):
            if stack not in stacks:
                stacks.append(stack)
    return stacks


def configure_control(
    configuration: Configuration = None,
    experiment: Experiment = None,
    event_registry: Any = None,
    **kwargs: Any,
) -> None:
    """The run is about to start: its journal is recorded after every step from now on."""
    _RUN.update(in_method=False, stop_armed=False, lock=None)
    run = recording.start(configuration, experiment or {})
    if event_registry is not None:
        event_registry.register(run)


def _take_lock(experiment: Experiment, configuration: Configuration) -> None:
    """Hold the target's lock for the run (released by `cleanup_control`)."""
    from runbooks.targets.target import project

    kind = str((configuration or {}).get("exitplan_target", "sandbox"))
    root = project((configuration or {}).get("exitplan_project")).root
    title = str(experiment.get("title", "experiment"))
    lock = TargetLock(kind, root, f"chaos run {title!r}", notice=logger.warning)
    try:
        lock.acquire()
    except TargetLocked as exc:
        # the cause, then its fix once (str(exc) holds both: the fix was printed twice, U8)
        raise InterruptExecution(f"refusing to run: {exc.cause} (fix: {exc.fix})") from exc
    _RUN["lock"] = lock


def before_experiment_control(
    context: Experiment,
    configuration: Configuration = None,
    secrets: Secrets = None,
    **kwargs: Any,
) -> None:
    """Interrupt the run (status `interrupted`) when a named stack is not drillable, the
    target lacks an operation an activity needs, or another run holds the target; else hold
    the target's lock and record its state before anything changes."""
    require_drillable(named_stacks(context, configuration), configuration)
    require_operations(context, configuration)
    _take_lock(context, configuration)
    run = recording.current()
    if run is not None:
        run.record_before(resolve(configuration), configuration)


def before_method_control(context: Experiment, **kwargs: Any) -> None:
    """The method starts: claims are judged and the stop condition is armed."""
    _RUN.update(in_method=True, stop_armed=True)


def after_method_control(context: Experiment, **kwargs: Any) -> None:
    """The method is over: no more claims, the stop condition is disarmed."""
    _RUN.update(in_method=False, stop_armed=False)


def before_rollback_control(context: Experiment, **kwargs: Any) -> None:
    """Skip the rollbacks of a run that was refused before it held the target: it changed
    nothing, and another run may be changing the target now."""
    run = recording.current()
    if run is not None and not run.holds_target:
        raise InterruptExecution("no rollback: the run was refused before it changed anything")


def stop_condition(configuration: Configuration = None, after_action: bool = True) -> str | None:
    """Why the method must stop now (the error rate over the window is over the limit), or
    None; nothing is measured when no limit is configured. After an action (a change) the
    window is the one that follows it; after a probe, the one that just passed."""
    configuration = configuration or {}
    limit = configuration.get("exitplan_stop_error_rate")
    if limit is None:
        return None
    window = float(configuration.get("exitplan_stop_window_s", 1.0))
    records = configuration.get("exitplan_load_records")
    if records and after_action:
        time.sleep(window)  # let the load show what the change did
    rate = recent_error_rate(Path(records), window) if records else None
    if rate is None:  # no background load (upstream `chaos run`) or it finished nothing
        rate = error_rate_through_front_door(seconds=window, configuration=configuration)
    if rate <= float(limit):
        return None
    return (
        f"stop condition: {rate:.0%} of requests through the front door failed over "
        f"{window:g} s (limit {float(limit):.0%}); stopping the method, rolling back"
    )


def _judge(state: Run | None, configuration: Configuration, secrets: Secrets) -> None:
    """Judge a method activity's claim and keep it in the journal."""
    claim = claims.judge(state or {}, configuration, secrets)
    run = recording.current()
    if claim is None or run is None or run.journal is None:
        return
    run.exitplan.setdefault("claims", []).append(claim)
    if not claim["met"]:
        logger.error(f"claim {claim['name']!r} not met: output {claim['output']!r}")
    run.save()


def after_activity_control(
    context: Activity,
    state: Run | None = None,
    configuration: Configuration = None,
    secrets: Secrets = None,
    **kwargs: Any,
) -> None:
    """Judge the claim of a method activity; interrupt the method (status `interrupted`;
    rollbacks run) when the stop condition holds."""
    if _RUN["in_method"]:
        _judge(state, configuration, secrets)
    if not _RUN["stop_armed"]:
        return
    try:
        reason = stop_condition(configuration, after_action=context.get("type") == "action")
    except Exception as exc:  # fail safe: a stop condition that cannot be measured stops
        reason = f"stop condition could not be measured ({exc}); stopping the method"
    if reason is not None:
        _RUN["stop_armed"] = False
        raise InterruptExecution(reason)


def after_experiment_control(context: Experiment, state: Journal = None, **kwargs: Any) -> None:
    """The run is over: a claim not met makes it deviated (exit 1 under both CLIs)."""
    if state is not None:
        claims.mark_deviated(state)
    run = recording.current()
    if run is not None:
        run.save()


def cleanup_control() -> None:
    """Give the target's lock back (the run is over, however it ended)."""
    lock = _RUN["lock"]
    _RUN.update(in_method=False, stop_armed=False, lock=None)
    if lock is not None:
        lock.release()
