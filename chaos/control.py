"""exitplan's safety controls for Chaos Toolkit:

- before the experiment, refuse unless every stack an activity names (argument `stack`, after
  substitution) is marked drillable, and unless the target can do every operation the
  activities declare (one refusal listing each missing operation with the target's reason);
- the stop condition: after each activity of the method, when the configuration sets
  `exitplan_stop_error_rate`, take the error rate through the front door over the last
  `exitplan_stop_window_s` seconds (default 1) and interrupt the method when it is over the
  limit: the experiment ends `interrupted` and its rollbacks run. Under `exitplan chaos run`
  the rate is read from the running load's records (`exitplan_load_records`, set by it: no
  extra traffic; after an action, over the window that follows it); otherwise a burst of that
  length is sent and measured."""

import time
from pathlib import Path
from typing import Any

from chaoslib import substitute
from chaoslib.exceptions import InterruptExecution
from chaoslib.types import Activity, Configuration, Experiment, Run, Secrets

from chaos.target import require_drillable, require_operations
from chaos.traffic.probes import error_rate_through_front_door
from runbooks.load.generator import recent_error_rate

__all__ = [
    "after_activity_control",
    "after_method_control",
    "before_experiment_control",
    "before_method_control",
    "named_stacks",
    "stop_condition",
]
# Whether the method is running: the stop condition watches the method, never the rollbacks.
_IN_METHOD = {"now": False}


def named_stacks(experiment: Experiment, configuration: Configuration = None) -> list[str]:
    """Every stack an activity of the experiment names, in order of first mention."""
    activities = [
        *(experiment.get("steady-state-hypothesis") or {}).get("probes", []),
        *experiment.get("method", []),
        *experiment.get("rollbacks", []),
    ]
    stacks: list[str] = []
    for item in activities:
        stack = ((item.get("provider") or {}).get("arguments") or {}).get("stack")
        if stack is not None:
            stack = str(substitute(stack, configuration or {}, {}))
            if stack not in stacks:
                stacks.append(stack)
    return stacks


def before_experiment_control(
    context: Experiment,
    configuration: Configuration = None,
    secrets: Secrets = None,
    **kwargs: Any,
) -> None:
    """Interrupt the run (status `interrupted`) when a named stack is not drillable, or the
    target lacks an operation an activity needs."""
    require_drillable(named_stacks(context, configuration), configuration)
    require_operations(context, configuration)


def before_method_control(context: Experiment, **kwargs: Any) -> None:
    """The method starts: the stop condition is armed."""
    _IN_METHOD["now"] = True


def after_method_control(context: Experiment, **kwargs: Any) -> None:
    """The method is over: the stop condition is disarmed."""
    _IN_METHOD["now"] = False


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


def after_activity_control(
    context: Activity,
    state: Run | None = None,
    configuration: Configuration = None,
    secrets: Secrets = None,
    **kwargs: Any,
) -> None:
    """Interrupt the method (status `interrupted`; rollbacks run) when the stop condition holds."""
    if not _IN_METHOD["now"]:
        return
    try:
        reason = stop_condition(configuration, after_action=context.get("type") == "action")
    except Exception as exc:  # fail safe: a stop condition that cannot be measured stops
        reason = f"stop condition could not be measured ({exc}); stopping the method"
    if reason is not None:
        _IN_METHOD["now"] = False
        raise InterruptExecution(reason)
